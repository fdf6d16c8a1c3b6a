"""API latency and requests/s under load against a live `boda serve`, and the floor of its stack.

Run: .venv/bin/python bench/api_load.py [--quick] [--requests 500] [--levels 1,8,32]
Prints figures; asserts nothing. Ends by itself (a fixed number of requests per endpoint and level).

What it does:
- starts `boda serve --port P` as a subprocess on 127.0.0.1 with a fresh data folder in a temp
  dir (BODA_DATA_DIR; BODA_CONFIG is empty, so no boda.toml is read): SQLite, local
  blobs, the in-process job worker, exactly as `make run` serves;
- creates a user and an API token with the `boda` CLI, stores a photo (POST /vision/anonymize of
  tests/fixtures/faces/astronaut.jpg), an MNIST digit and a page of finished jobs through the API;
- drives each endpoint at concurrency 1, 8 and 32 with a small asyncio HTTP/1.1 client written
  here (one keep-alive connection per concurrent caller, requests prebuilt as bytes), and prints
  req/s, p50, p99, errors, and the CPU the server and the client used;
- drives a bare Starlette app and a bare FastAPI app, served by uvicorn with the same defaults as
  `boda serve` (same venv, asyncio loop, access log on), with the same client: the floor of the
  stack, so Boda's own overhead reads as a ratio. Those runs also bound the client's own cost
  (its CPU per request is printed in every row).
- reads the server log afterwards and prints every traceback (e.g. SQLite "database is locked").

The server and the client share this machine's cores: on 2 cores the figures are a lower bound
of what the server does alone. `bench/uploads.py` reuses the helpers below.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BODA = BIN / "boda"
FIXTURES = ROOT / "tests" / "fixtures" / "faces"
HOST = "127.0.0.1"  # the only target this benchmark ever talks to
USER, PASSWORD = "bench", "bench-password-1"
PACKAGES = ("boda", "fastapi", "starlette", "uvicorn", "h11", "httptools", "uvloop", "anyio", "sqlalchemy",
            "pillow", "numpy", "onnxruntime", "python-multipart")


# --- the machine -------------------------------------------------------------

def machine_report() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:", 1)[1].split()[0])
        mem = f"{kb / 1024 / 1024:.1f} GiB"
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = []
    for name in PACKAGES:
        try:
            versions.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            versions.append(f"{name} -")
    load = os.getloadavg()[0]
    busy = "  <- busy: other work shares these cores, expect noisy figures" if load > 0.5 * (usable or 1) else ""
    return (f"machine: {usable} usable cores of {os.cpu_count()} ({cpu}), {mem} RAM, {platform.platform()}\n"
            f"load average at start: {load:.2f}{busy}\n"
            f"python:  {platform.python_implementation()} {platform.python_version()}\n"
            f"packages: {', '.join(versions)}")


# --- servers -----------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _raise_interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def install_signal_handlers() -> None:
    """SIGTERM and SIGHUP unwind like Ctrl-C, so every `finally` stops servers and removes temp dirs."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_interrupt)


