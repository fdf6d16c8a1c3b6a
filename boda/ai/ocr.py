"""Text in photos: Tesseract (Korean and English), run as the `tesseract` program.

The program, not a binding: Debian's `tesseract-ocr` (5.x) with `tesseract-ocr-kor` is what
users install, and a subprocess lets each call carry its own thread limit (OpenMP reads
OMP_THREAD_LIMIT from the environment, which pytesseract cannot set per call), its own
time limit (the process is killed when it runs over) and the image on stdin with TSV on
stdout, no temporary files. When the program or a language's data is missing the reader
says so (`available()`, `problem`) and `read` raises Unavailable: the app keeps working,
photos are indexed without their text.

Photos are not pages: the reader uses Tesseract's sparse-text mode (psm 11), which finds
scattered signs and labels that the page layout mode skipped entirely in our tests (every
Korean word of a rendered sign); it reads grayscale, enlarges small images (text in a
thumbnail-sized photo is a few pixels high, below what Tesseract reads) and shrinks huge
ones (time grows with pixels). Tesseract splits Korean words into syllables when the
letter spacing is wide; single syllables close to their neighbours are joined back, so
"김치찌개" is found as one word. Texture read as text (wood grain, hair) is dropped: words
without letters or digits, and short words Tesseract is unsure of (`plausible`).
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from PIL import Image

from boda.ai.registry import Build, inference_threads, register
from boda.core.errors import InvalidInput, Unavailable

log = logging.getLogger(__name__)

DEFAULT_LANGUAGES = "kor+eng"
DEFAULT_TIMEOUT = 30.0  # seconds per photo; a 2000 px photo of dense text takes a few on one core
# Tesseract reads texture (wood grain, hair, foliage) as short "words": on the face and coffee
# fixtures, which have no text, every such word was symbols, 1-2 letters or one syllable under
# 0.8, or longer under 0.5; the real words drawn in the tests scored 0.59-0.97.
MIN_CONFIDENCE = 0.5
SHORT_WORD_CONFIDENCE = 0.8  # for words of under 3 letters (a Hangul syllable counts 2)
UPSCALE_BELOW = 1000  # images whose long side is shorter are read at twice their size
MAX_SIDE = 2500  # larger images are shrunk to this long side first
SPARSE_TEXT = "11"  # Tesseract's page segmentation mode for scattered text without layout
JOIN_GAP = 0.4  # adjacent Hangul pieces closer than this x their height are one word
_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")
_SYLLABLE = re.compile(r"[\uac00-\ud7a3]")


@dataclass(frozen=True)
class Word:
    text: str
    box: tuple[int, int, int, int]  # x, y, w, h in the image's pixels
    confidence: float  # 0..1


@dataclass(frozen=True)
class OcrResult:
    text: str  # the words line by line, lines joined by newlines (what search indexes)
    words: list[Word] = field(default_factory=list)
    languages: str = ""


class TextReader(Protocol):
    name: str

    def available(self) -> bool: ...

    def read(self, image: Image.Image | np.ndarray) -> OcrResult: ...


# --- preprocessing --------------------------------------------------------------------


def as_gray(image: Image.Image | np.ndarray) -> Image.Image:
    """A grayscale PIL image from a PIL image or an OpenCV array (gray, BGR or BGRA)."""
    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "P"):
            image = image.convert("RGBA")
            backdrop = Image.new("RGBA", image.size, (255, 255, 255, 255))
            image = Image.alpha_composite(backdrop, image)  # transparent text on white, not on black
        return image.convert("L")
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.size == 0 or array.ndim not in (2, 3):
        raise InvalidInput("Expected a non-empty uint8 image", details={"shape": list(array.shape)})
    if array.ndim == 3:
        if array.shape[2] not in (1, 3, 4):
            raise InvalidInput("Expected a gray, BGR or BGRA image", details={"shape": list(array.shape)})
        if array.shape[2] == 1:
            array = array[:, :, 0]
        else:  # BGR(A) to luma with the ITU-R 601 weights PIL uses for "L"
            array = (array[:, :, 0] * 0.114 + array[:, :, 1] * 0.587 + array[:, :, 2] * 0.299).round().astype(np.uint8)
    return Image.fromarray(np.ascontiguousarray(array), mode="L")


def reading_scale(width: int, height: int) -> float:
    """How much to resize before reading: 2 for small images, down to MAX_SIDE for huge ones."""
    side = max(width, height)
    if side < UPSCALE_BELOW:
        return 2.0
    if side > MAX_SIDE:
        return MAX_SIDE / side
    return 1.0


def prepare(image: Image.Image | np.ndarray) -> tuple[Image.Image, float]:
    gray = as_gray(image)
    scale = reading_scale(*gray.size)
    if scale != 1.0:
        size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
        gray = gray.resize(size, Image.Resampling.LANCZOS if scale > 1 else Image.Resampling.BOX)
    return gray, scale


# --- Tesseract's TSV ---------------------------------------------------------------------


def parse_tsv(tsv: str, scale: float, min_confidence: float = MIN_CONFIDENCE) -> list[list[Word]]:
    """Words grouped by line, in reading order, boxes back in the original image's pixels."""
    lines: dict[tuple[str, str, str, str], list[Word]] = {}
    for row in tsv.splitlines()[1:]:
        cells = row.split("\t")
        if len(cells) != 12 or cells[0] != "5":  # level 5: a word
            continue
        text = cells[11].strip()
        try:
            confidence = float(cells[10]) / 100
            left, top, width, height = (int(value) for value in cells[6:10])
        except ValueError:
            continue
        if not text:
            continue
        box = (round(left / scale), round(top / scale), max(1, round(width / scale)), max(1, round(height / scale)))
        lines.setdefault((cells[1], cells[2], cells[3], cells[4]), []).append(Word(text, box, confidence))
    # Reading order, top to bottom then left to right: sparse mode's block order is its own.
    ordered = sorted(lines.values(), key=lambda words: (min(w.box[1] for w in words), words[0].box[0]))
    # Judged after joining: a split syllable alone is short, the word it belongs to is not.
    kept = [[w for w in join_hangul(words) if plausible(w.text, w.confidence, min_confidence)] for words in ordered]
    return [words for words in kept if words]


