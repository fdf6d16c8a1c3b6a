"""Vision's API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, StrictBool, StrictInt

from boda.core.schemas import FileOut, JsonInt, integral

Method = Literal["mosaic", "blur", "box"]
DetectorName = Literal["auto", "yunet", "centerface", "haar"]
# The last index of the full MNIST training set; the document narrows it to the installed set (routes.document).
MNIST_MAX_INDEX = 59_999
MAX_SEED = 2**32 - 1


class MnistSampleIn(BaseModel):
    index: JsonInt = Field(default=100, ge=0, le=MNIST_MAX_INDEX, description="Index into the MNIST training digits.")
    filename: str = Field(default="mnist_sample.png", max_length=200,
                          description="A display name for the stored PNG (never a path).")
    add_noise: StrictBool = Field(default=False, description="Add Gaussian noise (σ=15) as the seed did.")
    seed: Annotated[StrictInt, Field(ge=0, le=MAX_SEED), BeforeValidator(integral)] | None = Field(
        default=None, description="Seed for the noise, for a repeatable image.")


class MnistPreviewOut(BaseModel):
    """A digit shown, not stored: `image_url` renders the PNG each time it is asked for."""

    index: int
    label: int
    has_noise: bool
    seed: int | None = Field(description="The noise's seed (chosen when not given), so the image repeats.")
    image_url: str
    dataset_size: int
    attribution: str


class MnistSampleOut(BaseModel):
    index: int
    label: int
    has_noise: bool
    image: FileOut
    dataset_size: int
    attribution: str


class DigitOut(BaseModel):
    digit: int
    confidence: float
    box: tuple[int, int, int, int] = Field(description="x, y, width, height in the input image")
    probabilities: list[float]


class DigitLineOut(BaseModel):
    text: str
    confidence: float = Field(description="The lowest digit confidence on the line.")
    digits: list[DigitOut]


class DigitsOut(BaseModel):
    text: str = Field(description="The digits read; lines joined with a newline, top to bottom.")
    confidence: float = Field(description="The lowest digit confidence.")
    rotation: int = Field(default=0, description="Degrees the picture was turned counter-clockwise to read it "
                                                 "upright (0, 90, 180 or 270).")
    digits: list[DigitOut] = Field(description="Every digit, line by line, each line left to right.")
    lines: list[DigitLineOut] = Field(description="The lines of digits, top to bottom.")


class AnonymizeOptions(BaseModel):
    method: Method = "mosaic"
    threshold: float = Field(default=0.5, ge=0.05, le=0.99)
    strength: float = Field(default=1.0, ge=0.1, le=5.0)
    detector: DetectorName = "auto"


class AnonymizeBatch(BaseModel):
    """The payload of a batch job: photos already stored, and how to cover their faces."""

    file_ids: list[str] = Field(min_length=1, max_length=100)
    options: AnonymizeOptions


class FaceOut(BaseModel):
    box: tuple[int, int, int, int]
    score: float


class AnonymizationOut(BaseModel):
    id: str
    created_at: datetime
    method: str
    detector: str
    threshold: float
    strength: float
    faces: list[FaceOut]
    original: FileOut
    anonymized: FileOut
    job_id: str | None


class AnonymizeVideo(BaseModel):
    """The payload of a video job: the stored original and how to cover its faces."""

    file_id: str
    options: AnonymizeOptions


class VideoOut(BaseModel):
    """A video job and, once it succeeded, what it made (`download_url` streams the MP4/WebM/MKV)."""

    job_id: str
    status: str
    progress: float
    message: str | None
    original: FileOut | None
    anonymized: FileOut | None
    download_url: str | None
    result: dict[str, object] | None = Field(description="Frames, faces, size, rate, duration, codecs.")
