"""Image-text embeddings: photos and sentences in one vector space, so a sentence finds photos.

Two kinds of provider satisfy `ImageTextEmbedder`: CLIP (`boda.ai.clip`, for users who
have its weights) and the offline concepts backend (`boda.ai.concepts`), which describes a
photo with what the carried models see and embeds that description with a multilingual
`TextEncoder` (`boda.ai.text_encoders`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class PhotoFacts:
    """What the caller already knows about a photo; an embedder may use it (the concepts backend does)."""

    text: str = ""  # words read in the photo (OCR)
    faces: int = 0  # faces found in it
    people: tuple[str, ...] = ()  # names of the people recognised in it


@dataclass(frozen=True)
class Concept:
    """One thing seen in a photo, with how much it counts in the photo's description."""

    kind: str  # "object", "class", "colour", "scene", "text", "people"
    label: str  # English
    weight: float
    box: tuple[int, int, int, int] | None = None  # x, y, w, h in image pixels
    label_ko: str = ""


@dataclass(frozen=True)
class Description:
    concepts: list[Concept] = field(default_factory=list)
    caption: str = ""  # a plain sentence built from the concepts (marked as such where shown)


class ImageTextEmbedder(Protocol):
    key: str  # stored beside each vector; a different key means a different space (re-index)
    dim: int

    def embed_images(self, images: Sequence[Image.Image], facts: Sequence[PhotoFacts] | None = None) -> np.ndarray:
        """(N, dim) float32, each row L2-normalised."""
        ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(N, dim) float32, each row L2-normalised."""
        ...


class ImageDescriber(Protocol):
    """Providers that can say in words what they saw (the concepts backend)."""

    def describe(self, image: Image.Image, facts: PhotoFacts | None = None) -> Description: ...


class TextEncoder(Protocol):
    key: str
    dim: int

    def encode(self, texts: Sequence[str], kind: Literal["query", "document"] = "document") -> np.ndarray:
        """(N, dim) float32, each row L2-normalised; Korean and English land in one space.

        `kind` says whether the texts are search queries or the documents searched:
        asymmetric encoders (e5: "query: " / "passage: ") encode them differently.
        """
        ...