def plausible(text: str, confidence: float, min_confidence: float = MIN_CONFIDENCE) -> bool:
    """Whether a read word is likely text and not texture: letters or digits, and the shorter
    the word, the surer Tesseract must be."""
    letters = sum(2 if _SYLLABLE.fullmatch(c) else 1 for c in text if c.isalnum())
    if letters == 0:
        return False
    return confidence >= (min_confidence if letters >= 3 else max(min_confidence, SHORT_WORD_CONFIDENCE))


def join_hangul(words: Sequence[Word]) -> list[Word]:
    """Korean words Tesseract split into syllables, joined back.

    A piece joins the word before it when both are Hangul, one of the two pieces is a single
    syllable (what a wrong split leaves; two real words rarely are) and the gap is under
    JOIN_GAP x the height (Tesseract's boxes for such pieces may even overlap).
    """
    joined: list[Word] = []
    previous: Word | None = None
    for word in words:
        if joined and previous is not None:
            last = joined[-1]
            gap = word.box[0] - (last.box[0] + last.box[2])
            height = max(last.box[3], word.box[3])
            if (_HANGUL.fullmatch(last.text[-1]) and _HANGUL.fullmatch(word.text[0])
                    and (len(previous.text) == 1 or len(word.text) == 1)
                    and word.box[0] > last.box[0] and gap < height * JOIN_GAP):
                x1, y1 = min(last.box[0], word.box[0]), min(last.box[1], word.box[1])
                x2 = max(last.box[0] + last.box[2], word.box[0] + word.box[2])
                y2 = max(last.box[1] + last.box[3], word.box[1] + word.box[3])
                joined[-1] = Word(last.text + word.text, (x1, y1, x2 - x1, y2 - y1),
                                  min(last.confidence, word.confidence))
                previous = word
                continue
        joined.append(word)
        previous = word
    return joined


