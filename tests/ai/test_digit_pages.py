"""Pages of digits: lines, grids, columns, ruled paper, shadows, quarter turns, digits never split.

Every page is built from held-out MNIST *test* digits (boda.apps.vision.synthetic).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from boda.ai.digits import DigitReader, _unturn_box, ink_mask, remove_rules, segment_lines
from boda.ai.onnx import OnnxOptions
from boda.apps.vision.mnist import load_mnist
from boda.apps.vision.synthetic import PageSpec, make_page, one_digit_photo


@pytest.fixture(scope="module")
def reader() -> DigitReader:
    return DigitReader(options=OnnxOptions(threads=1))


@pytest.fixture(scope="module")
def mnist_test() -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_mnist("test")
    # Digits the model reads right on their own, so a failure here is the page's fault, not the model's.
    return images[:3000], labels[:3000]


def pages(spec: PageSpec, mnist_test: tuple[np.ndarray, np.ndarray], count: int, seed: int
          ) -> list[tuple[np.ndarray, list[str]]]:
    rng = np.random.default_rng(seed)
    return [make_page(spec, *mnist_test, rng) for _ in range(count)]


def line_accuracy(reader: DigitReader, spec: PageSpec, mnist_test: tuple[np.ndarray, np.ndarray],
                  count: int = 4, seed: int = 1) -> float:
    right = total = 0
    for image, texts in pages(spec, mnist_test, count, seed):
        got = reader.read_page(image).text.split("\n")
        total += len(texts)
        if len(got) == len(texts):
            right += sum(a == b for a, b in zip(got, texts, strict=True))
    return right / total


def test_a_page_reads_line_by_line_top_to_bottom(reader: DigitReader, mnist_test) -> None:
    (image, texts), = pages(PageSpec(lines=4), mnist_test, 1, seed=0)
    page = reader.read_page(image)
    assert len(page.lines) == 4 and page.rotation == 0
    assert page.text == "\n".join(line.text for line in page.lines)
    assert sum(a == b for a, b in zip(page.text.split("\n"), texts, strict=True)) >= 3
    tops = [min(d.box[1] for d in line.digits) for line in page.lines]
    assert tops == sorted(tops)
    for line in page.lines:
        xs = [d.box[0] for d in line.digits]
        assert xs == sorted(xs)
        assert line.confidence == min(d.confidence for d in line.digits)
    assert page.confidence == min(line.confidence for line in page.lines)
    assert page.digits == tuple(d for line in page.lines for d in line.digits)


@pytest.mark.parametrize("spec", [PageSpec(), PageSpec(ruled=True), PageSpec(shadow=True),
                                  PageSpec(column=True, lines=6)], ids=["plain", "ruled", "shadow", "column"])
def test_most_lines_read_exactly(reader: DigitReader, mnist_test, spec: PageSpec) -> None:
    assert line_accuracy(reader, spec, mnist_test, count=3) >= 0.75


def test_a_grid_reads_row_by_row(reader: DigitReader, mnist_test) -> None:
    images, labels = mnist_test
    canvas = np.full((420, 420), 255, np.uint8)
    rows = []
    for r in range(3):
        text = ""
        for c in range(3):
            i = 3 * r + c
            canvas[40 + 130 * r : 40 + 130 * r + 84, 40 + 130 * c : 40 + 130 * c + 84] = 255 - cv2.resize(
                images[i], (84, 84))
            text += str(labels[i])
        rows.append(text)
    assert reader.read_page(canvas).text == "\n".join(rows)


@pytest.mark.parametrize("turns", [1, 2, 3])
def test_a_turned_page_is_found_and_read(reader: DigitReader, mnist_test, turns: int) -> None:
    (image, texts), = pages(PageSpec(lines=3, per_line=(5, 7), turns=turns), mnist_test, 1, seed=turns)
    page = reader.read_page(image)
    assert page.rotation == (360 - 90 * turns) % 360
    assert sum(a == b for a, b in zip(page.text.split("\n"), texts, strict=False)) >= 2
    h, w = image.shape[:2]
    for d in page.digits:  # boxes are in the picture as given, not in the turned one
        x, y, bw, bh = d.box
        assert x >= 0 and y >= 0 and x + bw <= w and y + bh <= h
    tall = np.median([d.box[3] / d.box[2] for d in page.digits])
    assert tall > 1.1 if turns == 2 else tall < 0.9


def test_without_rotate_a_turned_page_is_read_as_given(reader: DigitReader, mnist_test) -> None:
    (image, _), = pages(PageSpec(lines=3, turns=1), mnist_test, 1, seed=7)
    assert reader.read_page(image, rotate=False).rotation == 0


def test_unturned_boxes_land_on_the_same_pixels() -> None:
    mask = np.zeros((50, 80), np.uint8)
    mask[10:20, 30:35] = 255
    for turns in range(4):
        turned = np.rot90(mask, turns)
        ys, xs = np.nonzero(turned)
        box = (int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
        assert _unturn_box(box, turns, mask.shape) == (30, 10, 5, 10)


def test_ruled_lines_are_removed_and_digits_on_them_mended() -> None:
    mask = np.zeros((300, 600), np.uint8)
    for y in (100, 200):
        cv2.line(mask, (0, y), (599, y), 255, 2)
    cv2.line(mask, (100, 60), (100, 140), 255, 5)  # a "1" crossing the first rule
    cleaned = remove_rules(mask)
    assert np.count_nonzero(cleaned[200]) == 0 and np.count_nonzero(cleaned[100, 200:]) == 0
    count, _, stats, _ = cv2.connectedComponentsWithStats(cleaned)
    assert count == 2 and stats[1, 3] >= 78  # the 1 is whole again


def test_a_lone_thin_stroke_is_not_taken_for_a_rule() -> None:
    mask = np.zeros((300, 300), np.uint8)
    cv2.line(mask, (150, 20), (150, 280), 255, 3)  # a long thin 1
    cv2.line(mask, (40, 20), (260, 20), 255, 3)  # a 7's bar, or an underline above: only a third of it may go
    assert np.count_nonzero(remove_rules(mask)[:, 150]) >= 250


def test_one_digit_in_several_strokes_is_never_split(reader: DigitReader, mnist_test) -> None:
    """Cut digits' ink in two with a thin gap (a pen lifted, a stroke too thin to threshold)."""
    images, labels = mnist_test
    canvas = np.full((160, 900), 255, np.uint8)
    text = ""
    for k in range(8):
        digit = cv2.resize(images[20 + k], (84, 84))
        if k % 2:
            digit[40:43, :] = 0  # a horizontal break through the middle of every other digit
        canvas[40:124, 20 + 110 * k : 104 + 110 * k] = 255 - digit
        text += str(labels[20 + k])
    mask, _ = ink_mask(canvas)
    assert cv2.connectedComponents(mask)[0] - 1 >= 12  # the breaks really split strokes
    lines = segment_lines(mask, reader._confidences)
    assert [len(line) for line in lines] == [8]
    page = reader.read_page(canvas)
    assert len(page.lines) == 1 and len(page.digits) == 8
    # The cut can take a 9's loop off its stem; the rest read as written.
    assert sum(a == b for a, b in zip(page.text, text, strict=True)) >= 7


