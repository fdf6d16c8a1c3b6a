"""Album's tables: photos, albums and their members, tags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from boda.core.db import Base, IdMixin, TimestampMixin, UTCDateTime, dialect_index, utcnow
from boda.core.models import Owned, StoredFile

# The library index: the library's order (newest taken first) and the columns that decide who sees a
# photo (`service.in_library`), so the grid reads its page in order without sorting the library, and a
# search's counts, visible ids and word match read a narrow index instead of rows ten times wider (the
# concepts' JSON). On SQLite it carries the words too; PostgreSQL's B-tree refuses entries past 2,704
# bytes. Not led by trashed_at: a few trashed photos at distinct times make `trashed_at IS NULL` look
# selective to SQLite's statistics, and it then scanned that index to check 42 ids (33 ms, not 0.7).
# bench/album_search.py, 100k photos: the grid's first page 596 -> 26-32 ms, a search 312 -> 74-98 ms.
LIBRARY_INDEX = ("taken_at", "id", "trashed_at", "owner_id", "visibility", "household_id", "index_key", "favorite")
TRASHED = text("trashed_at IS NOT NULL")


class Photo(IdMixin, TimestampMixin, Owned, Base):
    """One photo: the original (a private core file), its facts, and what indexing adds later.

    The original and its thumbnails are `files` rows (app "album"), so the core's blob
    sweep and account deletion know them; access is decided here, on the photo.
    """

    __tablename__ = "album_photos"
    noun, noun_key = "photo", "photo"
    # One copy of the same bytes per owner: a second upload answers with the first photo.
    __table_args__ = (UniqueConstraint("owner_id", "sha256"),
                      Index("ix_album_photos_owner_taken", "owner_id", "taken_at"),
                      # The trash: a few photos among many, which no planner guesses from `IS NOT NULL`.
                      Index("ix_album_photos_trash", "owner_id", "taken_at", "id", sqlite_where=TRASHED,
                            postgresql_where=TRASHED),
                      dialect_index("postgresql", "ix_album_photos_library", *LIBRARY_INDEX),
                      dialect_index("sqlite", "ix_album_photos_library_words", *LIBRARY_INDEX, "ocr_text", "caption"))

    file_id: Mapped[str] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"))
    blob_key: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(String(64))
    phash: Mapped[str] = mapped_column(String(16), index=True)  # imagehash phash, 64 bits as hex
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    mime: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255), default="")  # the client's, for display only
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow, index=True)
    camera_make: Mapped[str | None] = mapped_column(String(128), default=None)
    camera_model: Mapped[str | None] = mapped_column(String(128), default=None)
    gps_lat: Mapped[float | None] = mapped_column(Float, default=None)
    gps_lon: Mapped[float | None] = mapped_column(Float, default=None)
    favorite: Mapped[bool] = mapped_column(Boolean, default=False)
    trashed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True), default=None)
    thumbnails: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # long side (str) -> files.id
    # Filled by indexing (boda.apps.album.indexing.index_photos); empty until then.
    caption: Mapped[str | None] = mapped_column(Text, default=None)
    caption_source: Mapped[str | None] = mapped_column(String(64), default=None)
    ocr_text: Mapped[str | None] = mapped_column(Text, default=None)
    faces_count: Mapped[int | None] = mapped_column(Integer, default=None)
    index_key: Mapped[str | None] = mapped_column(String(128), default=None)  # which embedder indexed it
    indexed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True), default=None)
    concepts: Mapped[list[Any] | None] = mapped_column(JSON, default=None)
    # Anyone but the owner gets its thumbnails and original with faces blurred (boda.apps.album.people).
    hide_faces: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    file: Mapped[StoredFile] = relationship(foreign_keys=[file_id], lazy="raise")


class Album(IdMixin, TimestampMixin, Owned, Base):
    __tablename__ = "album_albums"
    noun, noun_key = "album", "album"

    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    cover_photo_id: Mapped[str | None] = mapped_column(ForeignKey("album_photos.id", ondelete="SET NULL"),
                                                       default=None)
    # Anyone but the owner sees the album's photos with faces blurred, wherever they open them.
    hide_faces: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AlbumPhoto(Base):
    __tablename__ = "album_album_photos"

    album_id: Mapped[str] = mapped_column(ForeignKey("album_albums.id", ondelete="CASCADE"), primary_key=True)
    photo_id: Mapped[str] = mapped_column(ForeignKey("album_photos.id", ondelete="CASCADE"), primary_key=True,
                                          index=True)
    added_by: Mapped[str | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)


class Tag(IdMixin, Base):
    """A tag's name, shared vocabulary: it is reached only through photos the caller may see."""

    __tablename__ = "album_tags"

    name: Mapped[str] = mapped_column(String(64), unique=True)


