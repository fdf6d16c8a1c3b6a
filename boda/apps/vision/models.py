"""Vision's tables: one row per anonymised photo."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from boda.core.db import Base, IdMixin, TimestampMixin
from boda.core.models import Owned, StoredFile


class Anonymization(IdMixin, TimestampMixin, Owned, Base):
    """An original photo (kept private) and its anonymised copy, with the faces found."""

    __tablename__ = "vision_anonymizations"
    noun, noun_key = "anonymised photo", "anonymization"
    # A retried batch job must not cover the same photo twice.
    __table_args__ = (UniqueConstraint("job_id", "original_id"),)

    original_id: Mapped[str] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"))
    anonymized_id: Mapped[str] = mapped_column(ForeignKey("files.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(16))
    detector: Mapped[str] = mapped_column(String(16))
    threshold: Mapped[float] = mapped_column(Float)
    strength: Mapped[float] = mapped_column(Float)
    faces: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), default=None)

    original: Mapped[StoredFile] = relationship(foreign_keys=[original_id], lazy="joined")
    anonymized: Mapped[StoredFile] = relationship(foreign_keys=[anonymized_id], lazy="joined")
