"""Album's API shapes, and the payload of its job."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, StrictBool, field_validator

from boda.core.models import Visibility

MAX_QUESTION = 500
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def rfc3339(value: object) -> object:
    """Only what the schema's `date-time` format is: pydantic alone also takes 0.5 (a timestamp) or a bare date."""
    if not isinstance(value, str) or not RFC3339.fullmatch(value):
        raise ValueError("Expected an RFC 3339 date-time with a time zone, e.g. 2026-05-01T09:30:00+09:00")
    return value.upper()


DateTime = Annotated[AwareDatetime, BeforeValidator(rfc3339)]
Source = Literal["user", "auto", "classifier"]
# At least one visible character; no "/" (a tag is a path segment when removed), no control characters.
TagName = Annotated[str, Field(min_length=1, max_length=64,
                               pattern=r"^[^\x00-\x1f\x7f-\x9f/\\]*[^\s\x00-\x1f\x7f-\x9f/\\][^\x00-\x1f\x7f-\x9f/\\]*$")]


class IndexPayload(BaseModel):
    """The payload of `album.index`: photos just stored, to complete and (later) index."""

    photo_ids: list[str] = Field(min_length=1, max_length=1000)


Language = Literal["ko", "en"]


class CaptionPayload(BaseModel):
    """The payload of `album.caption`: the owner's photos to caption with the chat model."""

    photo_ids: list[str] = Field(min_length=1, max_length=1000)
    language: Language = "ko"


class AskPayload(BaseModel):
    """The payload of `album.ask`: one question about one photo the asker may see."""

    photo_id: str = Field(max_length=36)
    question: str = Field(min_length=1, max_length=MAX_QUESTION)
    language: Language = "ko"


class CaptionIn(BaseModel):
    language: Language = Field(default="ko", description="The caption's language.")


class AskIn(BaseModel):
    question: str = Field(min_length=1, max_length=MAX_QUESTION, pattern=r"\S",
                          description="A question about what the photo shows.")
    language: Language = Field(default="ko", description="The answer's language.")


class OcrWordOut(BaseModel):
    text: str
    box: list[float] = Field(min_length=4, max_length=4, description="x, y, width, height as fractions (0..1) of "
                             "the upright photo's width and height.")
    confidence: float | None = None


class TagOut(BaseModel):
    name: str
    source: str
    score: float | None = None


class PhotoOut(BaseModel):
    id: str
    owner_id: str
    visibility: str
    household_id: str | None
    share_url: str | None = None
    filename: str
    mime: str
    width: int
    height: int
    sha256: str
    phash: str
    taken_at: datetime
    created_at: datetime
    camera_make: str | None
    camera_model: str | None
    gps_lat: float | None = Field(description="Where it was taken, for its owner and their households' members "
                                              "only (null for anyone else, and when the photo does not say).")
    gps_lon: float | None = Field(description="See `gps_lat`.")
    favorite: bool
    trashed_at: datetime | None
    caption: str | None
    caption_source: str | None = Field(description="concepts (made offline from what was recognised), "
                                       "llm:<model> (written by the chat model), or null (not captioned yet)")
    ocr_text: str | None
    faces_count: int | None
    hide_faces: bool = Field(default=False, description="Anyone but the owner sees it with faces blurred.")
    indexed_at: datetime | None
    index_backend: str | None = Field(description="The image-text embedder that indexed the photo (e.g. "
                                      "concepts:…, clip:…); null until indexed.")
    thumbnail_url: str
    original_url: str
    thumbnail_sizes: list[int]
    tags: list[TagOut] = []
    duplicate_of: str | None = Field(default=None, description="Set on upload: the bytes were already this photo.")


class PhotoDetailOut(PhotoOut):
    near_duplicates: list[str] = Field(description="Visible photos whose perceptual hash is within the setting.")
    album_ids: list[str] = Field(description="Albums the caller may see that hold this photo.")
    ocr_words: list[OcrWordOut] = Field(default=[], description="Words read in the photo with their boxes.")


class _PhotoChange(BaseModel):
    favorite: StrictBool | None = None  # 0 or "yes" are not booleans (the schema says so; lax pydantic took them)
    hide_faces: StrictBool | None = Field(default=None, description="Blur its faces for anyone but the owner.")
    taken_at: DateTime | None = Field(default=None, description="RFC 3339 with a zone; stored as UTC.")


class PhotoPatchHousehold(_PhotoChange):
    """Share with one household the caller belongs to (else 404)."""

    visibility: Literal[Visibility.household]
    household_id: str = Field(max_length=36)


