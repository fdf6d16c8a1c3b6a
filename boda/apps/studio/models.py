"""3D Studio's tables: models (generated or uploaded), their files, generations, likes and ratings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from boda.core.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow
from boda.core.models import Owned


class StudioModel(IdMixin, TimestampMixin, Owned, Base):
    """One 3D model: where it came from, its stored files, what it looks like and how it scores.

    Its files are core `files` rows (app "studio"), so the blob sweep and account deletion
    know them; who may read them is decided here, on the model.
    """

    __tablename__ = "studio_models"
    noun, noun_key = "model", "model"

    title: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(16))  # upload | generation
    provider: Mapped[str | None] = mapped_column(String(32), default=None)
    fidelity: Mapped[str | None] = mapped_column(String(16), default=None)  # high | low (the composer)
    prompt: Mapped[str] = mapped_column(Text, default="")  # what the user typed
    enhanced_prompt: Mapped[str | None] = mapped_column(Text, default=None)  # what the provider was given
    status: Mapped[str] = mapped_column(String(16), default="ready")  # generating | processing | ready | failed
    error: Mapped[str | None] = mapped_column(Text, default=None)
    remix_of_id: Mapped[str | None] = mapped_column(ForeignKey("studio_models.id", ondelete="SET NULL"),
                                                    default=None)
    original_filename: Mapped[str] = mapped_column(String(255), default="")
    stats: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    thumbnail_file_id: Mapped[str | None] = mapped_column(ForeignKey("files.id", ondelete="SET NULL"),
                                                          default=None)
    turntable_file_id: Mapped[str | None] = mapped_column(ForeignKey("files.id", ondelete="SET NULL"),
                                                          default=None)
    likes: Mapped[int] = mapped_column(Integer, default=0)
    ratings: Mapped[int] = mapped_column(Integer, default=0)
    rating_mean: Mapped[float | None] = mapped_column(Float, default=None)
    # The aesthetic score (boda.ai.aesthetic): a distribution over 1..10, and how it was made.
    score: Mapped[float | None] = mapped_column(Float, default=None, index=True)
    score_std: Mapped[float | None] = mapped_column(Float, default=None)
    score_probs: Mapped[list[float] | None] = mapped_column(JSON, default=None)
    score_method: Mapped[str | None] = mapped_column(String(16), default=None)  # technical | learned
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True), default=None, index=True)


class StudioFile(Base):
    """One stored format of a model (glb is canonical; the others are converted or the provider's)."""

    __tablename__ = "studio_files"

    model_id: Mapped[str] = mapped_column(ForeignKey("studio_models.id", ondelete="CASCADE"), primary_key=True)
    format: Mapped[str] = mapped_column(String(16), primary_key=True)  # glb | fbx | obj | usdz | stl | ...
    file_id: Mapped[str] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"), index=True)
    origin: Mapped[str] = mapped_column(String(16), default="converted")  # upload | provider | converted


class Generation(IdMixin, TimestampMixin, Base):
    """A provider's work on one model: its task ids, so polling resumes after a restart."""

    __tablename__ = "studio_generations"

    owner_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    model_id: Mapped[str] = mapped_column(ForeignKey("studio_models.id", ondelete="CASCADE"), index=True)
    job_id: Mapped[str | None] = mapped_column(String(36), default=None, index=True)
    provider: Mapped[str] = mapped_column(String(32))
    request: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    stage: Mapped[str] = mapped_column(String(16), default="start")  # start | preview | refine | fetch | done
    task_ids: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # stage -> provider task id
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=True), default=None)


class Like(Base):
    __tablename__ = "studio_likes"

    model_id: Mapped[str] = mapped_column(ForeignKey("studio_models.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)


class Rating(Base):
    """A user's 1..10 rating of a model: what `boda studio train-scorer` learns from."""

    __tablename__ = "studio_ratings"

    model_id: Mapped[str] = mapped_column(ForeignKey("studio_models.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    score: Mapped[int] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=True), default=utcnow)


class StudioPrefs(Base):
    """Per-user choices: the prompt enhancer's system prompt (None: the default)."""

    __tablename__ = "studio_prefs"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    system_prompt: Mapped[str | None] = mapped_column(Text, default=None)


class Scorer(IdMixin, TimestampMixin, Base):
    """A trained aesthetic head (npz bytes, never pickle) and how it did on held-out ratings."""

    __tablename__ = "studio_scorers"

    head: Mapped[bytes] = mapped_column(LargeBinary)
    trained_on: Mapped[int] = mapped_column(Integer)
    spearman: Mapped[float | None] = mapped_column(Float, default=None)
    features: Mapped[str] = mapped_column(String(64))  # which image features it was trained on
