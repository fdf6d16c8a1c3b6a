"""Digit reading with the committed model: MNIST accuracy, synthetic photos, segmentation."""

from __future__ import annotations

from dataclasses import FrozenInstanceError

import cv2
import numpy as np
import pytest

from boda.ai.digits import (
    DEFAULT_MODEL,
    SATURATED_SHARE,
    DigitReader,
    deskew,
    grey_ink,
    ink_mask,
    normalise_digit,
    segment_digits,
    to_gray,
)
from boda.ai.onnx import OnnxOptions
from boda.apps.vision.mnist import load_mnist
from boda.core.errors import InvalidInput

# Handwriting-style pen paths in a unit box (x right, y down), drawn as smooth
# curves: an open-top 4 in two strokes and a 5 whose top bar is lifted off the
# body, the way many people write them.
PEN_STROKES: dict[str, list[list[tuple[float, float]]]] = {
    "0": [[(0.5, 0.0), (0.15, 0.2), (0.08, 0.55), (0.25, 0.92), (0.55, 1.0), (0.85, 0.75),
           (0.9, 0.35), (0.7, 0.05), (0.5, 0.0)]],
    "1": [[(0.3, 0.18), (0.55, 0.0), (0.55, 1.0)]],
    "2": [[(0.1, 0.25), (0.3, 0.03), (0.6, 0.0), (0.85, 0.2), (0.75, 0.5), (0.1, 1.0), (0.95, 0.98)]],
    "3": [[(0.1, 0.12), (0.45, 0.0), (0.8, 0.15), (0.7, 0.4), (0.4, 0.48), (0.8, 0.6), (0.85, 0.85),
           (0.45, 1.0), (0.08, 0.88)]],
    "4": [[(0.6, 0.0), (0.08, 0.65), (0.95, 0.65)], [(0.7, 0.25), (0.7, 1.0)]],
    "5": [[(0.3, 0.0), (0.9, 0.0)], [(0.25, 0.14), (0.18, 0.45), (0.55, 0.38), (0.88, 0.58),
                                    (0.85, 0.85), (0.5, 1.0), (0.1, 0.9)]],
    "6": [[(0.75, 0.0), (0.35, 0.3), (0.12, 0.7), (0.3, 0.97), (0.6, 0.98), (0.82, 0.75), (0.65, 0.52),
           (0.35, 0.55), (0.14, 0.72)]],
    "7": [[(0.05, 0.02), (0.95, 0.0), (0.4, 1.0)]],
    "8": [[(0.5, 0.47), (0.2, 0.28), (0.28, 0.04), (0.55, 0.0), (0.78, 0.1), (0.75, 0.3), (0.5, 0.47),
           (0.15, 0.7), (0.25, 0.95), (0.55, 1.0), (0.85, 0.85), (0.8, 0.62), (0.5, 0.47)]],
    "9": [[(0.82, 0.2), (0.6, 0.0), (0.3, 0.02), (0.15, 0.25), (0.3, 0.45), (0.6, 0.42), (0.82, 0.2),
           (0.8, 0.6), (0.72, 1.0)]],
}


def smooth(points: list[tuple[float, float]], per_segment: int = 12) -> np.ndarray:
    """Catmull-Rom curve through the points, so strokes look drawn, not plotted."""
    p = np.array(points, float)
    if len(p) < 3:
        return p
    ext = np.vstack([p[0], p, p[-1]])
    out = []
    for i in range(1, len(ext) - 2):
        p0, p1, p2, p3 = ext[i - 1], ext[i], ext[i + 1], ext[i + 2]
        for t in np.linspace(0, 1, per_segment, endpoint=False):
            out.append(0.5 * (2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                              + (3 * p1 - p0 - 3 * p2 + p3) * t**3))
    out.append(p[-1])
    return np.array(out)


def draw_pen(ink: np.ndarray, text: str, x: float, y: float, height: float, thickness: int,
             slant: float = 0.0, pitch: float = 1.35) -> None:
    """Write `text` with a round pen onto an ink layer (255 = ink)."""
    width = 0.6 * height
    for i, char in enumerate(text):
        for stroke in PEN_STROKES[char]:
            pts = smooth(stroke)
            px = x + i * width * pitch + pts[:, 0] * width + slant * (1 - pts[:, 1]) * height
            py = y + pts[:, 1] * height
            curve = np.round(np.c_[px, py] * 16).astype(np.int32)
            cv2.polylines(ink, [curve], False, 255, thickness, cv2.LINE_AA, shift=4)


