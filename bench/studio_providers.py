"""3D Studio's providers: many Meshy generations at once on one event loop, and the client's own overhead.

Run: .venv/bin/python bench/studio_providers.py [--generations 100] [--latency 5] [--refine] [--overhead 200]
Prints figures; asserts nothing. About 15 s (`--refine`: twice the latency).

What it does:
- starts the local Meshy protocol server (tests/ai/meshy_server.py: Meshy's endpoints, the SSE
  stream, real GLB bytes) in its own process on a free port, so the threads counted here are
  the client's alone;
- at once: N generations through the real client (`boda.ai.meshy.MeshyGenerator`) on one
  event loop, each a text-to-3D task taking `--latency` seconds at the server (a preview;
  with `--refine` a preview then a refine), watched through its SSE stream, then its asset
  list read and its GLB downloaded. Prints the wall time, each generation's time over the
  provider's latency (p50/p99), the peak and final thread count of this process, the CPU
  it used, and the event loop's lag meanwhile (p50/p99 of how late a 10 ms timer fires: what
  every other request served by that loop would wait in addition);
- then `--overhead` generations one after the other against a server with no latency: the
  client's time from prompt to GLB bytes (p50/p99), all of it overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent)]

from boda.ai.generate3d import GenerationRequest, aclose_all  # noqa: E402
from boda.ai.meshy import MeshyGenerator  # noqa: E402

KEY = "msy_bench_key"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def meshy_server(step_seconds: float, steps: int = 5):  # noqa: ANN201 - a context manager of the URL
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(BENCH.parent)}
    proc = subprocess.Popen([sys.executable, "-m", "tests.ai.meshy_server", "--port", str(port),
                             "--step-seconds", str(step_seconds), "--steps", str(steps), "--api-key", KEY],
                            cwd=BENCH.parent, env=env)
    deadline = time.monotonic() + 20
    while True:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            break
        if time.monotonic() > deadline or proc.poll() is not None:
            proc.kill()
            raise SystemExit("the Meshy protocol server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.poll() is None:
            proc.kill()


def os_threads() -> int:
    """Threads of this process as the OS counts them (Python's and any library's own)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux), 0 where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


PHASES: dict[str, list[float]] = {"start": [], "watch": [], "assets": []}


async def one(gen: MeshyGenerator, prompt: str, refine: bool) -> float:
    began = time.perf_counter()
    task_id = await gen.start(GenerationRequest(prompt, refine=refine))
    started = time.perf_counter()
    last = None
    async for progress in gen.watch(task_id):
        last = progress
    assert last is not None and last.status == "succeeded", last
    watched = time.perf_counter()
    assets = await gen.assets(last.task_id)
    glb = await gen.download(next(a for a in assets if a.kind == "glb"))
    assert glb[:4] == b"glTF"
    ended = time.perf_counter()
    PHASES["start"].append(started - began)
    PHASES["watch"].append(watched - started)
    PHASES["assets"].append(ended - watched)
    return ended - began


async def at_once(url: str, n: int, refine: bool) -> dict[str, object]:
    gen = MeshyGenerator(api_key=KEY, base_url=url, poll_seconds=1.0, timeout_seconds=60.0)
    threads: list[int] = []
    lags: list[float] = []
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            threads.append(os_threads())
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - before - 0.01)

    sampler = asyncio.create_task(sample())
    cpu0, wall0 = time.process_time(), time.perf_counter()
    times = await asyncio.gather(*(one(gen, f"bench model {i}", refine) for i in range(n)))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    done.set()
    await sampler
    await aclose_all()
    return {"times": list(times), "wall": wall, "cpu": cpu, "threads": threads, "lags": lags}


async def in_turn(url: str, n: int) -> list[float]:
    gen = MeshyGenerator(api_key=KEY, base_url=url, poll_seconds=0.01)
    await one(gen, "warm-up", False)
    times = [await one(gen, f"overhead {i}", False) for i in range(n)]
    await aclose_all()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generations", type=int, default=100)
    parser.add_argument("--latency", type=float, default=5.0, help="seconds each Meshy task takes at the server")
    parser.add_argument("--refine", action="store_true", help="preview then refine: two tasks a generation")
    parser.add_argument("--overhead", type=int, default=200, help="generations in turn at zero latency (0: skip)")
    args = parser.parse_args()

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"machine: {usable} usable cores, load average {os.getloadavg()[0]:.2f}, "
          f"{platform.python_implementation()} {platform.python_version()}")
    threads_before = os_threads()
    steps = 5
    with meshy_server(args.latency / steps, steps) as (url, pid):
        cpu0 = process_cpu(pid)
        result = asyncio.run(at_once(url, args.generations, args.refine))
        result["server_cpu"] = process_cpu(pid) - cpu0
    provider = args.latency * (2 if args.refine else 1)
    over = [t - provider for t in result["times"]]  # type: ignore[union-attr]
    lags_ms = [x * 1000 for x in result["lags"]]  # type: ignore[union-attr]
    print(f"\n{args.generations} generations at once, {provider:g} s each at the provider "
          f"({'preview + refine' if args.refine else 'preview'}), SSE progress, GLB downloaded:")
    print(f"  wall {result['wall']:.2f} s; per generation over the provider's time: "
          f"p50 {statistics.median(over) * 1000:.0f} ms, p99 {pct(over, 99) * 1000:.0f} ms")
    print("  phases p50/p99: " + ", ".join(f"{name} {statistics.median(v) * 1000:.0f}/{pct(v, 99) * 1000:.0f} ms"
                                         for name, v in PHASES.items()))
    print(f"  server process CPU {result['server_cpu']:.2f} s (the protocol server, Python too)")
    print(f"  threads in this process: {threads_before} before, peak {max(result['threads'])} "  # type: ignore[type-var]
          f"during (no thread per generation), CPU {result['cpu']:.2f} s")
    print(f"  event loop lag meanwhile (10 ms timer): p50 {statistics.median(lags_ms):.1f} ms, "
          f"p99 {pct(lags_ms, 99):.1f} ms, max {max(lags_ms):.1f} ms")
    if args.overhead:
        with meshy_server(0.0) as (url, _):
            times = asyncio.run(in_turn(url, args.overhead))
        ms = [t * 1000 for t in times]
        print(f"\n{args.overhead} generations in turn, zero provider latency (prompt -> SSE -> assets -> GLB bytes):")
        print(f"  p50 {statistics.median(ms):.1f} ms, p99 {pct(ms, 99):.1f} ms (client and server share the cores)")


if __name__ == "__main__":
    main()
