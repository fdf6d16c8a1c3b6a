"""Pantry's settings: `BODA_PANTRY__*` or `[pantry]` in boda.toml."""

from __future__ import annotations

from pydantic import BaseModel, Field


class PantrySettings(BaseModel):
    use_soon_days: int = Field(
        default=3, ge=0, le=60,
        description="Items whose consume-by date is this many days away or less are listed as 'use soon'.",
    )
    classifier_retrain_examples: int = Field(
        default=5, ge=1, le=10_000,
        description="Confirmed boxes since the household's classifier was last trained that start a new training.",
    )


def pantry_settings(settings: object) -> PantrySettings:
    """The pantry group of Boda's settings (typed: `Settings` gains it from the app spec)."""
    return settings.pantry  # type: ignore[attr-defined,no-any-return]
