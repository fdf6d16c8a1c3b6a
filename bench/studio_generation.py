"""3D Studio generations: Boda's own overhead, and 100 generations at once against a slow provider.

1. Overhead from prompt to stored GLB, the provider's time taken out: the local Meshy protocol
   server (tests/ai/meshy_server.py, in its own process) answers at once; Boda runs in this
   process with its jobs inline. Measured from the `POST /api/v1/studio/generations` to the
   moment the GLB is checked and stored (the start of the processing step, which is stopped
   there: thumbnails, conversions and scores are measured by studio_render.py). p50/p99, aim < 300 ms.
2. 100 generations at once against a provider taking 5 s per task: a real `boda serve` (SQLite,
   in-process worker), the Meshy server in another process. Meanwhile a plain GET is timed
   (p50/p99) and the server's threads are counted; then the time until every GLB is stored.

    python bench/studio_generation.py [--runs 30] [--count 100]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api_load import HOST, BodaInstance, free_port  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


@contextlib.contextmanager
def meshy_process(step_seconds: float, steps: int = 4):  # type: ignore[no-untyped-def]
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.ai.meshy_server", "--port", str(port), "--step-seconds",
                             str(step_seconds), "--steps", str(steps)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi/v2/text-to-3d/x", timeout=1)
            with contextlib.suppress(Exception):
                import socket

                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def overhead(runs: int) -> None:
    from fastapi.testclient import TestClient

    from boda.apps.studio import processing
    from boda.core.config import Settings
    from boda.web.app import create_app
    from tests.conftest import make_account

    stored_at: list[float] = []

    def stop_at_processing(session: Any, runtime: Any, model: Any, progress: Any = None) -> dict[str, Any]:
        stored_at.append(time.perf_counter())
        return {}

    processing.process_model = stop_at_processing  # type: ignore[assignment]
    with meshy_process(0.0) as url, tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), jobs={"immediate": True, "progress_interval": 0.2},
                            studio={"poll_seconds": 0.01},
                            generate3d={"meshy_api_key": "msy_test_key", "meshy_base_url": url, "poll_seconds": 0.01})
        with TestClient(create_app(settings)) as client:
            account = make_account(client.app.state.runtime, client, "bench")
            for refine in (False, True):
                times: list[float] = []
                for i in range(runs + 2):
                    stored_at.clear()
                    start = time.perf_counter()
                    response = account.post("/api/v1/studio/generations",
                                            json={"prompt": f"a red toy fire truck {i}", "provider": "meshy",
                                                  "refine": refine})
                    assert response.status_code == 202, response.text
                    assert stored_at, "the GLB was never stored"
                    if i >= 2:  # the first two warm up (imports, connections)
                        times.append((stored_at[0] - start) * 1000)
                tasks = "preview + refine (2 provider tasks)" if refine else "preview only (1 provider task)"
                print(f"overhead, {tasks}: p50 {pct(times, 50):.0f} ms, p99 {pct(times, 99):.0f} ms, "
                      f"mean {statistics.mean(times):.0f} ms over {runs} runs (aim < 300 ms)")


def server_threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def load(count: int, provider_seconds: float) -> None:
    with meshy_process(provider_seconds / 4, steps=4) as url, tempfile.TemporaryDirectory() as tmp:
        boda = BodaInstance(Path(tmp), extra_env={
            "BODA_GENERATE3D__MESHY_API_KEY": "msy_test_key", "BODA_GENERATE3D__MESHY_BASE_URL": url,
            "BODA_STUDIO__POLL_SECONDS": "1"})
        try:
            pid = boda.server.proc.pid
            threads_before = server_threads(pid)
            latencies: list[float] = []
            peak = [threads_before]
            stop = threading.Event()

            def probe() -> None:
                while not stop.is_set():
                    start = time.perf_counter()
                    with urllib.request.urlopen(f"http://{HOST}:{boda.port}/healthz", timeout=30) as r:
                        r.read()
                    latencies.append((time.perf_counter() - start) * 1000)
                    peak[0] = max(peak[0], server_threads(pid))
                    time.sleep(0.05)

            prober = threading.Thread(target=probe, daemon=True)
            started = time.perf_counter()
            prober.start()
            for i in range(count):
                boda.api_json("POST", "/api/v1/studio/generations",
                              body=json.dumps({"prompt": f"toy {i}", "provider": "meshy", "refine": False}).encode(),
                              content_type="application/json")
            submitted = time.perf_counter() - started
            stored = 0
            last = -1
            while time.perf_counter() - started < 900:
                page = boda.api_json("GET", "/api/v1/studio/models?limit=200")
                stored = sum(1 for m in page["items"] if "glb" in m["formats"])  # type: ignore[union-attr]
                if stored >= count:
                    break
                if stored != last:
                    print(f"  {time.perf_counter() - started:5.1f} s: {stored} GLBs stored", flush=True)
                    last = stored
                time.sleep(0.5)
            all_stored = time.perf_counter() - started
            stop.set()
            prober.join()
            print(f"load: {count} generations submitted in {submitted:.1f} s; provider takes {provider_seconds:g} s "
                  f"each; every GLB stored after {all_stored:.1f} s ({stored}/{count})")
            print(f"load: GET /healthz meanwhile p50 {pct(latencies, 50):.0f} ms, p99 {pct(latencies, 99):.0f} ms "
                  f"({len(latencies)} requests); server threads {threads_before} before, peak {peak[0]} "
                  "(no thread per generation: a waiting job gives its worker back)")
        finally:
            boda.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--provider-seconds", type=float, default=5.0)
    parser.add_argument("--only", choices=["overhead", "load"], default=None)
    args = parser.parse_args()
    os.chdir(ROOT)
    print(f"bench/studio_generation.py on {os.cpu_count()} CPUs", flush=True)
    if args.only in (None, "overhead"):
        overhead(args.runs)
    if args.only in (None, "load"):
        load(args.count, args.provider_seconds)


if __name__ == "__main__":
    main()