class PhotoTag(Base):
    __tablename__ = "album_photo_tags"

    photo_id: Mapped[str] = mapped_column(ForeignKey("album_photos.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[str] = mapped_column(ForeignKey("album_tags.id", ondelete="CASCADE"), primary_key=True,
                                        index=True)
    source: Mapped[str] = mapped_column(String(16), default="user")  # user | auto | classifier
    score: Mapped[float | None] = mapped_column(Float, default=None)
    tag: Mapped[Tag] = relationship(lazy="joined")


class Classifier(IdMixin, TimestampMixin, Base):
    """A user's own classifier: named classes, the photos labelled into them, and trained versions.

    Private to its owner (not `Owned`: a classifier is never shared), so every lookup checks owner_id.
    """

    __tablename__ = "album_classifiers"
    noun, noun_key = "classifier", "classifier"

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    classes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # No foreign key: versions point at their classifier, and a cycle would need deferred constraints.
    active_version_id: Mapped[str | None] = mapped_column(String(36), default=None)


class ClassifierExample(Base):
    """One labelled photo: the photo belongs to `label`, one of the classifier's classes."""

    __tablename__ = "album_classifier_examples"

    classifier_id: Mapped[str] = mapped_column(ForeignKey("album_classifiers.id", ondelete="CASCADE"),
                                               primary_key=True)
    photo_id: Mapped[str] = mapped_column(ForeignKey("album_photos.id", ondelete="CASCADE"), primary_key=True,
                                          index=True)
    label: Mapped[str] = mapped_column(String(64))


class ClassifierVersion(IdMixin, Base):
    """One training: the linear head as JSON (data, never pickle), what it was trained on and how well it did."""

    __tablename__ = "album_classifier_versions"
    __table_args__ = (UniqueConstraint("classifier_id", "number"),)

    classifier_id: Mapped[str] = mapped_column(ForeignKey("album_classifiers.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    head: Mapped[dict[str, Any]] = mapped_column(JSON)
    embedder_key: Mapped[str] = mapped_column(String(128))
    accuracy: Mapped[float] = mapped_column(Float)
    folds: Mapped[int] = mapped_column(Integer)
    confusion: Mapped[list[Any]] = mapped_column(JSON)
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)


class Person(IdMixin, TimestampMixin, Base):
    """A person in one owner's photos: a group of their faces, named by the owner (or not yet).

    People are private to their owner whatever the photos' visibility: a name is what the
    owner calls someone, and faces of a shared photo stay the owner's to group.
    """

    __tablename__ = "album_people"
    noun, noun_key = "person", "person"

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(100), default=None)
    centroid: Mapped[bytes] = mapped_column(LargeBinary)  # float32 x dim, L2-normalised mean of its faces
    cover_face_id: Mapped[str | None] = mapped_column(String(36), default=None)  # no FK: faces point here


class Face(IdMixin, Base):
    """One face found in a photo: its box in the upright original's pixels and its embedding."""

    __tablename__ = "album_faces"
    noun, noun_key = "face", "face"

    photo_id: Mapped[str] = mapped_column(ForeignKey("album_photos.id", ondelete="CASCADE"), index=True)
    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[str | None] = mapped_column(ForeignKey("album_people.id", ondelete="SET NULL"),
                                                  default=None, index=True)
    x: Mapped[int] = mapped_column(Integer)
    y: Mapped[int] = mapped_column(Integer)
    w: Mapped[int] = mapped_column(Integer)
    h: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    embedder: Mapped[str] = mapped_column(String(64))  # the face embedder's key: vectors of another do not compare
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32 x dim, L2-normalised
