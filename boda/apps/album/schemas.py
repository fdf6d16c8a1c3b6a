"""Album's API shapes, and the payload of its job."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from boda.core.models import Visibility

Source = Literal["user", "auto", "classifier"]
TagName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f/\\]+$")]


class IndexPayload(BaseModel):
    """The payload of `album.index`: photos just stored, to complete and (later) index."""

    photo_ids: list[str] = Field(min_length=1, max_length=1000)


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
    gps_lat: float | None
    gps_lon: float | None
    favorite: bool
    trashed_at: datetime | None
    caption: str | None
    ocr_text: str | None
    faces_count: int | None
    indexed_at: datetime | None
    thumbnail_url: str
    original_url: str
    thumbnail_sizes: list[int]
    tags: list[TagOut] = []
    duplicate_of: str | None = Field(default=None, description="Set on upload: the bytes were already this photo.")


class PhotoDetailOut(PhotoOut):
    near_duplicates: list[str] = Field(description="Visible photos whose perceptual hash is within the setting.")
    album_ids: list[str] = Field(description="Albums the caller may see that hold this photo.")


class PhotoPatch(BaseModel):
    favorite: bool | None = None
    taken_at: datetime | None = Field(default=None, description="With a time zone; stored as UTC.")
    visibility: Visibility | None = None
    household_id: str | None = Field(default=None, max_length=36,
                                     description="With `household` visibility: a household the caller is in.")


class AlbumIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=5000)


class AlbumPatch(BaseModel):
    title: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=5000)
    cover_photo_id: str | None = Field(default=None, max_length=36)
    visibility: Visibility | None = None
    household_id: str | None = Field(default=None, max_length=36)


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


class PhotoIds(BaseModel):
    photo_ids: list[Annotated[str, Field(max_length=36)]] = Field(min_length=1, max_length=1000)


class TagIn(BaseModel):
    name: TagName