class Server:
    """A server subprocess in its own process group, logging to a file; stopped on exit."""

    def __init__(self, name: str, argv: Sequence[str], *, port: int, env: dict[str, str], log: Path,
                 cwd: Path | None = None) -> None:
        self.name, self.port, self.log = name, port, log
        self._log_file = log.open("wb")
        self.proc = subprocess.Popen(list(argv), env=env, cwd=cwd, stdout=self._log_file,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError), \
                    urllib.request.urlopen(f"http://{HOST}:{self.port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer /healthz in {timeout:.0f}s:\n{self.log_tail()}")

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process so far (all its threads)."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def log_text(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def stop(self) -> None:
        """SIGINT to its group (uvicorn shuts down cleanly), SIGKILL after 15 s."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if not self._log_file.closed:
            self._log_file.close()


class BodaInstance:
    """A data folder, a `boda serve` on it, and a user with an API token made by the CLI."""

    def __init__(self, workdir: Path, *, extra_env: dict[str, str] | None = None) -> None:
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BODA_")}
        self.env.update({"BODA_DATA_DIR": str(self.data_dir), "BODA_CONFIG": "",
                         **(extra_env or {})})
        self.cli("user", "create", USER, "--password", PASSWORD)  # also migrates the fresh database
        self.token = self._token()
        self.port = free_port()
        self.server = Server("boda serve", [str(BODA), "serve", "--port", str(self.port)], port=self.port,
                             env=self.env, log=workdir / "boda-serve.log", cwd=workdir)

    def cli(self, *args: str) -> str:
        done = subprocess.run([str(BODA), *args], env=self.env, capture_output=True, text=True, timeout=120,
                              cwd=self.data_dir.parent)
        if done.returncode != 0:
            raise RuntimeError(f"boda {' '.join(args)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return done.stdout

    def _token(self) -> str:
        found = re.findall(r"boda_[A-Za-z0-9_\-]{20,}", self.cli("user", "token", USER))
        if not found:
            raise RuntimeError("`boda user token` printed no token")
        return found[-1]

    def api(self, method: str, path: str, *, body: bytes | None = None, content_type: str | None = None,
            timeout: float = 120) -> tuple[int, bytes]:
        """One plain request (setup, not measured)."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if content_type:
            headers["Content-Type"] = content_type
        req = urllib.request.Request(f"http://{HOST}:{self.port}{path}", data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def api_json(self, method: str, path: str, **kw: object) -> dict[str, object]:
        status, data = self.api(method, path, **kw)  # type: ignore[arg-type]
        if status >= 400:
            raise RuntimeError(f"{method} {path}: {status} {data[:500]!r}")
        return json.loads(data)  # type: ignore[no-any-return]

    def stop(self) -> None:
        self.server.stop()


def server_problems(log: str) -> tuple[Counter[str], list[str]]:
    """Counts of worrying lines in a server log, and every traceback in it."""
    needles = ("Traceback", "database is locked", "OperationalError", "QueuePool limit", "TimeoutError",
               '" 500', '" 503', "ERROR")
    counts = Counter({n: log.count(n) for n in needles if n in log})
    tracebacks, current = [], []
    for line in log.splitlines():
        if line.startswith("Traceback"):
            current = [line]
        elif current:
            current.append(line)
            if line and not line.startswith((" ", "\t", "Traceback", "During handling", "The above")) \
                    and not line.startswith("+") and not line.startswith("|"):
                tracebacks.append("\n".join(current))
                current = []
    if current:
        tracebacks.append("\n".join(current))
    return counts, tracebacks


def report_server_log(server: Server) -> None:
    counts, tracebacks = server_problems(server.log_text())
    if not counts:
        print(f"{server.name} log ({server.log.name}): no tracebacks, no 5xx, no 'database is locked'.")
        return
    print(f"{server.name} log: {dict(counts)}")
    distinct: dict[str, int] = {}
    for tb in tracebacks:
        last = tb.splitlines()[-1]
        distinct[last] = distinct.get(last, 0) + 1
    for last, times in distinct.items():
        print(f"  {times} x {last}")
    if tracebacks:
        print("first traceback, as the server logged it:")
        print("\n".join("  | " + line for line in tracebacks[0].splitlines()[-60:]))


# --- requests as bytes ---------------------------------------------------------

def http_request(method: str, path: str, *, port: int, token: str | None = None, body: bytes = b"",
                 content_type: str | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "User-Agent: boda-bench", "Accept: */*"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    if body or method in ("POST", "PUT", "PATCH"):
        lines += [f"Content-Type: {content_type or 'application/octet-stream'}", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    """A multipart/form-data body and its content type."""
    boundary = "boda-bench-7d1f0c4b9e"
    parts: list[bytes] = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data, ctype) in files.items():
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                f"Content-Type: {ctype}\r\n\r\n").encode()
        parts.append(head + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# --- the load generator --------------------------------------------------------

@dataclass
class Target:
    name: str
    request: bytes
    expect: int = 200


@dataclass
class Result:
    name: str
    concurrency: int
    n: int
    wall: float
    latencies_ms: list[float]
    statuses: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    response_bytes: int = 0

    @property
    def rps(self) -> float:
        return self.n / self.wall if self.wall else 0.0

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]  # nearest rank


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head[:-4].split(b"\r\n")
    status = int(status_line.split(b" ", 2)[1])
    headers: dict[bytes, bytes] = {}
    for line in header_lines:
        key, _, value = line.partition(b":")
        headers[key.strip().lower()] = value.strip()
    keep_alive = headers.get(b"connection", b"").lower() != b"close"
    if b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass
                break
            chunks.append((await reader.readexactly(size + 2))[:-2])
        body = b"".join(chunks)
    else:
        body, keep_alive = await reader.read(), False
    return status, body, keep_alive


async def _caller(port: int, target: Target, todo: list[int], result: Result, timeout: float) -> None:
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    try:
        while todo[0] > 0:
            todo[0] -= 1
            start = time.perf_counter()
            try:
                if conn is None:
                    conn = await asyncio.open_connection(HOST, port)
                reader, writer = conn
                writer.write(target.request)
                status, body, keep_alive = await asyncio.wait_for(_read_response(reader), timeout)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                    ValueError) as exc:
                result.errors += 1
                result.statuses[type(exc).__name__] += 1
                if len(result.error_samples) < 3:
                    result.error_samples.append(f"{type(exc).__name__}: {exc}")
                if conn is not None:
                    conn[1].close()
                conn = None
                continue
            result.latencies_ms.append((time.perf_counter() - start) * 1000)
            result.statuses[str(status)] += 1
            result.response_bytes += len(body)
            if status != target.expect:
                result.errors += 1
                if len(result.error_samples) < 3:
                    result.error_samples.append(f"{status}: {body[:300]!r}")
            if not keep_alive:
                conn[1].close()
                conn = None
    finally:
        if conn is not None:
            conn[1].close()


