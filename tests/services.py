"""Real servers for the test suite: PostgreSQL, Redis, Azurite, and where Chromium is.

Each context manager starts its server on a free port of 127.0.0.1, with its files in a
fresh folder, waits until it answers, yields how to connect, and stops it on exit.
`bash scripts/install-test-services.sh` installs what they run. A server that is missing
or does not come up raises `ServiceError`, with the end of its log: the tests that need
it then fail (they are never skipped).

    with postgres_server(tmp) as url:      # postgresql+psycopg://boda@127.0.0.1:PORT/boda
    with redis_server(tmp) as url:         # redis://127.0.0.1:PORT/0
    with azurite_server(tmp) as conn_str:  # Azure Storage connection string (devstoreaccount1)
    with pgvector_server() as url:         # PostgreSQL 16 + pgvector (PyPI pgserver), over a socket
    chromium_path()                        # "/usr/bin/chromium" or None
"""

from __future__ import annotations

import contextlib
import functools
import glob
import http.client
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
INSTALL_HINT = "run `bash scripts/install-test-services.sh` (it installs the test services)"

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
PORT_ATTEMPTS = 3

# Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

_PORT_IN_USE = re.compile(r"address already in use|EADDRINUSE", re.IGNORECASE)


class ServiceError(RuntimeError):
    """A test service is missing, or did not start or stop."""


class _PortInUse(ServiceError):
    """The chosen port was taken before the server bound it: try another one."""


# --- helpers ----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"(no log at {path}: {e})"
    tail = text.splitlines()[-lines:]
    return "\n".join(tail) if tail else f"(log {path} is empty)"


def _fail(what: str, log: Path) -> ServiceError:
    tail = log_tail(log)
    cls = _PortInUse if _PORT_IN_USE.search(tail) else ServiceError
    return cls(f"{what}\n--- last lines of {log} ---\n{tail}")


def wait_until(
    ready: Callable[[], bool],
    *,
    what: str,
    log: Path,
    proc: subprocess.Popen[bytes] | None = None,
    timeout: float = START_TIMEOUT_S,
) -> None:
    """Poll `ready()` until it is true; raise ServiceError (with the log's tail) if the
    process exits first or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        if ready():
            return
        if proc is not None and proc.poll() is not None:
            raise _fail(f"{what} exited with status {proc.returncode} before it was ready", log)
        if time.monotonic() > deadline:
            raise _fail(f"{what} not ready after {timeout:.0f} s", log)
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def _run(cmd: list[str], *, what: str, log: Path, cwd: Path, timeout: float) -> None:
    """Run a command, appending its output to `log`; ServiceError if it fails."""
    with log.open("ab") as out:
        out.write(f"$ {' '.join(cmd)}\n".encode())
        out.flush()
        try:
            rc = subprocess.run(
                cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, timeout=timeout, check=False
            ).returncode
        except subprocess.TimeoutExpired:
            raise _fail(f"{what}: timed out after {timeout:.0f} s", log) from None
        except OSError as e:
            raise ServiceError(f"{what}: cannot run {cmd[0]}: {e}; {INSTALL_HINT}") from e
    if rc != 0:
        raise _fail(f"{what}: `{' '.join(cmd)}` exited with status {rc}", log)


def _stop(proc: subprocess.Popen[bytes], what: str) -> None:
    """SIGTERM the server, then SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue
    raise ServiceError(f"{what} (pid {proc.pid}) did not stop")


def _require(binary: str, what: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise ServiceError(f"{what}: `{binary}` not found on PATH; {INSTALL_HINT}")
    return path


def _fresh_dir(tmp: Path, name: str) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=tmp))


def _start_process(
    name: str,
    tmp: Path,
    command: Callable[[int, Path], list[str]],
    ready: Callable[[int], bool],
) -> tuple[subprocess.Popen[bytes], int]:
    """Start `command(port, folder)` on a free port (another one if that port is taken
    meanwhile); return the process, once `ready(port)`, and the port."""
    last: ServiceError | None = None
    for _ in range(PORT_ATTEMPTS):
        base = _fresh_dir(tmp, name.lower())
        log = base / f"{name.lower()}.log"
        port = free_port()
        with log.open("wb") as out:
            try:
                proc = subprocess.Popen(
                    command(port, base),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=base,
                )
            except OSError as e:
                raise ServiceError(f"{name}: cannot start: {e}; {INSTALL_HINT}") from e
        try:
            is_ready = functools.partial(ready, port)
            wait_until(is_ready, what=f"{name} on port {port}", log=log, proc=proc)
        except _PortInUse as e:
            _stop(proc, name)
            last = e
            continue
        except BaseException:
            _stop(proc, name)
            raise
        return proc, port
    raise ServiceError(f"{name}: {PORT_ATTEMPTS} ports were taken; the last try:\n{last}")


