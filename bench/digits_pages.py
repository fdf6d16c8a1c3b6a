"""Digits the way people write them: other writers' digits, whole pages, big photos.

- scikit-learn's `load_digits` (UCI, 43 writers none of whom are in MNIST; 8x8,
  drawn as dark ink on white and enlarged): accuracy of `read_digit`, never trained on.
  The first 600 are the figure kept (28x28 with a margin first); rows 600-1797 are where the
  training's curled 9s were found (boda.apps.vision.training), printed apart.
- Pages built from held-out MNIST *test* digits (boda.apps.vision.synthetic):
  several lines, varied spacing and indentation, ruled paper, a shadow,
  quarter turns. Exact-line accuracy (a line counts only when every digit is
  right and the page has the right number of lines) and digit accuracy.
- Latency of `read_page` for a full page and for a 12-megapixel photo; one small
  thin-pen digit in a 12-MP photo with a shadow.

Run: .venv/bin/python bench/digits_pages.py [--pages N]. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from boda.ai.digits import DigitReader  # noqa: E402
from boda.ai.onnx import OnnxOptions  # noqa: E402
from boda.apps.vision.mnist import load_mnist  # noqa: E402
from boda.apps.vision.synthetic import PageSpec, make_page, one_digit_photo  # noqa: E402
from boda.core.errors import InvalidInput  # noqa: E402

KINDS: dict[str, PageSpec] = {
    "plain": PageSpec(),
    "ruled": PageSpec(ruled=True),
    "shadow": PageSpec(shadow=True),
    "ruled+shadow": PageSpec(ruled=True, shadow=True),
    "turned 90": PageSpec(turns=1),
    "turned 180": PageSpec(turns=2),
    "turned 270": PageSpec(turns=3),
    "column": PageSpec(column=True, lines=6),
    "all at once (ruled, shadow, 90)": PageSpec(ruled=True, shadow=True, turns=1),
}


def sklearn_digits(reader: DigitReader, rows: slice, size: int, margin: bool = True) -> tuple[float, int]:
    from sklearn.datasets import load_digits

    data = load_digits()
    right = 0
    images, labels = data.images[rows], data.target[rows]
    for image, label in zip(images, labels, strict=True):
        ink = (image / 16.0 * 255).astype(np.uint8)
        big = cv2.resize(ink, (size, size), interpolation=cv2.INTER_LINEAR)
        # 8x8 digits fill their frame; on paper there is a margin round the ink.
        pad = size // 4 if margin else 0
        paper = cv2.copyMakeBorder(255 - big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=255)
        with contextlib.suppress(InvalidInput):  # read as blank: wrong
            right += reader.read_digit(paper).digit == int(label)
    return right / len(labels), len(labels)


def score_pages(reader: DigitReader, spec: PageSpec, images: np.ndarray, labels: np.ndarray, count: int,
                seed: int) -> tuple[int, int, int, int, list[float]]:
    """Exact lines, lines, right digits, digits (aligned by position in lines of the right length), ms each."""
    rng = np.random.default_rng(seed)
    exact = lines = right = digits = 0
    times = []
    for _ in range(count):
        image, texts = make_page(spec, images, labels, rng)
        start = time.perf_counter()
        got = reader.read_page(image).text.split("\n")
        times.append((time.perf_counter() - start) * 1000)
        lines += len(texts)
        digits += sum(len(t) for t in texts)
        if len(got) != len(texts):
            continue
        for want, read in zip(texts, got, strict=True):
            exact += want == read
            if len(want) == len(read):
                right += sum(a == b for a, b in zip(want, read, strict=True))
    return exact, lines, right, digits, times


def big_photo(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, str]:
    """A 4000x3000 (12 MP) photo of three lines of digits about 150 px high, under a shadow."""
    rng = np.random.default_rng(12)
    image, texts = make_page(PageSpec(lines=3, per_line=(4, 8), height=150, shadow=True, size=(4000, 3000)),
                             images, labels, rng)
    return image, "\n".join(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pages", type=int, default=20, help="pages per kind")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    args = parser.parse_args()
    reader = DigitReader(options=OnnxOptions(threads=args.threads))
    images, labels = load_mnist("test")

    for size, margin in ((28, True), (64, True), (64, False)):
        accuracy, count = sklearn_digits(reader, slice(0, 600), size, margin)
        framing = "with a white margin" if margin else "filling the frame"
        print(f"scikit-learn digits, first {count}, 8x8 enlarged to {size}x{size} {framing}: {accuracy:.1%}")
    accuracy, count = sklearn_digits(reader, slice(600, None), 64)
    print(f"scikit-learn digits, the other {count} (where the curled 9s were found), 64x64 with a margin: "
          f"{accuracy:.1%}")

    print(f"\npages from MNIST test digits ({args.pages} per kind, 1000x700, digits ~60 px):")
    print(f"{'kind':34} {'exact lines':>14} {'digits':>14} {'p50 ms':>8}")
    totals = [0, 0, 0, 0]
    for i, (name, spec) in enumerate(KINDS.items()):
        exact, lines, right, digits, times = score_pages(reader, spec, images, labels, args.pages, seed=100 + i)
        for k, v in enumerate((exact, lines, right, digits)):
            totals[k] += v
        print(f"{name:34} {exact:4d}/{lines:<4d} {exact / lines:5.1%} {right:5d}/{digits:<5d}{right / digits:5.1%}"
              f" {statistics.median(times):8.0f}")
    print(f"{'all':34} {totals[0]:4d}/{totals[1]:<4d} {totals[0] / totals[1]:5.1%} "
          f"{totals[2]:5d}/{totals[3]:<5d}{totals[2] / totals[3]:5.1%}")

    page, _ = make_page(PageSpec(ruled=True, shadow=True), images, labels, np.random.default_rng(5))
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        reader.read_page(page)
        samples.append((time.perf_counter() - start) * 1000)
    print(f"\nread_page, full page 1000x700 (4 lines): p50 {statistics.median(samples):.0f} ms")
    photo, want = big_photo(images, labels)
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        got = reader.read_page(photo).text
        samples.append((time.perf_counter() - start) * 1000)
    print(f"read_page, 12 MP photo {photo.shape[1]}x{photo.shape[0]}: p50 {statistics.median(samples):.0f} ms, "
          f"read {'exactly' if got == want else f'{got!r} for {want!r}'}")

    rng = np.random.default_rng(30)
    right_digit = right_page = 0
    samples = []
    count = 20
    for i in range(count):
        one = one_digit_photo(images[i], rng)
        right_digit += reader.read_digit(one).digit == labels[i]
        start = time.perf_counter()
        right_page += reader.read_page(one).text == str(labels[i])
        samples.append((time.perf_counter() - start) * 1000)
    print(f"one small thin-pen digit in a 12 MP photo with a shadow, {count} MNIST test digits: "
          f"read_digit {right_digit}/{count}, read_page {right_page}/{count} (p50 {statistics.median(samples):.0f} ms)")


if __name__ == "__main__":
    main()
