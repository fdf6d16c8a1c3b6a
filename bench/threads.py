"""Inference threads: N batches at once with ONNX Runtime's default (every core each) against Boda's share.

Run: .venv/bin/python bench/threads.py [--model yolox_nano] [--concurrent 4] [--runs 12].
Prints figures; asserts nothing.

Each of `--concurrent` threads runs a batch of `--runs` inferences at once, as job
worker threads and requests do in one Boda process. Two layouts: every thread on its
own model (a face detector, a classifier and a detector busy together), and all on one
shared model (several photos through the same detector; ONNX Runtime's intra-op pool
then belongs to that one session). For each, the old default (`threads=0`: every core
per session) runs against `boda.ai.registry.inference_threads`' division of the cores,
with one batch alone on every core as the reference.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from boda.ai.catalog import locate  # noqa: E402
from boda.ai.onnx import OnnxModel, OnnxOptions  # noqa: E402
from boda.ai.registry import usable_cores  # noqa: E402


def _input(model: OnnxModel) -> np.ndarray:
    shape = [d if isinstance(d, int) and d > 0 else 1 for d in model.session.get_inputs()[0].shape]
    return np.random.default_rng(0).random(shape, dtype=np.float32)


def batches(path: Path, *, concurrent: int, runs: int, threads: int, shared: bool) -> list[float]:
    """Seconds each of `concurrent` simultaneous batches took."""
    options = OnnxOptions(threads=threads, concurrency=concurrent, providers=("CPUExecutionProvider",))
    one = OnnxModel(path, options)
    models = [one if shared else OnnxModel(path, options) for _ in range(concurrent)]
    feeds = [_input(m) for m in models]
    for model, feed in zip(models, feeds, strict=True):
        model.run(feed)  # load and warm up outside the clock
    start = threading.Barrier(concurrent)
    took = [0.0] * concurrent

    def work(i: int) -> None:
        start.wait()
        t0 = time.perf_counter()
        for _ in range(runs):
            models[i].run(feeds[i])
        took[i] = time.perf_counter() - t0

    workers = [threading.Thread(target=work, args=(i,)) for i in range(concurrent)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="yolox_nano", help="declared weights (boda.ai.catalog) to run")
    parser.add_argument("--concurrent", type=int, default=4, help="batches at once")
    parser.add_argument("--runs", type=int, default=12, help="inferences per batch")
    args = parser.parse_args()

    path = locate(args.model).path
    cores = usable_cores()
    new = max(1, cores // args.concurrent)
    print(f"{args.model}, {args.runs} inferences a batch; {cores} cores ({platform.processor() or platform.machine()}),"
          f" load average {os.getloadavg()[0]:.2f}")
    alone = batches(path, concurrent=1, runs=args.runs, threads=0, shared=False)[0]
    print(f"{'one batch alone, every core':<38}{alone:7.2f} s")
    for shared in (False, True):
        layout = "one shared model" if shared else "a model each"
        old = batches(path, concurrent=args.concurrent, runs=args.runs, threads=0, shared=shared)
        now = batches(path, concurrent=args.concurrent, runs=args.runs, threads=new, shared=shared)
        mean_old, mean_new = sum(old) / len(old), sum(now) / len(now)
        print(f"{args.concurrent} at once, {layout}:")
        for label, took, mean in (("threads=0 (every core each)", old, mean_old),
                                  (f"threads={new} (cores / {args.concurrent})", now, mean_new)):
            print(f"  {label:<36}{mean:7.2f} s a batch (max {max(took):.2f}), {mean / alone:.2f}x alone")
        print(f"  old / new: {mean_old / mean_new:.2f}")


if __name__ == "__main__":
    main()
