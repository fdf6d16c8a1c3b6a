"""Handwritten digit reading: photo or canvas -> MNIST-style 28x28 digits -> CNN.

The CNN was trained on MNIST, so every input is first made to look like an
MNIST digit, the way MNIST itself was made: ink isolated from the paper,
cropped to its bounding box, scaled to fit 20x20 keeping its aspect ratio
(anti-aliased) and placed in 28x28 with its centre of mass at the centre.
Two steps MNIST did not need make photos work: flattening uneven lighting and
normalising pen width; a moment-based deskew makes slanted writing upright.
A binary mask finds and cuts the digits, but the CNN is shown each digit's
grey ink strengths, as MNIST's anti-aliased digits are: a small or faint digit
thresholded to black and white loses the thin strokes that tell an 8 from a 1.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from boda.ai.catalog import CARRIED_DIR
from boda.ai.onnx import OnnxModel, OnnxOptions
from boda.ai.registry import Build, register
from boda.core.errors import InvalidInput

DEFAULT_MODEL = CARRIED_DIR / "digits_cnn.onnx"

MNIST_SIZE = 28
DIGIT_BOX = 20
# MNIST's median stroke is ~2.6 px in the 20 px box (measured on its test set).
MNIST_STROKE = 2.6
THIN_STROKE, THICK_STROKE = 1.8, 5.0
MAX_SKEW = 1.0
# Working resolution: small canvases are enlarged so thresholds and distance
# transforms have pixels to work with; huge photos shrunk to bound the cost.
MIN_SIDE, MAX_SIDE = 256, 1600
MIN_CONTRAST = 40  # grey levels of ink above paper below which nothing was written
INK_PIXELS = 20  # the least ink (in working pixels) that can make a digit
Box = tuple[int, int, int, int]
MAX_PAGE_DIGITS = 400
ASPECT_CUE = math.log(1.15)  # marks this much taller (wider) than wide (tall) on the median say upright (sideways)
WHOLE_WIDTH = 1.9  # a mark wider than this many times its height is never one digit
FOCUS_SHARE = 0.4  # ink spanning less than this share of a shrunk photo is looked at again, sharper
STACK_GAP = 0.08  # a vertical gap under this share of two marks' joint height joins them
# A digit's grey ink is scaled so this share of it (and its one-pixel fringe)
# reaches full strength. MNIST saturates 38 % of its inked pixels, but this ink
# is blurred and its fringe wider: 0.1 read best both MNIST training digits
# drawn at 14 px and scikit-learn's digits after the first 600 (the bench
# scores the first 600), over 0.02, 0.25 and 0.38.
SATURATED_SHARE = 0.1
# Another quarter turn must read this much more confidently than upright to win;
# a reading this confident (wrong turns read at most ~0.95 on test pages) ends the search.
ROTATION_MARGIN, CONFIDENT_UPRIGHT = 0.02, 0.97
Scorer = Callable[[list[np.ndarray]], np.ndarray]


@dataclass(frozen=True)
class DigitReading:
    digit: int
    confidence: float
    box: Box  # x, y, w, h in the input image's pixels
    probabilities: tuple[float, ...]


@dataclass(frozen=True)
class NumberReading:
    text: str
    digits: tuple[DigitReading, ...]
    confidence: float  # the lowest digit confidence


@dataclass(frozen=True)
class LineReading:
    text: str
    digits: tuple[DigitReading, ...]
    confidence: float  # the lowest digit confidence on the line


@dataclass(frozen=True)
class PageReading:
    """Lines of digits top to bottom; `text` joins them with newlines."""

    text: str
    lines: tuple[LineReading, ...]
    confidence: float  # the lowest digit confidence on the page
    rotation: int  # degrees the picture was turned counter-clockwise to read it upright

    @property
    def digits(self) -> tuple[DigitReading, ...]:
        return tuple(d for line in self.lines for d in line.digits)


@dataclass(frozen=True)
class Segment:
    """One digit's ink: its mask, where the mask's corner lies and its tight box, in working-image pixels.

    The mask is binary while the digits are found, and the grey ink strengths
    under it (`with_ink`) when they are read.
    """

    mask: np.ndarray
    box: Box
    origin: tuple[int, int] = (0, 0)

    def with_ink(self, ink: np.ndarray) -> Segment:
        return dataclasses.replace(self, mask=grey_ink(self.mask, ink, self.origin))


@dataclass(frozen=True)
class Focus:
    """Where the reader looks: the ink mask and ink strengths of (a crop of) the input.

    `scale` takes the crop's pixels to the working pixels of `mask` and
    `ink`; `offset` is the crop's corner in the input and `shape` its shape.
    """

    mask: np.ndarray
    ink: np.ndarray
    scale: float
    offset: tuple[int, int]
    shape: tuple[int, ...]


# --- preprocessing: pure functions -------------------------------------------


def to_gray(image: np.ndarray) -> np.ndarray:
    """BGR, BGRA or gray uint8 -> gray uint8; transparency is composited on white paper."""
    image = np.asarray(image)
    if image.size == 0 or image.ndim not in (2, 3):
        raise InvalidInput("Expected a non-empty 2D gray or 3D colour image")
    if image.dtype != np.uint8:
        raise InvalidInput(f"Expected uint8 pixels, got {image.dtype}")
    if image.ndim == 2:
        return np.ascontiguousarray(image)  # a view such as np.rot90's would be misread by OpenCV
    channels = image.shape[2]
    if channels == 1:
        return image[:, :, 0]
    if channels == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    if channels == 4:
        # Canvas exports draw ink on a transparent background whose colour is
        # usually black: composite, or the whole picture reads as ink.
        gray = cv2.cvtColor(image[:, :, :3], cv2.COLOR_BGR2GRAY).astype(np.float32)
        alpha = image[:, :, 3].astype(np.float32) / 255.0
        return np.round(gray * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    raise InvalidInput(f"Expected 1, 3 or 4 channels, got {channels}")


def working_scale(shape: tuple[int, ...]) -> float:
    """Factor that brings an image's longer side into [MIN_SIDE, MAX_SIDE]."""
    side = max(shape[:2])
    if side < MIN_SIDE:
        return float(math.ceil(MIN_SIDE / side))
    return min(1.0, MAX_SIDE / side)


