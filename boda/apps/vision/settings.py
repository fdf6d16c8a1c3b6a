"""Vision's settings: `BODA_VISION__*` or `[vision]` in boda.toml."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class VisionSettings(BaseModel):
    mnist_dir: Path | None = Field(
        default=None,
        description="Folder with the original MNIST IDX .gz files. Unset: the full copy carried in the package.",
    )
    video_max_mb: float = Field(default=200.0, gt=0, description=(
        "Larger video uploads are refused (413). Any request is also capped by max_request_mb: raise both."))
    video_max_seconds: float = Field(default=600.0, gt=0, description="Longer videos are refused (413).")
    video_max_pixels: int = Field(default=3840 * 2160, gt=0,
                                  description="Videos with larger frames (width × height) are refused (413).")
    video_hold_frames: int = Field(default=5, ge=0, le=120, description=(
        "Frames a face's box stays covered after the detector last saw it, so a missed frame never shows it."))
    video_box_margin: float = Field(default=0.15, ge=0, le=1, description=(
        "How much each face box grows on every side (a share of its size) in videos."))


def vision_settings(settings: object) -> VisionSettings:
    """The vision group of Boda's settings (typed: `Settings` gains it from the app spec)."""
    return settings.vision  # type: ignore[attr-defined,no-any-return]