async def _drive(port: int, target: Target, n: int, concurrency: int, timeout: float) -> Result:
    result = Result(target.name, concurrency, n, 0.0, [])
    todo = [n]
    start = time.perf_counter()
    await asyncio.gather(*(_caller(port, target, todo, result, timeout) for _ in range(concurrency)))
    result.wall = time.perf_counter() - start
    return result


def run_load(server: Server, target: Target, *, n: int, concurrency: int, warmup: int | None = None,
             timeout: float = 60.0) -> Result:
    """`n` requests with `concurrency` callers (after a short warm-up); latencies of each."""
    warmup = max(30, 2 * concurrency) if warmup is None else warmup
    if warmup:
        asyncio.run(_drive(server.port, target, warmup, concurrency, timeout))
    cpu0, srv0 = time.process_time(), server.cpu_seconds()
    result = asyncio.run(_drive(server.port, target, n, concurrency, timeout))
    result.client_cpu = time.process_time() - cpu0
    result.server_cpu = server.cpu_seconds() - srv0
    return result


HEADER = (f"{'endpoint':<34} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6}"
          f" {'srv CPU':>7} {'cli CPU':>7} {'cli us/req':>10}")


def row(r: Result) -> str:
    srv = r.server_cpu / r.wall * 100 if r.wall else 0
    cli = r.client_cpu / r.wall * 100 if r.wall else 0
    return (f"{r.name:<34} {r.concurrency:>4} {r.rps:>8.1f} {r.pct(0.5):>8.2f} {r.pct(0.99):>8.2f} {r.errors:>6}"
            f" {srv:>6.0f}% {cli:>6.0f}% {r.client_cpu / max(1, r.n) * 1e6:>10.0f}")


def print_errors(results: Sequence[Result]) -> None:
    for r in results:
        if r.errors:
            print(f"  {r.name} at {r.concurrency}: {dict(r.statuses)}; e.g. {r.error_samples[0]}")


# --- the floor: bare apps served the same way ------------------------------------

HELLO_APP = '''"""The floor of Boda's stack: the smallest apps, served by the same uvicorn."""
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route


async def healthz(request):
    return JSONResponse({"status": "ok"})


starlette_app = Starlette(routes=[Route("/healthz", healthz)])
fastapi_app = FastAPI()


@fastapi_app.get("/healthz")
def fastapi_healthz() -> dict[str, str]:  # a sync def, as Boda's /healthz: runs in the thread pool
    return {"status": "ok"}
'''