def ink_map(gray: np.ndarray) -> np.ndarray:
    """Ink strength (ink high, paper ~0) with uneven lighting flattened.

    Works for dark ink on light paper and light chalk/pen on a dark board: the
    paper is whichever extreme the median pixel sits nearer to, since ink
    covers a minority of the picture.
    """
    counts = _cumulative_histogram(gray)
    low, high = _extremes(counts)
    median = float(np.searchsorted(counts, counts[-1] / 2))
    dark_ink = median - low > high - median
    ink = 255 - gray if dark_ink else gray.copy()
    flat = cv2.subtract(ink, _background(ink))
    other = gray.copy() if dark_ink else 255 - gray
    other_flat = cv2.subtract(other, _background(other))
    # A shadow over most of a sheet pulls the median dark, as if it were a
    # board: the polarity whose flattened ink stands out far more wins.
    if _extremes(_cumulative_histogram(other_flat))[1] > 2 * max(MIN_CONTRAST / 2, _extremes(
            _cumulative_histogram(flat))[1]):
        flat = other_flat
    return cv2.GaussianBlur(flat, (3, 3), 0)


def _extremes(counts: np.ndarray) -> tuple[float, float]:
    """The darkest and brightest levels that at least INK_PIXELS pixels reach.

    A count, not a percentile: a small digit in a big photo is a tiny share
    of its pixels, while a few hot pixels should not count as ink.
    """
    k = min(INK_PIXELS, int(counts[-1]))
    return float(np.searchsorted(counts, k)), float(np.searchsorted(counts, counts[-1] - k + 1))


def _cumulative_histogram(values: np.ndarray) -> np.ndarray:
    """Pixels at or below each grey level, 0..255."""
    return np.cumsum(cv2.calcHist([values], [0], None, [256], [0, 256]).ravel())


