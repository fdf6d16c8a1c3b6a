"""Vision's settings: `BODA_VISION__*` or `[vision]` in boda.toml."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class VisionSettings(BaseModel):
    mnist_dir: Path | None = Field(
        default=None,
        description="Folder with the original MNIST IDX .gz files. Unset: the full copy carried in the package.",
    )


def vision_settings(settings: object) -> VisionSettings:
    """The vision group of Boda's settings (typed: `Settings` gains it from the app spec)."""
    return settings.vision  # type: ignore[attr-defined,no-any-return]
