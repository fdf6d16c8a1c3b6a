"""After a model's GLB is stored: its pictures, its other formats, its score and its place in search.

One function for uploads and generations alike, run in the `studio.process` step of a job.
Each part is kept when the next fails: a model without an FBX (no exporter installed)
or without a score is still a model.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from boda.apps.studio import formats, render, service
from boda.apps.studio.models import Scorer, StudioModel
from boda.core import uploads
from boda.core.runtime import Runtime

log = logging.getLogger(__name__)

CONVERTED = ("obj", "stl", "usdz", "fbx")


def space_for(key: str) -> str:
    """The vector space of one embedder's model-thumbnail vectors."""
    return f"studio.models:{key}"


def latest_scorer(session: Session) -> Scorer | None:
    return session.scalar(select(Scorer).order_by(Scorer.created_at.desc()).limit(1))


def process_model(session: Session, runtime: Runtime, model: StudioModel,
                  progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    """Thumbnail, turntable, converted formats, aesthetic score and search vector of a stored GLB."""
    def tell(fraction: float, message: str) -> None:
        session.commit()  # progress is written by another session: hold no write lock meanwhile (SQLite)
        if progress is not None:
            progress(fraction, message)

    settings = service.studio_settings_of(runtime)
    store = runtime.store
    glb = service.read_glb(session, store, model)
    stem = service.download_name(model, "glb").removesuffix(".glb")
    done: dict[str, Any] = {"formats": [], "unavailable": {}}

    tell(0.1, "Drawing the thumbnail")
    thumbnail = render.render_thumbnail(glb, size=settings.thumbnail_size)
    service.record_image(session, model, uploads.prepare_bytes(store, thumbnail, filename=f"{stem}.webp",
                                                               content_type="image/webp"), kind="thumbnail")
    tell(0.25, "Drawing the turntable")
    turntable = render.render_turntable(glb, frames=16, size=224)  # a quarter of the CPU of 24 at 256
    service.record_image(session, model, uploads.prepare_bytes(store, turntable, filename=f"{stem}_turntable.webp",
                                                               content_type="image/webp"), kind="turntable")
    session.commit()

    have = service.model_files(session, model.id)
    for index, fmt in enumerate(CONVERTED):
        tell(0.3 + 0.4 * index / len(CONVERTED), f"Converting to {fmt.upper()}")
        if fmt in have:
            done["formats"].append(fmt)
            continue
        try:
            converted = formats.convert(glb, fmt)
        except Exception as exc:  # one format's exporter missing or failing leaves the others
            log.warning("model %s: no %s (%s)", model.id, fmt, exc)
            done["unavailable"][fmt] = getattr(exc, "message", None) or str(exc)
            continue
        prepared = uploads.prepare_bytes(store, converted.data, filename=f"{stem}{converted.filename_suffix}",
                                         content_type=converted.media_type)
        service.record_files(session, model, service.StoredFormats({fmt: (prepared, "converted")}))
        session.commit()
        done["formats"].append(fmt)

    tell(0.75, "Scoring")
    try:
        views = render.render_views(glb)
        score_model(session, runtime, model, views)
    except Exception as exc:
        log.warning("model %s: not scored (%s)", model.id, exc)
        done["score_error"] = str(exc)
    tell(0.9, "Indexing for search")
    try:
        index_model(runtime, model, Image.open(io.BytesIO(thumbnail)).convert("RGB"))
    except Exception as exc:
        log.warning("model %s: not indexed (%s)", model.id, exc)
        done["index_error"] = str(exc)
    stats = dict(model.stats or {})
    stats["unavailable_formats"] = done["unavailable"]
    model.stats = stats
    model.status = "ready"
    session.commit()
    return done


def score_model(session: Session, runtime: Runtime, model: StudioModel, views: list[Image.Image]) -> None:
    from boda.ai import aesthetic

    scorer = latest_scorer(session)
    head = aesthetic.Head.from_bytes(scorer.head) if scorer is not None else None
    extractor = aesthetic.choose_extractor(runtime.ai) if head is not None else None
    result = aesthetic.score(views, head, extractor=extractor)
    model.score, model.score_std = float(result.mean), float(result.std)
    model.score_probs = [float(p) for p in result.probs]
    model.score_method = result.method


def index_model(runtime: Runtime, model: StudioModel, thumbnail: Image.Image) -> None:
    embedder = runtime.ai.get("image_text_embedder")
    vector = np.asarray(embedder.embed_images([thumbnail]), np.float32)
    runtime.vectors.upsert(space_for(embedder.key), [model.id], vector)


def forget_vectors(runtime: Runtime, model_id: str) -> None:
    try:
        embedder = runtime.ai.get("image_text_embedder")
        runtime.vectors.delete(space_for(embedder.key), {model_id})
    except Exception as exc:  # search skips ids it cannot find; the next reindex drops it
        log.warning("model %s: vectors not deleted (%s)", model_id, exc)