# --- PostgreSQL -------------------------------------------------------------------------


def postgres_bindir() -> Path:
    """The newest /usr/lib/postgresql/N/bin (Debian), else the folder of `pg_ctl` on PATH."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    if found:
        return max(found, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl and shutil.which("initdb"):
        return Path(pg_ctl).parent
    raise ServiceError(f"PostgreSQL: initdb/pg_ctl not found; {INSTALL_HINT}")


@contextlib.contextmanager
def postgres_server(tmp: Path) -> Iterator[str]:
    """A fresh PostgreSQL cluster with database `boda`, user `boda` (trust auth).

    Yields `postgresql+psycopg://boda@127.0.0.1:PORT/boda`. Durability is off
    (fsync, synchronous_commit, full_page_writes): fast, and fine for tests.

    initdb refuses to run as root, so as root the cluster belongs to the `postgres`
    user (its commands run through `runuser -u postgres --`) and lives in a folder of
    the system temp dir that this user owns (pytest's tmp dirs are 0700 root). Its log
    is copied into `tmp` when the server stops.
    """
    bindir = postgres_bindir()
    last: ServiceError | None = None
    for _ in range(PORT_ATTEMPTS):
        pg = _Postgres(bindir, tmp)
        try:
            url = pg.start()
        except _PortInUse as e:
            pg.stop()
            last = e
            continue
        except BaseException:
            pg.stop()
            raise
        try:
            yield url
        finally:
            pg.stop()
        return
    raise ServiceError(f"PostgreSQL: {PORT_ATTEMPTS} ports were taken; the last try:\n{last}")


class _Postgres:
    def __init__(self, bindir: Path, tmp: Path) -> None:
        self.bindir = bindir
        self.tmp = tmp
        self.prefix: list[str] = []
        self.owner: tuple[int, int] | None = None
        if os.geteuid() == 0:
            try:
                pg_user = pwd.getpwnam("postgres")
            except KeyError:
                raise ServiceError(
                    f"PostgreSQL: running as root needs the `postgres` user; {INSTALL_HINT}"
                ) from None
            self.prefix = [_require("runuser", "PostgreSQL as root"), "-u", "postgres", "--"]
            self.owner = (pg_user.pw_uid, pg_user.pw_gid)
            self.base = Path(tempfile.mkdtemp(prefix="boda-pg-"))
        else:
            self.base = _fresh_dir(tmp, "postgres")
        self.data = self.base / "data"
        self.sockdir = self.base / "sock"
        if len(str(self.sockdir)) > 80:  # a socket path must fit in 107 bytes
            self.sockdir = Path(tempfile.mkdtemp(prefix="boda-pgsock-"))
        self.log = self.base / "postgres.log"
        self.started = False

    def _own(self, path: Path) -> None:
        if self.owner is not None:
            os.chown(path, *self.owner)

    def _run(self, args: list[str], what: str, timeout: float, *, as_owner: bool = True) -> None:
        cmd = [*self.prefix, *args] if as_owner else args
        _run(cmd, what=f"PostgreSQL: {what}", log=self.log, cwd=self.base, timeout=timeout)

    def start(self) -> str:
        self._own(self.base)
        for d in (self.data, self.sockdir):
            d.mkdir(mode=0o700, exist_ok=True)
            self._own(d)
        self.log.touch()
        self._own(self.log)  # the server appends to it, as its own user
        locale = ["--locale=C.UTF-8"] if Path("/usr/lib/locale/C.utf8").exists() else []
        initdb = [str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "boda"]
        initdb += ["-E", "UTF8", *locale, "--no-sync", "--no-instructions"]
        self._run(initdb, "initdb", timeout=120)
        port = free_port()
        opts = (
            f"-p {port} -k {self.sockdir} -c listen_addresses=127.0.0.1"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self.started = True  # from here on, stop it even if the start fails half-way
        pg_ctl = [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log)]
        pg_ctl += ["-w", "-t", str(int(START_TIMEOUT_S)), "-o", opts, "start"]
        self._run(pg_ctl, f"pg_ctl start on port {port}", timeout=START_TIMEOUT_S + 10)
        # As the current user: over TCP, trust auth lets anyone in as `boda`.
        createdb = [str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port)]
        createdb += ["-U", "boda", "boda"]
        self._run(createdb, "createdb boda", timeout=30, as_owner=False)
        return f"postgresql+psycopg://boda@127.0.0.1:{port}/boda"

    def stop(self) -> None:
        try:
            if self.started and (self.data / "postmaster.pid").exists():
                pg_ctl = [str(self.bindir / "pg_ctl"), "-D", str(self.data)]
                self._run([*pg_ctl, "-m", "immediate", "-w", "stop"], "pg_ctl stop", timeout=30)
        finally:
            self.started = False
            if self.owner is not None:  # root: keep the log, drop the cluster
                with contextlib.suppress(OSError):
                    shutil.copyfile(self.log, _fresh_dir(self.tmp, "postgres") / "postgres.log")
                shutil.rmtree(self.base, ignore_errors=True)
            if self.sockdir.parent != self.base:
                shutil.rmtree(self.sockdir, ignore_errors=True)


@contextlib.contextmanager
def pgvector_server() -> Iterator[str]:
    """PostgreSQL 16 with the pgvector extension, from the PyPI package `pgserver` (Debian's has none).

    Yields `postgresql+psycopg://postgres@/postgres?host=SOCKET_DIR` (a superuser, so the
    tests' databases can `CREATE EXTENSION vector`). The cluster lives in a fresh folder of the
    system temp dir (as root, pgserver runs it as its own `pgserver` user, who must reach it)
    and is deleted when the server stops.
    """
    try:
        import pgserver
    except ImportError:
        raise ServiceError(f"pgvector: the `pgserver` package is missing; {INSTALL_HINT}") from None
    base = Path(tempfile.mkdtemp(prefix="boda-pgv-"))
    try:
        server = pgserver.get_server(base / "data", cleanup_mode="delete")
    except Exception as exc:
        shutil.rmtree(base, ignore_errors=True)
        raise ServiceError(f"pgvector: pgserver did not start: {exc}\n{log_tail(base / 'data' / 'log')}") from exc
    try:
        uri = server.get_uri()  # postgresql://postgres:@/postgres?host=/socket/dir
        yield "postgresql+psycopg://postgres@/postgres?" + uri.split("?", 1)[1]
    finally:
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)


# --- Redis ------------------------------------------------------------------------------


def _redis_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.sendall(b"PING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@contextlib.contextmanager
def redis_server(tmp: Path) -> Iterator[str]:
    """A throwaway Redis (no persistence). Yields `redis://127.0.0.1:PORT/0`."""
    binary = _require("redis-server", "Redis")

    def command(port: int, base: Path) -> list[str]:
        cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(base)]
        return [*cmd, "--save", "", "--appendonly", "no", "--daemonize", "no"]

    proc, port = _start_process("Redis", tmp, command, _redis_ping)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc, "Redis")


# --- Azurite (Azure Blob Storage emulator) ------------------------------------------------


def azurite_connection_string(port: int) -> str:
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
    )


def _azurite_ready(port: int) -> bool:
    """Azurite answers HTTP (any status) with its own Server header: not just any
    program that happens to listen on the port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", f"/{AZURITE_ACCOUNT}?comp=list")
        response = conn.getresponse()
        response.read()
        return (response.getheader("Server") or "").startswith("Azurite")
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


@contextlib.contextmanager
def azurite_server(tmp: Path) -> Iterator[str]:
    """Azurite's blob service, from ./node_modules (npm, package.json).

    Yields a connection string for `devstoreaccount1` at
    `http://127.0.0.1:PORT/devstoreaccount1`.
    """
    binary = REPO_ROOT / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        raise ServiceError(f"Azurite: {binary} not found; {INSTALL_HINT}")
    _require("node", "Azurite")

    def command(port: int, base: Path) -> list[str]:
        where = ["--location", str(base / "data"), "--blobHost", "127.0.0.1"]
        # No telemetry: it phones Microsoft, and on a machine without internet its flush
        # holds up the shutdown for seconds.
        flags = ["--skipApiVersionCheck", "--silent", "--disableTelemetry"]
        return [str(binary), *where, "--blobPort", str(port), *flags]

    proc, port = _start_process("Azurite", tmp, command, _azurite_ready)
    try:
        yield azurite_connection_string(port)
    finally:
        _stop(proc, "Azurite")


# --- Chromium ---------------------------------------------------------------------------

# Flags for Playwright's `chromium.launch(executable_path=chromium_path(), args=...)`.
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """Debian's Chromium (never a Playwright download), or $BODA_CHROMIUM, or None."""
    env = os.environ.get("BODA_CHROMIUM")
    if env:
        return env if os.access(env, os.X_OK) else None
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@contextlib.contextmanager
def live_app(app: Any, *, username: str, password: str) -> Iterator[str]:
    """Serve a Boda app with uvicorn on a free port in a thread, with one user; yields its base URL."""
    import threading

    import uvicorn

    from boda.core.auth import create_user

    port = free_port()
    live = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=live.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not live.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the live server did not start")
        time.sleep(0.05)
    with app.state.runtime.db.session() as session:
        create_user(session, username=username, password=password)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        live.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    if path is None:
        raise ServiceError("Chromium not found; run `bash scripts/install-test-services.sh`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()
