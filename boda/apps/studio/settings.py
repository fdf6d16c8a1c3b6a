"""3D Studio's settings: `BODA_STUDIO__*` or `[studio]` in boda.toml."""

from __future__ import annotations

from pydantic import BaseModel, Field


class StudioSettings(BaseModel):
    max_upload_bytes: int = Field(default=100 * 1024 * 1024, gt=0,
                                  description="Largest 3D file (or zip) accepted by an upload.")
    max_triangles: int = Field(default=5_000_000, gt=0,
                               description="Models with more triangles are refused at upload.")
    poll_seconds: float = Field(default=2.0, gt=0, description="How often a running generation asks its provider "
                                "for progress (the job holds no thread between asks).")
    generation_timeout_seconds: float = Field(default=3600.0, gt=0,
                                              description="A generation still unfinished after this fails.")
    thumbnail_size: int = Field(default=512, ge=64, le=2048, description="Side (px) of a model's WebP thumbnail.")
    min_ratings_to_learn: int = Field(
        default=30, ge=2, description="Rated models needed before `boda studio train-scorer` learns a score; "
        "until then models show their technical quality.")


def studio_settings(settings: object) -> StudioSettings:
    """The studio group of Boda's settings (typed: `Settings` gains it from the app spec)."""
    return settings.studio  # type: ignore[attr-defined,no-any-return]