@contextlib.contextmanager
def hello_server(workdir: Path, app: str) -> Iterator[Server]:
    (workdir / "hello_app.py").write_text(HELLO_APP)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BODA_")}
    server = Server(f"uvicorn hello_app:{app}",
                    [sys.executable, "-m", "uvicorn", f"hello_app:{app}", "--app-dir", str(workdir),
                     "--host", HOST, "--port", str(port)],
                    port=port, env=env, log=workdir / f"{app}.log", cwd=workdir)
    try:
        yield server
    finally:
        server.stop()


# --- Boda's endpoints ----------------------------------------------------------------

def seed(boda: BodaInstance, jobs: int) -> dict[str, object]:
    """A stored photo, a stored digit, and `jobs` finished jobs, all through the API."""
    photo = (FIXTURES / "astronaut.jpg").read_bytes()
    body, ctype = multipart({"method": "box"}, {"file": ("astronaut.jpg", photo, "image/jpeg")})
    original = boda.api_json("POST", "/api/v1/vision/anonymize", body=body, content_type=ctype)["original"]
    sample = boda.api_json("POST", "/api/v1/vision/mnist-sample", body=b'{"index": 0}',
                           content_type="application/json")
    _, digit_png = boda.api("GET", sample["image"]["url"])  # type: ignore[index]
    for _ in range(jobs):
        boda.api_json("POST", "/api/v1/vision/anonymize/batch", body=body.replace(b'name="file"', b'name="files"'),
                      content_type=ctype)
    deadline = time.monotonic() + 180
    while jobs and time.monotonic() < deadline:
        open_jobs = boda.api_json("GET", "/api/v1/jobs?status=queued&status=running&limit=1")["total"]
        if not open_jobs:
            break
        time.sleep(0.5)
    listed = boda.api_json("GET", "/api/v1/jobs?limit=200")
    return {"file": original, "digit_png": digit_png, "digit_label": sample["label"],
            "jobs": listed["total"], "job_statuses": Counter(j["status"] for j in listed["items"])}  # type: ignore[index, union-attr]