# --- the reader ------------------------------------------------------------------------


class TesseractReader:
    """Tesseract as a program: one process per photo, bounded in threads and time."""

    name = "tesseract"

    def __init__(
        self,
        languages: str = DEFAULT_LANGUAGES,
        *,
        command: str = "tesseract",
        threads: int = 1,
        timeout: float = DEFAULT_TIMEOUT,
        min_confidence: float = MIN_CONFIDENCE,
    ) -> None:
        self.languages = languages
        self.command = command
        self.threads = max(1, threads)
        self.timeout = timeout
        self.min_confidence = min_confidence
        self._checked: str | None = None  # "" when usable, else why not
        self._lock = threading.Lock()

    @property
    def problem(self) -> str:
        """Why this reader cannot run ("" when it can); asked of the program once per process."""
        with self._lock:
            if self._checked is None:
                self._checked = self._check()
                if self._checked:
                    log.warning("Text in photos is off: %s", self._checked)
            return self._checked

    def available(self) -> bool:
        return not self.problem

    def _check(self) -> str:
        program = shutil.which(self.command)
        if program is None:
            return (f"the {self.command!r} program is not installed "
                    "(Debian/Ubuntu: apt-get install tesseract-ocr tesseract-ocr-kor)")
        self.command = program
        wanted = [language for language in self.languages.split("+") if language]
        if not wanted:
            return "no OCR languages are set (ai.ocr_languages, e.g. kor+eng)"
        try:
            listed = subprocess.run([program, "--list-langs"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{program} does not run: {exc}"
        # The first line names the data folder; the languages follow, one a line.
        have = {line.strip() for line in (listed.stdout + listed.stderr).splitlines()[1:]}
        missing = [language for language in wanted if language not in have]
        if missing:
            return (f"Tesseract has no data for {', '.join(missing)} "
                    f"(Debian/Ubuntu: apt-get install {' '.join(f'tesseract-ocr-{m}' for m in missing)})")
        return ""

    def read(self, image: Image.Image | np.ndarray) -> OcrResult:
        if self.problem:
            raise Unavailable(f"Text in photos is unavailable: {self.problem}", details={"ocr": self.name})
        gray, scale = prepare(image)
        png = io.BytesIO()
        gray.save(png, format="PNG", compress_level=1)
        environment = {**os.environ, "OMP_THREAD_LIMIT": str(self.threads)}
        args = [self.command, "stdin", "stdout", "-l", self.languages, "--psm", SPARSE_TEXT, "tsv"]
        try:
            done = subprocess.run(args, input=png.getvalue(), capture_output=True, timeout=self.timeout,
                                  env=environment, check=False)
        except subprocess.TimeoutExpired as exc:  # subprocess.run kills the process before raising
            raise Unavailable(f"Reading text took longer than {self.timeout:g} s",
                              details={"ocr": self.name, "timeout": self.timeout}) from exc
        except OSError as exc:
            raise Unavailable(f"Cannot run {self.command}: {exc}", details={"ocr": self.name}) from exc
        if done.returncode != 0:
            message = done.stderr.decode(errors="replace").strip().splitlines()
            raise Unavailable(f"Tesseract failed: {message[-1] if message else done.returncode}",
                              details={"ocr": self.name})
        lines = parse_tsv(done.stdout.decode(errors="replace"), scale, self.min_confidence)
        words = [word for line in lines for word in line]
        text = "\n".join(" ".join(word.text for word in line) for line in lines if line)
        return OcrResult(text, words, self.languages)


@register("ocr", "tesseract")
def _tesseract(build: Build) -> TesseractReader:
    """Built even when Tesseract is missing: callers ask `available()` and index photos without text."""
    return TesseractReader(build.settings.ai.ocr_languages or DEFAULT_LANGUAGES,
                           threads=inference_threads(build.settings))