def test_wide_digits_are_not_cut(reader: DigitReader) -> None:
    ink = np.zeros((200, 700), np.uint8)
    for i, x in enumerate((30, 260, 490)):
        cv2.putText(ink, "5" if i != 1 else "2", (x, 160), cv2.FONT_HERSHEY_SIMPLEX, 5, 255, 14, cv2.LINE_AA)
    wide = cv2.resize(ink, (1050, 200))  # 1.5x wider: each digit now wider than tall
    assert reader.read_page(255 - wide).text == "525"


def test_blank_page_is_invalid_input(reader: DigitReader) -> None:
    from boda.core.errors import InvalidInput

    with pytest.raises(InvalidInput):
        reader.read_page(np.full((300, 400), 230, np.uint8))


def test_a_small_thin_digit_in_a_12_mp_photo_is_one_digit(reader: DigitReader, mnist_test) -> None:
    """A shadow over most of the sheet once made it read as a dark board (nothing found)."""
    images, labels = mnist_test
    rng = np.random.default_rng(3)
    right = 0
    for i in (0, 1, 2):
        photo = one_digit_photo(images[i], rng)
        page = reader.read_page(photo)
        assert len(page.digits) == 1
        x, y, w, h = page.digits[0].box
        assert 100 <= h <= 240 and w < h  # the digit's own box in the full photo
        right += page.text == str(labels[i])
        right += reader.read_digit(photo).digit == labels[i]
    assert right >= 5
