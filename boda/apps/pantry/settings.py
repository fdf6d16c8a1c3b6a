"""Pantry's settings: `BODA_PANTRY__*` or `[pantry]` in boda.toml."""

from __future__ import annotations

from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator


class PantrySettings(BaseModel):
    use_soon_days: int = Field(
        default=3, ge=0, le=60,
        description="Items whose consume-by date is this many days away or less are listed as 'use soon'.",
    )
    classifier_retrain_examples: int = Field(
        default=5, ge=1, le=10_000,
        description="Confirmed boxes since the household's classifier was last trained that start a new training.",
    )
    digest_days: int = Field(
        default=2, ge=0, le=60,
        description="Today's digest lists items due within this many days, besides those past and those opened.",
    )
    digest_hour: int = Field(
        default=7, ge=0, le=23,
        description="Hour (in digest_timezone) from which the daily digest e-mail goes out, once a day each.",
    )
    digest_timezone: str = Field(
        default="UTC", description="IANA time zone of digest_hour and of the digest's 'today' (e.g. Asia/Seoul).",
    )

    @field_validator("digest_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zone(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:  # a typo fails at start, not at 7 in the morning
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Asia/Seoul)") from exc
        return value


def zone(name: str) -> tzinfo:
    """The time zone named; UTC needs no time-zone data (a slim image may have none)."""
    return UTC if name.upper() == "UTC" else ZoneInfo(name)


def pantry_settings(settings: object) -> PantrySettings:
    """The pantry group of Boda's settings (typed: `Settings` gains it from the app spec)."""
    return settings.pantry  # type: ignore[attr-defined,no-any-return]
