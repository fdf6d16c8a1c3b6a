"""Vision's API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from boda.core.schemas import FileOut

Method = Literal["mosaic", "blur", "box"]
DetectorName = Literal["auto", "centerface", "haar"]
MAX_SEED = 2**32 - 1


class MnistSampleIn(BaseModel):
    index: int = Field(default=100, description="Index into the MNIST training digits.")
    filename: str = Field(default="mnist_sample.png", max_length=200,
                          description="A display name for the stored PNG (never a path).")
    add_noise: bool = Field(default=False, description="Add Gaussian noise (σ=15) as the seed did.")
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED, description="Seed for the noise, for a repeatable image.")


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


class DigitsOut(BaseModel):
    text: str
    confidence: float
    digits: list[DigitOut]


class AnonymizeOptions(BaseModel):
    method: Method = "mosaic"
    threshold: float = Field(default=0.5, ge=0.05, le=0.99)
    strength: float = Field(default=1.0, ge=0.1, le=5.0)
    detector: DetectorName = "auto"


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