def _background(ink: np.ndarray) -> np.ndarray:
    """Paper level everywhere: a grey opening wider than any stroke.

    Computed at a small scale, since lighting varies slowly and big kernels
    are costly. The opening keeps sharp steps (a shadow's edge, the table
    beside the sheet), so they are not mistaken for ink; a one-pixel dilation
    covers the blur that scaling back up adds to those steps.
    """
    h, w = ink.shape
    factor = min(1.0, 128 / max(h, w))
    small = cv2.resize(ink, (max(1, round(w * factor)), max(1, round(h * factor))),
                       interpolation=cv2.INTER_AREA)
    size = max(3, (min(small.shape) // 3) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    opened = cv2.morphologyEx(small, cv2.MORPH_OPEN, kernel, borderType=cv2.BORDER_REPLICATE)
    opened = cv2.dilate(opened, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_REPLICATE)
    return cv2.resize(opened, (w, h), interpolation=cv2.INTER_LINEAR)


def threshold_ink(ink: np.ndarray) -> np.ndarray:
    """Binary ink mask (uint8 0/255) by Otsu; all zero when there is no real ink."""
    peak = _extremes(_cumulative_histogram(ink))[1]
    if peak < MIN_CONTRAST:
        return np.zeros_like(ink)
    otsu, _ = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    # Otsu on a sparse, noisy page can land in the paper's noise; ink is never
    # fainter than a quarter of the strongest ink.
    level = max(otsu, peak / 4, MIN_CONTRAST / 2)
    return cv2.threshold(ink, level, 255, cv2.THRESH_BINARY)[1]


def stroke_width(mask: np.ndarray) -> float:
    """Mean pen width in pixels: 4x the mean distance of ink to paper (exact for long strokes)."""
    inside = mask > 127
    if not inside.any():
        return 0.0
    padded = cv2.copyMakeBorder(inside.astype(np.uint8), 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    distance = cv2.distanceTransform(padded, cv2.DIST_L2, 5)[1:-1, 1:-1]
    return 4.0 * float(distance[inside].mean())


def crop_to_ink(mask: np.ndarray) -> np.ndarray:
    """The tight bounding box of the pixels above mid-grey."""
    ys, xs = np.nonzero(mask > 127)
    if ys.size == 0:
        raise InvalidInput("No ink found: the image looks blank", key="blank_image")
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def deskew(mask: np.ndarray) -> np.ndarray:
    """Undo slant with a horizontal shear from second-order moments, as in the classic MNIST deskew."""
    moments = cv2.moments(mask, binaryImage=False)
    if abs(moments["mu02"]) < 1e-2:
        return mask
    skew = float(np.clip(moments["mu11"] / moments["mu02"], -MAX_SKEW, MAX_SKEW))
    h, w = mask.shape
    centre_y = moments["m01"] / moments["m00"]
    margin = math.ceil(abs(skew) * h) + 2
    # x' = x - skew * (y - centre_y) + margin keeps the whole sheared digit in frame.
    matrix = np.array([[1.0, -skew, skew * centre_y + margin], [0.0, 1.0, 0.0]])
    sheared = cv2.warpAffine(mask, matrix, (w + 2 * margin, h), flags=cv2.INTER_LINEAR)
    return crop_to_ink(sheared)


def normalise_stroke(mask: np.ndarray) -> np.ndarray:
    """Thicken a thin pen or thin a marker so strokes are MNIST-wide once scaled to 20 px."""
    scale = DIGIT_BOX / max(mask.shape)
    width = stroke_width(mask) * scale
    if THIN_STROKE <= width <= THICK_STROKE:
        return mask
    target = MNIST_STROKE if width < THIN_STROKE else THICK_STROKE - 1
    size = round(abs(target - width) / scale)
    if size < 2:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    padded = cv2.copyMakeBorder(mask, size, size, size, size, cv2.BORDER_CONSTANT, value=0)
    if width < THIN_STROKE:
        return crop_to_ink(cv2.dilate(padded, kernel))
    thinned = cv2.erode(padded, kernel)
    # Never erode a digit away: keep the original when too little ink survives.
    kept = np.count_nonzero(thinned > 127) / max(1, np.count_nonzero(mask > 127))
    return crop_to_ink(thinned) if kept > 0.3 else mask


def fit_box(mask: np.ndarray, box: int = DIGIT_BOX) -> np.ndarray:
    """Scale so the longer side is `box` pixels, keeping the aspect ratio (anti-aliased)."""
    h, w = mask.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(mask, size, interpolation=interpolation)


def centre_by_mass(digit: np.ndarray, size: int = MNIST_SIZE) -> np.ndarray:
    """Paste into a size x size field with the centre of mass at the centre (whole-pixel shift)."""
    moments = cv2.moments(digit)
    h, w = digit.shape
    cx = moments["m10"] / moments["m00"] if moments["m00"] else (w - 1) / 2
    cy = moments["m01"] / moments["m00"] if moments["m00"] else (h - 1) / 2
    dx, dy = round(size / 2 - cx), round(size / 2 - cy)
    matrix = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    return cv2.warpAffine(digit, matrix, (size, size), flags=cv2.INTER_NEAREST)


def normalise_digit(mask: np.ndarray) -> np.ndarray:
    """One digit's ink, binary or grey (any size) -> a 28x28 uint8 MNIST-style image."""
    digit = normalise_stroke(deskew(crop_to_ink(mask)))
    return centre_by_mass(fit_box(digit))


def grey_ink(mask: np.ndarray, ink: np.ndarray, origin: tuple[int, int]) -> np.ndarray:
    """The ink strengths under a digit's binary mask (and one pixel round it, its soft edge).

    Scaled so that a SATURATED_SHARE of it reaches 255, as MNIST's stroke cores do;
    ink outside the mask (a neighbour reaching into the box) stays out.
    """
    x, y = origin
    h, w = mask.shape
    near = cv2.dilate(mask, np.ones((3, 3), np.uint8)) > 0
    strength = ink[y : y + h, x : x + w].astype(np.float32) * near
    if not near.any():
        return mask
    level = float(np.percentile(strength[near], 100 * (1 - SATURATED_SHARE)))
    if level <= 0:
        return mask
    return np.clip(strength * (255.0 / level), 0, 255).astype(np.uint8)


def ink_mask(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Binary ink mask at working resolution, and that resolution's scale to the input."""
    mask, _, scale = ink_picture(image)
    return mask, scale


def ink_picture(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Binary ink mask and ink strengths at working resolution, and that resolution's scale to the input."""
    gray = to_gray(image)
    scale = working_scale(gray.shape)
    if scale != 1.0:
        h, w = gray.shape
        interpolation = cv2.INTER_LINEAR if scale > 1 else cv2.INTER_AREA
        size = (max(1, round(w * scale)), max(1, round(h * scale)))  # a 20000×1 strip stays 1 px high
        gray = cv2.resize(gray, size, interpolation=interpolation)
    ink = ink_map(gray)
    return remove_rules(threshold_ink(ink)), ink, scale


def _long_lines(mask: np.ndarray, axis: int) -> tuple[np.ndarray, int]:
    """Pixels of thin straight lines running along `axis` (1: horizontal) across much of the picture.

    A rule under a shadow thresholds into dashes, so short gaps are bridged
    first; pieces count as one rule when together they cover 40 % of the
    picture's width in the same few rows.
    """
    h, w = mask.shape
    span = w if axis == 1 else h
    length = span // 10
    if length < 20:
        return np.zeros_like(mask), 0
    along = (lambda n: (1, n)) if axis == 1 else (lambda n: (n, 1))
    bridged = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones(along(15), np.uint8))
    opened = cv2.morphologyEx(bridged, cv2.MORPH_OPEN, np.ones(along(length), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    if count <= 1:
        return np.zeros_like(mask), 0
    thin = np.zeros(count, np.uint8)
    for i in range(1, count):
        long_side, short_side = (stats[i, 2], stats[i, 3]) if axis == 1 else (stats[i, 3], stats[i, 2])
        thin[i] = 255 if long_side >= 20 * short_side else 0
    lines = thin[labels]
    coverage = np.count_nonzero(lines, axis=axis)  # per row (horizontal) or column (vertical)
    coverage = cv2.dilate(coverage.astype(np.float32)[:, None], np.ones((5, 1), np.uint8)).ravel()
    rows = coverage >= 0.4 * span
    found = int(np.count_nonzero(np.diff(rows.astype(np.int8)) == 1) + rows[0])
    keep = rows[:, None] if axis == 1 else rows[None, :]
    return np.where(keep, cv2.bitwise_and(lines, mask), 0).astype(np.uint8), found


def remove_rules(mask: np.ndarray) -> np.ndarray:
    """Erase ruled-paper lines (and an underline), mending the strokes that crossed them.

    A rule is a thin straight line across half the picture or more; horizontal ones go
    even alone (an underline), vertical ones only when several are parallel,
    since a single tall thin stroke may be a long 1. Where a rule is erased, a
    vertical (horizontal) closing restores the ink of digits that crossed it,
    so a digit written on the line is not cut in two.
    """
    cleaned = mask
    for axis in (1, 0):
        rules, found = _long_lines(cleaned, axis)
        if found < (1 if axis == 1 else 2):
            continue
        thick = cv2.dilate(rules, np.ones((3, 1) if axis == 1 else (1, 3), np.uint8))
        without = cv2.subtract(cleaned, thick)
        band = int(np.count_nonzero(thick) / max(1, found) / (mask.shape[1] if axis == 1 else mask.shape[0]))
        size = max(3, 2 * band + 3)
        kernel = np.ones((size, 1) if axis == 1 else (1, size), np.uint8)
        mended = cv2.morphologyEx(without, cv2.MORPH_CLOSE, kernel)
        cleaned = cv2.bitwise_or(without, cv2.bitwise_and(mended, thick))
    return cleaned


def focused_ink_mask(image: np.ndarray) -> Focus:
    """Ink mask, looking again at full resolution where a big photo holds only a little writing.

    Shrinking a 12-MP photo to the working size turns a thin pen's strokes
    into broken hairlines (a 3 read as "53"). When the ink found covers a
    small part of the shrunk picture, that part of the original is cropped
    (with a margin) and thresholded again at up to full resolution.
    """
    mask, ink, scale = ink_picture(image)
    shape = np.shape(image)
    whole_picture = Focus(mask, ink, scale, (0, 0), shape)
    if scale >= 1.0:
        return whole_picture
    _, blobs = _components(mask)
    if not blobs:
        return whole_picture
    whole = functools.reduce(_Blob.merge, blobs)
    if max(whole.w, whole.h) > FOCUS_SHARE * max(mask.shape):
        return whole_picture
    margin = 0.5 * max(whole.w, whole.h) + 8
    x0 = max(0, math.floor((whole.x - margin) / scale))
    y0 = max(0, math.floor((whole.y - margin) / scale))
    x1 = min(shape[1], math.ceil((whole.x + whole.w + margin) / scale))
    y1 = min(shape[0], math.ceil((whole.y + whole.h + margin) / scale))
    crop = np.asarray(image)[y0:y1, x0:x1]
    focused, focused_ink, focused_scale = ink_picture(crop)
    if not _components(focused)[1]:
        return whole_picture
    return Focus(focused, focused_ink, focused_scale, (x0, y0), np.shape(crop))


def _shifted(readings: list[DigitReading], offset: tuple[int, int]) -> list[DigitReading]:
    if offset == (0, 0):
        return readings
    dx, dy = offset
    return [dataclasses.replace(r, box=(r.box[0] + dx, r.box[1] + dy, r.box[2], r.box[3])) for r in readings]


# --- segmentation -------------------------------------------------------------


@dataclass(frozen=True)
class _Blob:
    labels: frozenset[int]
    x: int
    y: int
    w: int
    h: int
    area: int

    def merge(self, other: _Blob) -> _Blob:
        x0, y0 = min(self.x, other.x), min(self.y, other.y)
        x1 = max(self.x + self.w, other.x + other.w)
        y1 = max(self.y + self.h, other.y + other.h)
        return _Blob(self.labels | other.labels, x0, y0, x1 - x0, y1 - y0, self.area + other.area)

    def overlap_x(self, other: _Blob) -> int:
        return min(self.x + self.w, other.x + other.w) - max(self.x, other.x)


def _components(mask: np.ndarray) -> tuple[np.ndarray, list[_Blob]]:
    """Connected ink components; specks, dust and the scene beyond the sheet dropped."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    along_edge = _edge_contact(labels, count)
    blobs = [
        _Blob(frozenset({i}), *(int(v) for v in stats[i, :5]))
        for i in range(1, count)
        if along_edge[i] <= 0.5
    ]
    if not blobs:
        return labels, []
    biggest = max(b.area for b in blobs)
    tallest = max(b.h for b in blobs)
    min_area = max(4, mask.size // 20000)
    kept = [
        b for b in blobs
        if b.area >= min_area and (b.area >= 0.05 * biggest or b.h >= 0.3 * tallest)
    ]
    return labels, kept


def _edge_contact(labels: np.ndarray, count: int) -> np.ndarray:
    """Per label, the largest share of one image edge it covers.

    Pen strokes meet an edge at a point; a table or a dark strip beside the
    sheet runs along it.
    """
    edges = (labels[0], labels[-1], labels[:, 0], labels[:, -1])
    return np.max([np.bincount(edge, minlength=count) / len(edge) for edge in edges], axis=0)


def _merge_pieces(blobs: list[_Blob]) -> list[_Blob]:
    """Join strokes of one digit (a 5's detached bar, a 4 in two strokes) that overlap in x.

    Two full-height marks must overlap almost entirely, so slanted
    neighbours that merely overhang each other stay apart.
    """
    line = _line_height(blobs)
    merged: list[_Blob] = []
    for blob in sorted(blobs, key=lambda b: b.x):
        if merged:
            last = merged[-1]
            narrower = min(last.w, blob.w)
            overlap = last.overlap_x(blob)
            short = min(last.h, blob.h) < 0.6 * line
            # A thin pen's stroke broken by the threshold leaves a hairline gap:
            # a short piece that all but touches its neighbour, together no wider than a digit.
            mended = short and overlap >= -0.06 * line and max(last.x + last.w, blob.x + blob.w) - last.x <= 0.8 * line
            if overlap >= (0.5 if short else 0.8) * narrower or mended:
                merged[-1] = last.merge(blob)
                continue
        merged.append(blob)
    return merged


def _line_height(blobs: list[_Blob]) -> float:
    tallest = max(b.h for b in blobs)
    return float(np.median([b.h for b in blobs if b.h >= 0.5 * tallest]))


def _digit_width(blobs: list[_Blob], line: float) -> float:
    """Typical width of one digit on this line, kept within MNIST-like proportions."""
    widths = [b.w for b in blobs if b.w <= b.h]
    typical = float(np.median(widths)) if widths else 0.7 * line
    return float(np.clip(typical, 0.5 * line, 0.8 * line))


def _split_touching(region: np.ndarray, blob: _Blob, digit_width: float,
                    score: Scorer | None) -> list[Box]:
    """Cut a blob of touching digits into evenly spaced digits, choosing each cut near its spot.

    With a scorer, the cut is where both sides read most confidently (recognition-
    based segmentation: loops that overlap have no thin neck to find); without,
    it is the column with the least ink.
    """
    count = max(2, round(blob.w / digit_width))
    profile = (region > 0).sum(axis=0)
    step = blob.w / count
    cuts = [0]
    for k in range(1, count):
        lo = max(cuts[-1] + 1, round(k * step - step / 3))
        hi = max(lo + 1, min(blob.w - 1, round(k * step + step / 3)))
        candidates = list(range(lo, hi, max(1, round(step / 24))))
        if score is None:
            cuts.append(candidates[int(np.argmin(profile[candidates]))])
            continue
        right_end = blob.w if k == count - 1 else None
        pairs = [(region[:, cuts[-1] : c], region[:, c : right_end or round(c + step)])
                 for c in candidates]
        confidence = score([piece for pair in pairs for piece in pair]).reshape(-1, 2).min(axis=1)
        cuts.append(candidates[int(np.argmax(confidence))])
    cuts.append(blob.w)
    return [(a, 0, b - a, blob.h) for a, b in zip(cuts, cuts[1:], strict=False)]


def segment_digits(mask: np.ndarray, score: Scorer | None = None) -> list[Segment]:
    """Split a binary ink mask holding one row into digits, left to right.

    `score` (masks -> confidence each) lets touching digits be cut where they read best.
    """
    labels, blobs = _components(mask)
    return _segment_line(labels, blobs, score) if blobs else []


def segment_lines(mask: np.ndarray, score: Scorer | None = None) -> list[list[Segment]]:
    """Split a binary ink mask into lines of digits, top to bottom, each left to right."""
    labels, blobs = _components(mask)
    if not blobs:
        return []
    lines = [_segment_line(labels, group, score) for group in group_lines(join_stacked(labels, blobs, score))]
    return [line for line in lines if line]


def join_stacked(labels: np.ndarray, blobs: list[_Blob], score: Scorer | None = None) -> list[_Blob]:
    """Join pieces of one digit broken across its height (a thin stroke lost to the threshold).

    Two marks, one above the other, sharing most of their width and separated
    by a hairline gap (under STACK_GAP of their joint height) are one digit
    when both are shorter than the page's digits and together no taller;
    otherwise (with a scorer) when the pair reads at least as confidently as
    the worse of the two, else they are two digits of a tightly written column. Without
    this, the top halves and the bottom halves of a broken row make two lines.
    """
    height = _line_height(blobs)
    blobs = list(blobs)
    apart: set[tuple[frozenset[int], frozenset[int]]] = set()  # pairs that read better as two
    changed = True
    while changed:
        changed = False
        blobs.sort(key=lambda b: b.y)
        for i, a in enumerate(blobs):
            for j in range(i + 1, len(blobs)):
                b = blobs[j]
                if b.y > a.y + a.h + STACK_GAP * (a.h + b.h):
                    break
                joined = a.merge(b)
                gap = -_overlap_y(a, b)
                if not (0 <= gap <= STACK_GAP * joined.h and a.overlap_x(b) >= 0.5 * min(a.w, b.w)):
                    continue
                pieces = max(a.h, b.h) < 0.8 * height and joined.h <= 1.3 * height
                if not pieces and score is not None:
                    if (a.labels, b.labels) in apart:
                        continue
                    whole, top, bottom = score([_ink_of(labels, joined), _ink_of(labels, a), _ink_of(labels, b)])
                    if whole < min(top, bottom):
                        apart.add((a.labels, b.labels))
                        continue
                blobs[i] = joined
                del blobs[j]
                changed = True
                break
            if changed:
                break
    return blobs


def _overlap_y(a: _Blob, b: _Blob) -> int:
    return min(a.y + a.h, b.y + b.h) - max(a.y, b.y)


def group_lines(blobs: list[_Blob]) -> list[list[_Blob]]:
    """Cluster components into text lines, top to bottom.

    Digit-sized marks are chained left to right: a mark joins the line whose
    last mark it overlaps most vertically (at least half the shorter one), so
    slightly tilted lines stay whole and a column of digits makes one line per
    digit. Smaller marks (a 5's bar, a hyphen, a broken-off stroke) then join
    the line of their nearest mark, so a digit in pieces stays on one line.
    """
    height = _line_height(blobs)
    main = sorted((b for b in blobs if b.h >= 0.5 * height), key=lambda b: b.x)
    lines: list[list[_Blob]] = []
    for blob in main:
        best, best_share = None, 0.5
        for line in lines:
            last = line[-1]
            share = _overlap_y(last, blob) / min(last.h, blob.h)
            if share > best_share:
                best, best_share = line, share
        if best is None:
            lines.append([blob])
        else:
            best.append(blob)
    for blob in (b for b in blobs if b.h < 0.5 * height):
        nearest, distance = None, math.inf
        for line in lines:
            for member in line:
                dx = max(0, -member.overlap_x(blob))
                dy = max(0, -_overlap_y(member, blob))
                d = math.hypot(dx, dy) / member.h
                if d < distance:
                    nearest, distance = line, d
        if nearest is not None and distance <= 1.0:
            nearest.append(blob)
    return sorted(lines, key=lambda line: float(np.median([b.y + b.h / 2 for b in line if b.h >= 0.5 * height])))


def _segment_line(labels: np.ndarray, blobs: list[_Blob], score: Scorer | None) -> list[Segment]:
    """One line's components -> its digits left to right: pieces merged, touching digits cut."""
    blobs = _merge_pieces(blobs)
    line = _line_height(blobs)
    # Hyphens, dots and stray marks are far shorter than any digit on the line.
    blobs = [b for b in blobs if b.h >= 0.35 * line]
    digit_width = _digit_width(blobs, line)
    segments: list[Segment] = []
    for blob in blobs:
        own = _ink_of(labels, blob)
        if len(blob.labels) > 1:
            # Pieces of one digit: bridge hairline breaks across its height, so a
            # broken 0 reads as a 0 and not as the two strokes of a 5.
            size = int(STACK_GAP * blob.h) + 2
            own = cv2.morphologyEx(own, cv2.MORPH_CLOSE, np.ones((size, 1), np.uint8))
        # Touching digits: wider than tall, or much wider than their neighbours
        # (and wider than a broad 0 could be).
        touching = blob.w > 1.2 * blob.h or (blob.w > 1.6 * digit_width and blob.w > 0.9 * line)
        boxes = _split_touching(own, blob, digit_width, score) if touching else [(0, 0, blob.w, blob.h)]
        pieces = [(own[y : y + h, x : x + w], x, y) for x, y, w, h in boxes]
        pieces = [(piece, x, y) for piece, x, y in pieces if np.count_nonzero(piece)]
        if len(pieces) > 1 and score is not None and blob.w <= WHOLE_WIDTH * blob.h:
            # Many people write a wide 5 or 2: cut only when the pieces read
            # better than the whole mark does.
            confidence = score([own] + [piece for piece, _, _ in pieces])
            if confidence[0] >= confidence[1:].min():
                pieces = [(own, 0, 0)]
        segments.extend(Segment(piece, _tight_box(piece, blob.x + x, blob.y + y), (blob.x + x, blob.y + y))
                        for piece, x, y in pieces)
    return segments


def _ink_of(labels: np.ndarray, blob: _Blob) -> np.ndarray:
    """The blob's own ink (0/255) within its box; other strokes reaching into the box left out."""
    crop = labels[blob.y : blob.y + blob.h, blob.x : blob.x + blob.w]
    lookup = np.zeros(int(crop.max()) + 1, np.uint8)
    lookup[list(blob.labels)] = 255
    return lookup[crop]


def _tight_box(piece: np.ndarray, x: int, y: int) -> Box:
    ys, xs = np.nonzero(piece)
    return (x + int(xs.min()), y + int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)


def single_digit(mask: np.ndarray) -> Segment | None:
    """All the ink (specks dropped) taken as one digit."""
    labels, blobs = _components(mask)
    if not blobs:
        return None
    whole = functools.reduce(_Blob.merge, blobs)
    keep = _ink_of(labels, whole)
    return Segment(keep, _tight_box(keep, whole.x, whole.y), (whole.x, whole.y))


def _to_input_box(box: Box, scale: float, shape: tuple[int, ...]) -> Box:
    x, y, w, h = box
    x0, y0 = math.floor(x / scale), math.floor(y / scale)
    x1 = min(shape[1], math.ceil((x + w) / scale))
    y1 = min(shape[0], math.ceil((y + h) / scale))
    return (x0, y0, x1 - x0, y1 - y0)


def _unturn_box(box: Box, turns: int, shape: tuple[int, ...]) -> Box:
    """A box found in np.rot90(mask, turns) -> the same box in the mask (of `shape`)."""
    h, w = shape[:2]
    x, y, bw, bh = box
    corners = [(x, y), (x + bw - 1, y + bh - 1)]
    turns %= 4
    if turns == 1:
        points = [(w - 1 - cy, cx) for cx, cy in corners]
    elif turns == 2:
        points = [(w - 1 - cx, h - 1 - cy) for cx, cy in corners]
    elif turns == 3:
        points = [(cy, h - 1 - cx) for cx, cy in corners]
    else:
        return box
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1)


def likely_turns(mask: np.ndarray) -> tuple[int, ...]:
    """The quarter turns worth reading, from the shape of the marks.

    Handwritten digits are taller than wide (MNIST's median is about 1.4:1),
    so marks that are mostly wider than tall say the page lies on its side:
    the two sideways turns are read first; mostly taller, only upright and
    upside down. Square marks leave all four to the reader; one or two
    marks are read as given.
    """
    _, blobs = _components(mask)
    if not blobs:
        return (0,)
    height = _line_height(blobs)
    main = [b for b in blobs if b.h >= 0.5 * height or b.w >= 0.5 * height]
    if len(main) < 3:
        return (0,)  # one or two digits cannot say which way is up (a 6 turned is a 9)
    tall = float(np.median([math.log(b.h / b.w) for b in main]))
    if tall > ASPECT_CUE:
        return (0, 2)
    if tall < -ASPECT_CUE:
        # Upright too, last: a row of digits broken across their height also looks wide.
        return (1, 3, 0)
    return (0, 1, 2, 3)


def _orientation_score(lines: list[list[DigitReading]]) -> float:
    """How well a reading looks upright: mean digit confidence, less a little for lines of one digit.

    A page turned a quarter makes each digit its own line; a real column does too,
    but then its upright digits also read confidently.
    """
    digits = [d for line in lines for d in line]
    mean = float(np.mean([d.confidence for d in digits]))
    singles = sum(1 for line in lines if len(line) == 1) / len(lines)
    return mean - 0.05 * singles


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


# --- the reader -----------------------------------------------------------------


class DigitReader:
    """Reads handwritten digits with the packaged MNIST CNN on ONNX Runtime.

    The model takes float32 [N,1,28,28] MNIST-style ink in [0,1] and returns
    logits (see boda.apps.vision.training).
    """

    def __init__(self, model_path: Path | None = None, *, options: OnnxOptions | None = None) -> None:
        self.model = OnnxModel(model_path or DEFAULT_MODEL, options)

    def classify(self, batch: np.ndarray) -> np.ndarray:
        """(N,28,28) uint8 MNIST-style digits -> (N,10) probabilities."""
        batch = np.asarray(batch)
        if batch.ndim != 3 or batch.shape[1:] != (MNIST_SIZE, MNIST_SIZE) or batch.dtype != np.uint8:
            raise InvalidInput(f"Expected (N, 28, 28) uint8 digits, got {batch.dtype} {batch.shape}")
        if len(batch) == 0:
            return np.zeros((0, 10), np.float32)
        x = (batch.astype(np.float32) / 255.0)[:, None, :, :]
        return softmax(self.model.run(x)[0].astype(np.float32))

    def read_digit(self, image: np.ndarray) -> DigitReading:
        """Read one digit: all the ink in the picture is taken as a single digit."""
        focus = focused_ink_mask(image)
        segment = single_digit(focus.mask)
        if segment is None:
            raise InvalidInput("No digit found: the image looks blank", key="blank_image")
        return _shifted(self._read([segment.with_ink(focus.ink)], focus.scale, focus.shape), focus.offset)[0]

    def read_number(self, image: np.ndarray, *, max_digits: int = 16) -> NumberReading:
        """Read a row of digits (a ZIP code, a meter) left to right."""
        focus = focused_ink_mask(image)
        segments = segment_digits(focus.mask, self._confidences)
        if not segments:
            raise InvalidInput("No digits found: the image looks blank", key="blank_image")
        if len(segments) > max_digits:
            raise InvalidInput(
                f"Found {len(segments)} marks, more than the {max_digits} digits allowed",
                details={"found": len(segments), "max_digits": max_digits},
            )
        grey = [s.with_ink(focus.ink) for s in segments]
        digits = tuple(_shifted(self._read(grey, focus.scale, focus.shape), focus.offset))
        return NumberReading(
            text="".join(str(d.digit) for d in digits),
            digits=digits,
            confidence=min(d.confidence for d in digits),
        )

    def read_page(self, image: np.ndarray, *, rotate: bool = True, max_digits: int = MAX_PAGE_DIGITS) -> PageReading:
        """Read lines of digits (a page, a grid, a column) top to bottom.

        With `rotate`, a page photographed sideways or upside down is found:
        when the upright reading is not clearly confident, the other three
        quarter turns are read too and the one read most confidently wins
        (a turned page reads as wide blobs cut into low-confidence pieces).
        The turns are compared on the binary masks, whose confidences the
        margins were measured on; the winner is then read from its grey ink.
        """
        focus = focused_ink_mask(image)
        best: tuple[float, int, list[list[Segment]]] | None = None
        for turns in likely_turns(focus.mask) if rotate else (0,):
            segments = self._segment_lines(focus, turns, max_digits)
            if not segments:
                continue
            lines = self._read_lines(focus, turns, segments, grey=False)
            quality = _orientation_score(lines) - (0.0 if turns == 0 else ROTATION_MARGIN)
            if best is None or quality > best[0]:
                best = (quality, turns, segments)
            if quality + (0.0 if turns == 0 else ROTATION_MARGIN) >= CONFIDENT_UPRIGHT:
                break  # wrong turns read far less confidently: no need to read the rest
        if best is None:
            raise InvalidInput("No digits found: the image looks blank", key="blank_image")
        _, turns, segments = best
        lines = [_shifted(line, focus.offset) for line in self._read_lines(focus, turns, segments, grey=True)]
        readings = tuple(
            LineReading("".join(str(d.digit) for d in line), tuple(line), min(d.confidence for d in line))
            for line in lines
        )
        return PageReading(
            text="\n".join(line.text for line in readings),
            lines=readings,
            confidence=min(line.confidence for line in readings),
            rotation=90 * turns,
        )

    def _segment_lines(self, focus: Focus, turns: int, max_digits: int) -> list[list[Segment]]:
        """The lines of digits of the focus turned `turns` quarters counter-clockwise."""
        lines = segment_lines(np.ascontiguousarray(np.rot90(focus.mask, turns)), self._confidences)
        count = sum(len(line) for line in lines)
        if count > max_digits:
            raise InvalidInput(
                f"Found {count} marks, more than the {max_digits} digits allowed",
                details={"found": count, "max_digits": max_digits},
            )
        return lines

    def _read_lines(self, focus: Focus, turns: int, lines: list[list[Segment]], *,
                    grey: bool) -> list[list[DigitReading]]:
        """Read segmented lines (from their binary masks or their grey ink); boxes in upright pixels."""
        turned_ink = np.rot90(focus.ink, turns)
        flat = [s.with_ink(turned_ink) if grey else s for line in lines for s in line]
        unturned = [dataclasses.replace(s, box=_unturn_box(s.box, turns, focus.mask.shape)) for s in flat]
        readings = iter(self._read(unturned, focus.scale, focus.shape))
        return [[next(readings) for _ in line] for line in lines]

    def _confidences(self, masks: list[np.ndarray]) -> np.ndarray:
        """Top-class probability of each mask read as a digit; 0 for a mask without ink."""
        inked = [i for i, m in enumerate(masks) if np.count_nonzero(m > 127)]
        confidence = np.zeros(len(masks), np.float32)
        if inked:
            batch = np.stack([normalise_digit(masks[i]) for i in inked])
            confidence[inked] = self.classify(batch).max(axis=1)
        return confidence

    def _read(self, segments: list[Segment], scale: float, shape: tuple[int, ...]) -> list[DigitReading]:
        probabilities = self.classify(np.stack([normalise_digit(s.mask) for s in segments]))
        return [
            DigitReading(
                digit=int(p.argmax()),
                confidence=float(p.max()),
                box=_to_input_box(s.box, scale, shape),
                probabilities=tuple(float(v) for v in p),
            )
            for s, p in zip(segments, probabilities, strict=True)
        ]


@register("digit_reader", "mnist_cnn")
def _mnist_cnn(build: Build) -> DigitReader:
    return DigitReader(build.weights("digits_cnn"), options=build.onnx_options())