def draw_font(ink: np.ndarray, text: str, x: float, y: float, height: float, thickness: int,
              font: int = cv2.FONT_HERSHEY_SCRIPT_SIMPLEX) -> None:
    """Write `text` with a Hershey font onto an ink layer.

    OpenCV's "script simplex" digits are plain single-stroke shapes (its
    cursive glyphs are letters only), which is what neat handwriting looks
    like; "script complex" adds an italic slant and serifs, still readable.
    """
    scale = cv2.getFontScaleFromHeight(font, int(height), thickness)
    cv2.putText(ink, text, (int(x), int(y + height)), font, scale, 255, thickness, cv2.LINE_AA)


def photo(ink: np.ndarray, *, angle: float = 0.0, seed: int = 0, paper: tuple[int, int] = (185, 235),
          ink_level: int = 40, quality: int = 70) -> np.ndarray:
    """Ink on unevenly lit, grainy paper, slightly rotated, as a JPEG-decoded BGR photo."""
    rng = np.random.default_rng(seed)
    h, w = ink.shape
    yy, xx = np.mgrid[0:h, 0:w]
    paper_level = paper[0] + (paper[1] - paper[0]) * (0.7 * xx / w + 0.3 * yy / h)
    paper_level = paper_level + rng.normal(0, 4, paper_level.shape)
    alpha = ink.astype(float) / 255
    gray = np.clip(paper_level * (1 - alpha) + ink_level * alpha, 0, 255).astype(np.uint8)
    if angle:
        rotation = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        gray = cv2.warpAffine(gray, rotation, (w, h), borderMode=cv2.BORDER_REPLICATE)
    ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


@pytest.fixture(scope="module")
def reader() -> DigitReader:
    return DigitReader(options=OnnxOptions(threads=1))


@pytest.fixture(scope="module")
def mnist_test() -> tuple[np.ndarray, np.ndarray]:
    """The first 2,000 held-out MNIST test digits (the copy carried in the repository)."""
    images, labels = load_mnist("test")
    return images[:2000], labels[:2000]


def test_committed_model_is_small_and_packaged() -> None:
    assert DEFAULT_MODEL.is_file()
    assert DEFAULT_MODEL.stat().st_size < 1_500_000  # two 140k-parameter CNNs
    assert DEFAULT_MODEL.with_suffix(".json").is_file()


