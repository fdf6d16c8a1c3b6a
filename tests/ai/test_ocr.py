"""Text in photos with the real Tesseract (Debian tesseract-ocr + tesseract-ocr-kor) on images
drawn here with the Korean web font the app serves (Pretendard, SIL OFL)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from boda.ai.ocr import (
    MAX_SIDE,
    OcrResult,
    TesseractReader,
    Word,
    parse_tsv,
    prepare,
    reading_scale,
)
from boda.ai.registry import Providers
from boda.core.config import Settings
from boda.core.errors import Unavailable
from tests.conftest import FIXTURES

FONT = Path(__file__).parents[2] / "boda" / "web" / "static" / "vendor" / "pretendard" / "PretendardVariable.woff2"
Box = tuple[int, int, int, int]

# A shop sign: (text, top-left, size in px).
SIGN = [("서울역", (40, 40), 36), ("COFFEE", (380, 50), 32), ("김치찌개", (60, 160), 28),
        ("Open", (330, 260), 22), ("출구", (60, 280), 20)]


def draw(size: tuple[int, int], items: list[tuple[str, tuple[int, int], int]],
         background: tuple[int, int, int] = (235, 230, 220), ink: tuple[int, int, int] = (20, 20, 30),
         ) -> tuple[Image.Image, dict[str, Box]]:
    """The image and where each text was drawn (x, y, w, h of its ink)."""
    image = Image.new("RGB", size, background)
    pen = ImageDraw.Draw(image)
    where = {}
    for text, origin, px in items:
        font = ImageFont.truetype(str(FONT), px)
        pen.text(origin, text, font=font, fill=ink)
        x1, y1, x2, y2 = pen.textbbox(origin, text, font=font)
        where[text] = (x1, y1, x2 - x1, y2 - y1)
    return image, where


def iou(a: Box, b: Box) -> float:
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    w = max(0, min(ax2, bx2) - max(a[0], b[0]))
    h = max(0, min(ay2, by2) - max(a[1], b[1]))
    return w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


@pytest.fixture(scope="module")
def reader() -> TesseractReader:
    found = TesseractReader("kor+eng")
    assert found.available(), found.problem
    return found


@pytest.fixture(scope="module")
def sign() -> tuple[Image.Image, dict[str, Box]]:
    return draw((640, 360), SIGN)


@pytest.fixture(scope="module")
def sign_read(reader: TesseractReader, sign: tuple[Image.Image, dict[str, Box]]) -> OcrResult:
    return reader.read(sign[0])


def test_korean_and_english_words_are_read_where_they_were_drawn(
    sign: tuple[Image.Image, dict[str, Box]], sign_read: OcrResult
) -> None:
    _, where = sign
    found = {word.text: word for word in sign_read.words}
    for text, drawn in where.items():
        assert text in found, f"{text!r} not read; read {sorted(found)}"
        assert iou(found[text].box, drawn) >= 0.6, (text, found[text].box, drawn)
        assert 0.4 <= found[text].confidence <= 1.0
    assert sign_read.text.splitlines() == ["서울역", "COFFEE", "김치찌개", "Open", "출구"]  # reading order
    assert sign_read.languages == "kor+eng"


def test_small_text_and_light_text_on_dark(reader: TesseractReader) -> None:
    image, where = draw((400, 200), [("주차장 입구 Parking", (20, 20), 18)], background=(250, 250, 250),
                        ink=(0, 0, 0))
    dark = Image.new("RGB", (400, 110), (30, 60, 120))
    ImageDraw.Draw(dark).text((20, 20), "도서관 Library", font=ImageFont.truetype(str(FONT), 24), fill=(255, 255, 255))
    image.paste(dark, (0, 90))
    result = reader.read(image)
    assert result.text.splitlines() == ["주차장 입구 Parking", "도서관 Library"]
    first = next(word for word in result.words if word.text == "주차장")
    assert abs(first.box[0] - 20) <= 3 and abs(first.box[1] - where["주차장 입구 Parking"][1]) <= 3


def test_opencv_arrays_read_like_pil_images(reader: TesseractReader, sign: tuple[Image.Image, dict[str, Box]],
                                            sign_read: OcrResult) -> None:
    bgr = np.asarray(sign[0])[:, :, ::-1].copy()
    assert reader.read(bgr).text == sign_read.text
    assert reader.read(np.full((50, 80), 255, np.uint8)).text == ""


def test_blank_photo_has_no_text(reader: TesseractReader) -> None:
    result = reader.read(Image.new("RGB", (300, 200), (128, 140, 90)))
    assert result == OcrResult("", [], "kor+eng")


@pytest.mark.parametrize("photo", ["coffee.jpg", "group.jpg", "astronaut.jpg"])
def test_texture_in_photos_without_text_is_not_read_as_words(reader: TesseractReader, photo: str) -> None:
    """Wood grain, hair and a spacesuit: Tesseract reads symbols and short letter runs there."""
    assert reader.read(cv2.imread(str(FIXTURES / "faces" / photo), cv2.IMREAD_COLOR)).words == []


def test_missing_program_or_language_is_a_clear_unavailable_state() -> None:
    no_program = TesseractReader(command="no-such-tesseract-here")
    assert not no_program.available() and "apt-get install tesseract-ocr" in no_program.problem
    with pytest.raises(Unavailable, match="unavailable"):
        no_program.read(Image.new("RGB", (10, 10)))
    no_language = TesseractReader("kor+xyz")
    assert not no_language.available()
    assert "xyz" in no_language.problem and "kor" not in no_language.problem.split("for ")[1].split(" (")[0]
    with pytest.raises(Unavailable):
        no_language.read(Image.new("RGB", (10, 10)))


def test_a_read_over_its_time_limit_is_stopped(sign: tuple[Image.Image, dict[str, Box]]) -> None:
    hasty = TesseractReader(timeout=0.05)
    with pytest.raises(Unavailable) as caught:
        hasty.read(sign[0].resize((1800, 1000)))
    assert caught.value.details["timeout"] == 0.05


def test_small_images_are_enlarged_and_huge_ones_shrunk() -> None:
    assert reading_scale(640, 360) == 2.0
    assert reading_scale(1600, 1200) == 1.0
    gray, scale = prepare(Image.new("RGB", (5000, 2000), (255, 0, 0)))
    assert gray.mode == "L" and gray.size == (MAX_SIDE, 1000) and scale == MAX_SIDE / 5000
    transparent = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    assert prepare(transparent)[0].getpixel((0, 0)) == 255  # transparent means paper, not ink


def test_tsv_words_are_filtered_scaled_and_korean_syllables_joined() -> None:
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"

    def row(line: int, left: int, width: int, conf: float, text: str, top: int = 100, height: int = 40) -> str:
        return f"5\t1\t1\t1\t{line}\t1\t{left}\t{top}\t{width}\t{height}\t{conf}\t{text}"

    tsv = "\n".join([
        header,
        "4\t1\t1\t1\t1\t0\t0\t0\t10\t10\t-1\t",  # a line row, not a word
        row(1, 100, 40, 95, "김"), row(1, 145, 40, 90, "치"),  # gap 5 < 0.4 x 40: one word
        row(1, 190, 80, 93, "찌개"),  # gap 5 after a single syllable: the same word
        row(1, 275, 80, 94, "먹자"),  # two syllables after a word, however close: a second word
        row(1, 400, 60, 99, "~~"),  # no letters: dropped
        row(1, 500, 30, 70, "ad"),  # short and unsure: dropped
        row(2, 100, 80, 96, "Open"), row(2, 185, 40, 96, "24"),  # English is never joined
    ])
    lines = parse_tsv(tsv, scale=2.0)
    assert [[w.text for w in line] for line in lines] == [["김치찌개", "먹자"], ["Open", "24"]]
    assert lines[0][0] == Word("김치찌개", (50, 50, 85, 20), 0.9)


def test_registered_reader_takes_its_languages_from_settings(tmp_path: Path) -> None:
    providers = Providers(Settings(_env_file=None, data_dir=tmp_path,  # type: ignore[call-arg]
                                   ai={"threads": 1, "ocr_languages": "eng"}))
    reader = providers.get("ocr")
    assert isinstance(reader, TesseractReader) and reader.languages == "eng" and reader.available()
    image, _ = draw((400, 120), [("Library", (30, 30), 30)], background=(255, 255, 255))
    assert reader.read(image).text == "Library"
