"""Album's settings: `BODA_ALBUM__*` or `[album]` in boda.toml."""

from __future__ import annotations

from pydantic import BaseModel, Field


class AlbumSettings(BaseModel):
    trash_days: int = Field(default=30, ge=0, le=3650,
                            description="Days a trashed photo is kept before the periodic purge deletes it.")
    purge_seconds: float = Field(default=3600.0, gt=0, description="How often the trash purge runs.")
    reindex_seconds: float = Field(
        default=300.0, gt=0, description="How often photos not indexed by the current search backend (new ones "
        "missed, or all after ai.image_text_embedder changed) are queued for indexing.")
    near_duplicate_distance: int = Field(
        default=6, ge=0, le=64, description="Perceptual-hash Hamming distance (of 64 bits) within which two "
                                            "photos count as near duplicates.")
    thumbnail_sizes: list[int] = Field(default=[256, 1024], min_length=1,
                                       description="Long sides (px) of the WebP thumbnails made per photo.")
    classifier_threshold: float = Field(
        default=0.6, ge=0.0, le=1.0, description="A user's classifier tags a photo with its most likely class "
        "only when that class's probability is at least this.")


def album_settings(settings: object) -> AlbumSettings:
    """The album group of Boda's settings (typed: `Settings` gains it from the app spec)."""
    return settings.album  # type: ignore[attr-defined,no-any-return]
