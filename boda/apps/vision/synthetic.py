"""Synthetic handwritten pages built from real MNIST digits, for the tests and the bench.

Each page is a few lines of MNIST *test* digits (never the training set), with
varied spacing and indentation, optionally on ruled paper, under a shadow,
and turned by a quarter turn, photographed as a noisy JPEG. It knows its own
answer, so exact-line and per-digit accuracy can be measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class PageSpec:
    lines: int = 4
    per_line: tuple[int, int] = (3, 8)  # digits per line, inclusive range
    height: int = 60  # digit height in pixels
    ruled: bool = False
    shadow: bool = False
    turns: int = 0  # quarter turns counter-clockwise applied to the finished page
    column: bool = False  # one digit per line, stacked
    size: tuple[int, int] = (1000, 700)  # width, height before turning


def _crop(digit: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(digit > 40)
    return digit[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def make_page(spec: PageSpec, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator
              ) -> tuple[np.ndarray, list[str]]:
    """A BGR page photo and its lines' texts, top to bottom (as read upright)."""
    width, height = spec.size
    ink = np.zeros((height, width), np.float32)
    texts: list[str] = []
    h = spec.height
    y = int(rng.uniform(0.4, 0.8) * h)
    rules: list[int] = []
    while len(texts) < spec.lines and y + h + 5 < height:
        count = 1 if spec.column else int(rng.integers(spec.per_line[0], spec.per_line[1] + 1))
        x = int(rng.uniform(0.3, 2.0) * h)
        text = ""
        for _ in range(count):
            index = int(rng.integers(len(images)))
            digit = _crop(images[index])
            dh = int(h * rng.uniform(0.85, 1.05))
            dw = max(2, round(digit.shape[1] * dh / digit.shape[0]))
            if x + dw >= width - 4:
                break
            dy = y + h - dh + int(rng.integers(-2, 3))
            patch = cv2.resize(digit, (dw, dh), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
            region = ink[dy : dy + dh, x : x + dw]
            np.maximum(region, patch[: region.shape[0], : region.shape[1]], out=region)
            text += str(int(labels[index]))
            x += dw + int(rng.uniform(0.2, 0.8) * h)
        if text:
            texts.append(text)
            rules.append(y + h + int(rng.integers(0, 4)))
        y += int(rng.uniform(1.5, 2.1) * h)
    paper = np.full((height, width), 228.0, np.float32)
    if spec.ruled:
        for ry in rules:
            cv2.line(paper, (0, ry), (width - 1, ry), 150.0, 2, cv2.LINE_AA)
    gray = paper * (1 - ink) + 35.0 * ink
    if spec.shadow:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        ramp = 1.0 - 0.45 * (xx / width) * (0.6 + 0.4 * yy / height)
        # A soft-edged cast shadow over the right-hand part.
        edge = 1.0 - 0.25 / (1.0 + np.exp(np.clip(-(xx - 0.65 * width - 0.2 * yy) / 25.0, -50, 50)))
        gray = gray * ramp * edge
    gray = np.clip(gray + rng.normal(0, 4, gray.shape), 0, 255).astype(np.uint8)
    gray = np.ascontiguousarray(np.rot90(gray, spec.turns))
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR), texts


def one_digit_photo(digit: np.ndarray, rng: np.random.Generator, size: tuple[int, int] = (4000, 3000)
                    ) -> np.ndarray:
    """A big gray photo (12 MP by default) of one small thin-pen digit with a shadow's edge beside it."""
    width, height = size
    crop = _crop(digit)
    h = int(rng.uniform(120, 220))
    big = cv2.resize(crop, (max(2, crop.shape[1] * h // crop.shape[0]), h), interpolation=cv2.INTER_LINEAR)
    big = cv2.erode(big, np.ones((5, 5), np.uint8))  # a thin pen
    x = int(rng.uniform(0.12, 0.8) * width)
    y = int(rng.uniform(0.15, 0.8) * height)
    ink = np.zeros((height, width), np.float32)
    ink[y : y + big.shape[0], x : x + big.shape[1]] = big / 255.0
    xx = np.arange(width, dtype=np.float32)[None, :]
    light = 1.0 - 0.5 / (1 + np.exp(np.clip(-(xx - x - rng.uniform(-100, 100)) / 60.0, -50, 50)))
    gray = (215 * (1 - ink) + 50 * ink) * light
    gray = np.clip(gray + rng.normal(0, 5, gray.shape), 0, 255).astype(np.uint8)
    ok, jpeg = cv2.imencode(".jpg", gray, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE)
