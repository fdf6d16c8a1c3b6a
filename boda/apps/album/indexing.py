"""The seam where a stored photo is completed and indexed, run by the `album.index` job.

Today it completes what an upload may have left out (EXIF facts, perceptual hash,
thumbnails: a photo recorded without them, e.g. by an older version or an import that
skipped them). The integrator adds embeddings, OCR, faces and captions here, filling
`Photo.index_key`, `indexed_at`, `ocr_text`, `faces_count`, `caption`/`caption_source`
and `concepts`; each photo is committed on its own so a retried job resumes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from boda.apps.album import service
from boda.apps.album.models import Photo
from boda.core import uploads
from boda.core.runtime import Runtime

Progress = Callable[[int, int], None]
"""progress(done, total): called after each photo (a job turns it into progress events)."""


def index_photos(session: Session, runtime: Runtime, photo_ids: Sequence[str], progress: Progress
                 ) -> dict[str, Any]:
    """Complete (and, once added, index) these photos; ids that no longer exist are skipped."""
    photos = {p.id: p for p in session.scalars(select(Photo).where(Photo.id.in_(list(photo_ids))))}
    completed = 0
    for done, photo_id in enumerate(photo_ids, start=1):
        photo = photos.get(photo_id)
        if photo is not None and complete_photo(session, runtime, photo):
            completed += 1
        session.commit()  # one photo at a time: a retry keeps what was finished
        progress(done, len(photo_ids))
    return {"photos": len(photo_ids), "found": len(photos), "completed": completed}


def complete_photo(session: Session, runtime: Runtime, photo: Photo) -> bool:
    """Fill missing thumbnails and hash from the original; whether anything was missing."""
    sizes = service.album_settings(runtime.settings).thumbnail_sizes
    missing = [s for s in sizes if str(s) not in photo.thumbnails]
    if not missing and photo.phash:
        return False
    with runtime.image_work:
        upright, facts = service.decode_upright(runtime.store.read(photo.blob_key), max_side=max(sizes))
        if not photo.phash:
            photo.phash = service.phash_hex(upright)
        for key, value in facts.items():
            if value is not None and key != "taken_at" and getattr(photo, key) is None:
                setattr(photo, key, value)
        made = dict(photo.thumbnails)
        stem = photo.filename.rsplit(".", 1)[0] or "photo"
        for size, image in service.thumbnail_images(upright, missing).items():
            row = uploads.save_derived_image(session, runtime.store, owner_id=photo.owner_id, image=image,
                                             filename=f"{stem}_{size}.webp", app=service.APP,
                                             derived_from_id=photo.file_id, format="WEBP")
            made[str(size)] = row.id
        photo.thumbnails = made
    session.flush()
    return True
