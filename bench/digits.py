"""Digit reader figures: held-out accuracy, read latency and batch throughput.

Run: .venv/bin/python bench/digits.py [--threads N]. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from boda.ai.digits import DEFAULT_MODEL, DigitReader  # noqa: E402
from boda.ai.onnx import OnnxOptions  # noqa: E402
from boda.apps.vision.mnist import load_mnist  # noqa: E402


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    """Wall-clock milliseconds of each call, after two warm-up calls."""
    for _ in range(2):
        fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return f"p50 {statistics.median(ordered):7.2f} ms   p99 {p99:7.2f} ms   (n={len(ordered)})"


def paper_photo(digits: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """MNIST digits, enlarged, as dark ink on unevenly lit paper, JPEG-compressed."""
    width, height = size
    cell = min(height // 2, width // (len(digits) + 1))
    ink = np.zeros((height, width), np.uint8)
    for i, digit in enumerate(digits):
        x = cell // 2 + i * cell
        ink[height // 4 : height // 4 + cell, x : x + cell] = cv2.resize(digit, (cell, cell))
    ramp = np.linspace(190, 235, width, dtype=np.float32)[None, :]
    alpha = ink.astype(np.float32) / 255
    gray = (ramp * (1 - alpha) + 40 * alpha).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime intra-op threads")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args()

    reader = DigitReader(options=OnnxOptions(threads=args.threads))
    images, labels = load_mnist("test")
    print(f"model {DEFAULT_MODEL.name} ({DEFAULT_MODEL.stat().st_size / 1024:.0f} KiB), "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"ORT threads={args.threads or 'default'}")

    start = time.perf_counter()
    predicted = np.concatenate([reader.classify(images[i : i + 1000]).argmax(axis=1)
                                for i in range(0, len(images), 1000)])
    elapsed = time.perf_counter() - start
    kind = "held-out MNIST test"
    errors = int((predicted != labels).sum())
    print(f"accuracy on {len(images)} {kind} digits: {1 - errors / len(images):.4%} ({errors} errors)")
    print(f"batch throughput (1000 per call): {len(images) / elapsed:,.0f} digits/s")

    one = images[0]
    print(f"read_digit 28x28       : {percentiles(timed(lambda: reader.read_digit(one), args.repeats))}")
    photo = paper_photo(images[:1], (640, 480))
    print(f"read_digit 640x480 JPEG: {percentiles(timed(lambda: reader.read_digit(photo), args.repeats))}")
    zip_code = paper_photo(images[:5], (600, 200))
    print(f"read_number 600x200 ZIP: {percentiles(timed(lambda: reader.read_number(zip_code), args.repeats))}")
    wide = paper_photo(images[:5], (1280, 720))
    print(f"read_number 1280x720   : {percentiles(timed(lambda: reader.read_number(wide), args.repeats // 2))}")
    classify_one = images[:1]
    print(f"classify 1 digit       : {percentiles(timed(lambda: reader.classify(classify_one), args.repeats))}")


if __name__ == "__main__":
    main()