def test_accuracy_on_held_out_mnist(reader: DigitReader, mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = mnist_test
    probabilities = reader.classify(images)
    assert probabilities.shape == (len(images), 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert (probabilities.argmax(axis=1) == labels).mean() >= 0.985


def test_pipeline_reproduces_mnist_normalisation(
    reader: DigitReader, mnist_test: tuple[np.ndarray, np.ndarray]
) -> None:
    """MNIST digits enlarged onto paper photos and read back through the full pipeline."""
    images, labels = mnist_test
    correct = 0
    for i in range(300):
        canvas = np.zeros((240, 240), np.uint8)
        canvas[40:208, 50:218] = cv2.resize(images[i], (168, 168), interpolation=cv2.INTER_LINEAR)
        correct += reader.read_digit(photo(canvas, seed=i)).digit == labels[i]
    assert correct / 300 >= 0.97


@pytest.mark.parametrize("digit", list("0123456789"))
@pytest.mark.parametrize(
    ("angle", "thickness", "height", "slant"),
    [(0, 10, 180, 0.0), (5, 6, 150, 0.1), (-6, 14, 200, -0.05), (3, 3, 120, 0.15), (-3, 22, 220, 0.0)],
    ids=["medium-pen", "fine-pen-slanted", "thick-pen", "hairline", "marker"],
)
def test_reads_pen_digit_photo(
    reader: DigitReader, digit: str, angle: float, thickness: int, height: float, slant: float
) -> None:
    ink = np.zeros((300, 300), np.uint8)
    draw_pen(ink, digit, 150 - 0.3 * height, 150 - height / 2, height, thickness, slant)
    reading = reader.read_digit(photo(ink, angle=angle, seed=thickness))
    assert reading.digit == int(digit), reading
    assert reading.confidence == max(reading.probabilities)


@pytest.mark.parametrize("digit", list("0123456789"))
@pytest.mark.parametrize(
    ("font", "thickness", "height", "angle"),
    [(cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 6, 180, 4), (cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 3, 120, -5),
     (cv2.FONT_HERSHEY_SCRIPT_COMPLEX, 5, 170, 0)],
    ids=["script-simplex", "script-simplex-thin", "script-complex"],
)
def test_reads_font_digit_photo(
    reader: DigitReader, digit: str, font: int, thickness: int, height: float, angle: float
) -> None:
    ink = np.zeros((300, 300), np.uint8)
    draw_font(ink, digit, 150 - 0.35 * height, 150 - height / 2, height, thickness, font)
    assert reader.read_digit(photo(ink, angle=angle, seed=thickness)).digit == int(digit)


@pytest.mark.parametrize("text", ["12345", "90210", "67890", "24680", "13579"])
@pytest.mark.parametrize(("style", "angle", "thickness"),
                         [("pen", 0, 9), ("pen", 3, 6), ("pen", -3, 12), ("font", 2, 7), ("font", -2, 4)])
def test_reads_zip_code_photo(reader: DigitReader, text: str, style: str, angle: float,
                              thickness: int) -> None:
    ink = np.zeros((200, 600), np.uint8)
    if style == "pen":
        draw_pen(ink, text, 40, 40, 120, thickness, slant=0.03 * angle)
    else:
        draw_font(ink, text, 40, 45, 110, thickness)
    number = reader.read_number(photo(ink, angle=angle, seed=thickness))
    assert number.text == text
    assert number.confidence == min(d.confidence for d in number.digits)


def test_zip_code_boxes_run_left_to_right_inside_the_image(reader: DigitReader) -> None:
    ink = np.zeros((200, 600), np.uint8)
    draw_pen(ink, "90210", 40, 40, 120, 9)
    image = photo(ink)
    number = reader.read_number(image)
    assert number.text == "90210"
    boxes = [d.box for d in number.digits]
    lefts = [x for x, _, _, _ in boxes]
    assert lefts == sorted(lefts)
    for (x, y, w, h), (next_x, _, _, _) in zip(boxes, boxes[1:], strict=False):
        assert x + w <= next_x  # drawn apart, so boxes do not overlap
        assert y >= 0 and y + h <= 200 and 100 <= h <= 140  # digits are ~120 px tall
    # Each box sits where its digit was drawn (pitch 0.6 * 120 * 1.35 = 97.2 px).
    for i, (x, _, w, _) in enumerate(boxes):
        assert abs(x + w / 2 - (40 + i * 97.2 + 36)) < 25


def test_broken_five_is_one_digit(reader: DigitReader) -> None:
    ink = np.zeros((200, 300), np.uint8)
    draw_pen(ink, "55", 40, 40, 120, 8)
    mask, _ = ink_mask(photo(ink))
    _, labels = cv2.connectedComponents(mask)
    assert labels.max() == 4  # two bars and two bodies
    assert reader.read_number(photo(ink)).text == "55"


def test_touching_digits_are_split(reader: DigitReader) -> None:
    ink = np.zeros((200, 600), np.uint8)
    draw_pen(ink, "12", 30, 40, 120, 10)
    draw_pen(ink, "00", 230, 40, 120, 10, pitch=0.95)  # the two zeros touch
    draw_pen(ink, "5", 400, 40, 120, 10)
    mask, _ = ink_mask(photo(ink))
    assert len(segment_digits(mask)) == 5
    assert cv2.connectedComponents(mask)[0] == 1 + 5  # background, 1, 2, 00, the 5's bar and body
    assert reader.read_number(photo(ink)).text == "12005"


def test_specks_and_hyphens_are_ignored(reader: DigitReader) -> None:
    ink = np.zeros((200, 700), np.uint8)
    draw_pen(ink, "12", 40, 40, 120, 9)
    draw_pen(ink, "345", 330, 40, 120, 9)
    cv2.line(ink, (250, 100), (300, 100), 255, 9, cv2.LINE_AA)  # a hyphen
    for x, y in ((20, 20), (600, 180), (320, 170)):
        cv2.circle(ink, (x, y), 2, 255, -1)  # dust
    assert reader.read_number(photo(ink)).text == "12345"


def test_light_ink_on_dark_canvas(reader: DigitReader) -> None:
    canvas = np.zeros((280, 280), np.uint8)
    draw_pen(canvas, "3", 90, 40, 200, 18)
    assert reader.read_digit(canvas).digit == 3
    row = np.zeros((280, 700), np.uint8)
    draw_pen(row, "2024", 60, 60, 160, 16)
    assert reader.read_number(cv2.cvtColor(row, cv2.COLOR_GRAY2BGR)).text == "2024"


def test_transparent_canvas_png(reader: DigitReader) -> None:
    ink = np.zeros((280, 280), np.uint8)
    draw_pen(ink, "7", 80, 40, 200, 16)
    bgra = np.zeros((280, 280, 4), np.uint8)  # black ink, alpha = where the pen went
    bgra[:, :, 3] = ink
    assert to_gray(bgra)[0, 0] == 255
    assert reader.read_digit(bgra).digit == 7


def test_small_mnist_style_image(reader: DigitReader, mnist_test: tuple[np.ndarray, np.ndarray]) -> None:
    images, labels = mnist_test
    readings = [reader.read_digit(images[i]).digit for i in range(50)]
    assert np.mean(np.array(readings) == labels[:50]) >= 0.96
    reading = reader.read_digit(images[0])
    x, y, w, h = reading.box
    assert x >= 0 and y >= 0 and x + w <= 28 and y + h <= 28


@pytest.mark.parametrize(
    "image",
    [np.full((300, 300, 3), 255, np.uint8), np.zeros((280, 280), np.uint8),
     photo(np.zeros((480, 640), np.uint8), seed=5)],
    ids=["white-paper", "black-canvas", "blank-photo"],
)
def test_blank_images_are_invalid_input(reader: DigitReader, image: np.ndarray) -> None:
    with pytest.raises(InvalidInput, match="No digit"):
        reader.read_digit(image)
    with pytest.raises(InvalidInput, match="No digits"):
        reader.read_number(image)


def test_bad_inputs_are_invalid_input(reader: DigitReader) -> None:
    with pytest.raises(InvalidInput):
        reader.classify(np.zeros((2, 32, 32), np.uint8))
    with pytest.raises(InvalidInput):
        reader.classify(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(InvalidInput):
        reader.read_digit(np.zeros((0, 0), np.uint8))
    with pytest.raises(InvalidInput):
        reader.read_digit(np.zeros((10, 10), np.float32))
    ink = np.zeros((200, 600), np.uint8)
    draw_pen(ink, "12345", 40, 40, 120, 9)
    with pytest.raises(InvalidInput, match="more than the 4 digits"):
        reader.read_number(photo(ink), max_digits=4)


def test_normalised_digit_is_mnist_shaped() -> None:
    ink = np.zeros((300, 300), np.uint8)
    draw_pen(ink, "7", 60, 40, 220, 12)
    mask, _ = ink_mask(photo(ink))
    digit = normalise_digit(mask)
    assert digit.shape == (28, 28) and digit.dtype == np.uint8
    ys, xs = np.nonzero(digit)
    assert max(np.ptp(ys), np.ptp(xs)) + 1 in (19, 20, 21)  # fits the 20x20 box
    moments = cv2.moments(digit)
    assert abs(moments["m10"] / moments["m00"] - 14) <= 0.5
    assert abs(moments["m01"] / moments["m00"] - 14) <= 0.5


def test_grey_ink_keeps_the_strokes_grades_and_leaves_a_neighbours_ink_out() -> None:
    ink = np.zeros((40, 60), np.uint8)
    ink[10:30, 20:23] = 200  # the digit's strong stroke
    ink[10:30, 26:28] = 60  # its faint stroke, which a threshold would drop
    ink[10:30, 45:50] = 250  # the next digit, reaching into the box
    mask = np.zeros((30, 40), np.uint8)  # the digit's mask, its corner at (10, 5) in the ink
    mask[5:25, 10:13] = 255
    mask[5:25, 16:18] = 255
    grey = grey_ink(mask, ink, (10, 5))
    assert grey.shape == mask.shape and grey.dtype == np.uint8
    assert not grey[:, 30:].any()  # the neighbour's ink is outside this digit's mask
    strong, faint = int(grey[15, 11]), int(grey[15, 16])
    assert strong == 255 and 0 < faint < strong  # faint strokes stay, fainter
    inked = grey[cv2.dilate(mask, np.ones((3, 3), np.uint8)) > 0]
    assert (inked == 255).mean() >= SATURATED_SHARE
    assert grey_ink(np.zeros_like(mask), ink, (10, 5)).max() == 0  # no mask, no ink


def test_deskew_makes_a_slanted_stroke_upright() -> None:
    slanted = np.zeros((200, 200), np.uint8)
    cv2.line(slanted, (140, 10), (60, 190), 255, 12)
    upright = deskew(slanted)
    ys, xs = np.nonzero(upright > 127)
    assert np.ptp(xs) < 20 and np.ptp(ys) > 170


def test_segments_are_left_to_right_and_frozen() -> None:
    ink = np.zeros((200, 600), np.uint8)
    draw_pen(ink, "4711", 40, 40, 120, 9)
    mask, scale = ink_mask(photo(ink))
    segments = segment_digits(mask)
    assert scale == 1.0 and len(segments) == 4
    assert [s.box[0] for s in segments] == sorted(s.box[0] for s in segments)
    with pytest.raises(FrozenInstanceError):
        segments[0].box = (0, 0, 1, 1)  # type: ignore[misc]