class PhotoPatchOther(_PhotoChange):
    """Any other change: visibility private, unlisted (a share link) or public, or left as it is."""

    visibility: Literal[Visibility.private, Visibility.unlisted, Visibility.public] | None = None
    household_id: None = Field(default=None, description="Given only with `household` visibility.")


# The schema says which visibility needs a household, so no valid body is refused for it.
PhotoPatch = PhotoPatchHousehold | PhotoPatchOther


class AlbumIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)


class _AlbumChange(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    cover_photo_id: str | None = Field(default=None, max_length=36, description="A photo in the album (else 404).")
    hide_faces: StrictBool | None = Field(default=None, description="Blur faces in its photos for all but the owner.")


class AlbumPatchHousehold(_AlbumChange):
    """Share with one household the caller belongs to: its members see the album and may add photos."""

    visibility: Literal[Visibility.household]
    household_id: str = Field(max_length=36)


class AlbumPatchOther(_AlbumChange):
    visibility: Literal[Visibility.private, Visibility.unlisted, Visibility.public] | None = None
    household_id: None = Field(default=None, description="Given only with `household` visibility.")


AlbumPatch = AlbumPatchHousehold | AlbumPatchOther


class AlbumOut(BaseModel):
    id: str
    owner_id: str
    title: str
    description: str
    visibility: str
    household_id: str | None
    cover_photo_id: str | None
    cover_url: str | None
    photo_count: int
    created_at: datetime
    hide_faces: bool = False


class PhotoIds(BaseModel):
    photo_ids: list[Annotated[str, Field(max_length=36)]] = Field(min_length=1, max_length=1000)


class TagIn(BaseModel):
    name: TagName


class SearchHitOut(BaseModel):
    photo: PhotoOut
    score: float
    matched: str = Field(description="vector (looks like it), text (words in the photo, caption or a tag), "
                         "or text+vector")


class SearchOut(BaseModel):
    items: list[SearchHitOut]
    total: int
    limit: int
    offset: int
    backend: str = Field(description="The embedder that indexed the photos searched (e.g. concepts:…, clip:…)")
    pending: int = Field(description="Photos you may see that this backend has not indexed yet (still "
                         "found by their words)")


# --- classifiers -------------------------------------------------------------

class TrainPayload(BaseModel):
    """The payload of `album.train_classifier`."""

    classifier_id: str = Field(max_length=36)


class ClassifierIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    classes: list[TagName] = Field(min_length=2, max_length=50, json_schema_extra={"uniqueItems": True},
                                   description="At least two different class names; each becomes a tag.")

    @field_validator("classes")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("Each class is named once")
        return value


class ExamplesIn(BaseModel):
    photo_ids: list[Annotated[str, Field(max_length=36)]] = Field(min_length=1, max_length=1000)
    label: TagName = Field(description="One of the classifier's classes (else 409).")


class VersionOut(BaseModel):
    number: int
    active: bool
    accuracy: float = Field(description="Cross-validated: each labelled photo predicted by a head that never saw it.")
    folds: int
    classes: list[str]
    confusion: list[list[int]] = Field(description="Rows: true class, columns: predicted, in `classes` order.")
    counts: dict[str, int] = Field(description="Labelled photos per class it was trained on.")
    embedder_key: str
    stale: bool = Field(description="Trained on another search backend's embeddings than the current one: "
                        "it cannot be applied; train again.")
    confusion_url: str
    created_at: datetime


class ExampleOut(BaseModel):
    photo_id: str
    label: str
    thumbnail_url: str


class ClassifierOut(BaseModel):
    id: str
    name: str
    classes: list[str]
    examples: dict[str, int] = Field(description="Labelled photos per class.")
    active_version: int | None
    accuracy: float | None = Field(description="The active version's cross-validated accuracy.")
    stale: bool = Field(description="The active version was trained on another search backend: retrain needed.")
    created_at: datetime


class ClassifierDetailOut(ClassifierOut):
    versions: list[VersionOut]
    labelled: list[ExampleOut]


class PersonOut(BaseModel):
    id: str
    name: str | None = Field(description="Null until the owner names them.")
    photo_count: int
    face_count: int
    cover_face_id: str | None
    cover_url: str | None = Field(description="A face crop (WebP) of the person.")
    photos_url: str
    created_at: datetime


class PersonPatch(BaseModel):
    name: str | None = Field(max_length=100, description="An empty string or null unnames the person.")


class MergeIn(BaseModel):
    into: str = Field(max_length=36, description="The person who keeps the faces (and their name).")


class PersonFaceOut(BaseModel):
    id: str
    photo_id: str
    person_id: str | None
    box: tuple[int, int, int, int] = Field(description="x, y, w, h in the upright original's pixels.")
    score: float
    crop_url: str