def boda_targets(boda: BodaInstance, seeded: dict[str, object]) -> list[Target]:
    port, token = boda.port, boda.token
    file = seeded["file"]
    digits_body, digits_type = multipart({}, {"file": ("digit.png", seeded["digit_png"], "image/png")})  # type: ignore[dict-item]
    sample_body = b'{"index": 7, "add_noise": true}'  # no seed: a new PNG, a new blob and a new row each time
    return [
        Target("GET /healthz", http_request("GET", "/healthz", port=port)),
        Target("GET /api/v1/users/me", http_request("GET", "/api/v1/users/me", port=port, token=token)),
        Target(f"GET /api/v1/jobs ({seeded['jobs']} jobs)",
               http_request("GET", "/api/v1/jobs", port=port, token=token)),
        Target(f"GET /files/{{id}}/content ({file['size'] // 1024} KB)",  # type: ignore[index]
               http_request("GET", file["url"], port=port, token=token)),  # type: ignore[index]
        Target("POST /api/v1/vision/digits", http_request("POST", "/api/v1/vision/digits", port=port, token=token,
                                                          body=digits_body, content_type=digits_type)),
        Target("POST /vision/mnist-sample (write)",
               http_request("POST", "/api/v1/vision/mnist-sample", port=port, token=token, body=sample_body,
                            content_type="application/json")),
    ]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 requests per endpoint and level, fewer jobs")
    parser.add_argument("--requests", type=int, help="requests per endpoint and level (default 500, quick 100)")
    parser.add_argument("--levels", default="1,8,32", help="concurrency levels (default 1,8,32)")
    parser.add_argument("--jobs", type=int, help="finished jobs to list (default 60, quick 10)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (data and server logs)")
    args = parser.parse_args(argv)
    n = args.requests or (100 if args.quick else 500)
    levels = [int(x) for x in args.levels.split(",")]
    install_signal_handlers()

    print(machine_report())
    print(f"load: {n} requests per endpoint and level, concurrency {levels}, one keep-alive connection per"
          f" caller, client = asyncio in this process; server = one `boda serve` process (SQLite, local blobs)\n")
    workdir = Path(tempfile.mkdtemp(prefix="boda-bench-api-"))
    results: list[Result] = []
    floor: dict[tuple[str, int], Result] = {}
    boda: BodaInstance | None = None
    try:
        started = time.perf_counter()
        boda = BodaInstance(workdir / "boda")
        print(f"boda serve up on {HOST}:{boda.port} in {time.perf_counter() - started:.1f}s"
              f" (including `boda user create` and `boda user token`)")
        seeded = seed(boda, args.jobs if args.jobs is not None else (10 if args.quick else 60))
        print(f"seeded: {seeded['jobs']} jobs {dict(seeded['job_statuses'])}, one {seeded['file']['size']}-byte"  # type: ignore[index]
              f" JPEG, MNIST digit #0 (label {seeded['digit_label']}) as a"
              f" {len(seeded['digit_png'])}-byte PNG; server RSS {boda.server.rss_mb():.0f} MB\n")  # type: ignore[arg-type]
        print(HEADER)
        for target in boda_targets(boda, seeded):
            for level in levels:
                r = run_load(boda.server, target, n=n, concurrency=level)
                results.append(r)
                print(row(r), flush=True)
        print(f"server RSS after the load: {boda.server.rss_mb():.0f} MB")
        answer = json.loads(_one(boda.server.port, boda_targets(boda, seeded)[4].request))
        print(f"digits answered {answer['text']!r} (confidence {answer['confidence']:.3f}) for MNIST #0,"
              f" label {seeded['digit_label']}")
        boda.stop()
        report_server_log(boda.server)

        print("\nthe floor: bare apps, same uvicorn defaults, same client")
        print(HEADER)
        for app in ("starlette_app", "fastapi_app"):
            with hello_server(workdir, app) as hello:
                target = Target(f"GET /healthz ({app.split('_')[0]} hello)",
                                http_request("GET", "/healthz", port=hello.port))
                for level in levels:
                    r = run_load(hello, target, n=n, concurrency=level)
                    floor[(app, level)] = r
                    print(row(r), flush=True)
        print_errors(results + list(floor.values()))

        print("\nratio against the alternative: Boda's GET /healthz against the bare apps (req/s; p50)")
        for level in levels:
            mine = next(r for r in results if r.name == "GET /healthz" and r.concurrency == level)
            for app in ("starlette_app", "fastapi_app"):
                base = floor[(app, level)]
                print(f"  concurrency {level:>2}: Boda {mine.rps:7.1f} req/s vs {app.split('_')[0]:<9}"
                      f" {base.rps:7.1f} req/s = {mine.rps / base.rps:5.2f}x;"
                      f" p50 {mine.pct(0.5):6.2f} vs {base.pct(0.5):6.2f} ms = {mine.pct(0.5) / base.pct(0.5):5.2f}x")
        print("each endpoint's p50 at concurrency 1 against Boda's /healthz (what the endpoint itself adds):")
        base1 = next(r for r in results if r.name == "GET /healthz" and r.concurrency == min(levels))
        for r in results:
            if r.concurrency == min(levels) and r.name != "GET /healthz":
                print(f"  {r.name:<40} +{r.pct(0.5) - base1.pct(0.5):6.2f} ms")
        client = [r.client_cpu / r.n * 1e6 for r in floor.values() if r.n]
        if client:
            print(f"client's own cost: {min(client):.0f}-{max(client):.0f} us CPU per request against the bare apps"
                  f" (in the 'cli us/req' column for every row)")
    finally:
        if boda is not None:
            boda.stop()
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _one(port: int, request: bytes) -> bytes:
    async def go() -> bytes:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            writer.write(request)
            return (await _read_response(reader))[1]
        finally:
            writer.close()

    return asyncio.run(go())


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, temp files removed", file=sys.stderr)
        sys.exit(130)
