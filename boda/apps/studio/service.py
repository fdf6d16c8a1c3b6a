"""3D Studio's rules: who sees which model, how files are stored, the gallery, likes and ratings.

The 3D work itself lives in `formats` (reading, converting) and `render` (pictures);
generation in `generating`. This module only moves rows and blobs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from boda.apps.studio.models import Generation, Like, Rating, StudioFile, StudioModel, StudioPrefs
from boda.core import uploads
from boda.core.auth import Scope, get_visible, set_visibility
from boda.core.db import utcnow
from boda.core.errors import Conflict, InvalidInput, NotFound
from boda.core.listing import Listed, paginate
from boda.core.models import StoredFile, Visibility
from boda.core.storage import BlobStore

APP = "studio"
DOWNLOAD_FORMATS = ("glb", "fbx", "obj", "usdz", "stl", "ply")
MEDIA_TYPES = {"glb": "model/gltf-binary", "fbx": "application/octet-stream", "obj": "application/zip",
               "usdz": "model/vnd.usdz+zip", "stl": "model/stl", "ply": "application/octet-stream",
               "gltf": "application/zip"}
SUFFIXES = {"glb": ".glb", "fbx": ".fbx", "obj": "_obj.zip", "usdz": ".usdz", "stl": ".stl", "ply": ".ply",
            "gltf": "_gltf.zip"}
Sort = Literal["newest", "popular", "score"]


def readable(scope: Scope) -> Any:
    return scope.readable(StudioModel)


def get_model(session: Session, scope: Scope, model_id: str, *, write: bool = False) -> StudioModel:
    """A model the caller may see (or, with write, one of the caller's own); 404 for any other."""
    return get_visible(session, StudioModel, model_id, scope, write=write)


def model_files(session: Session, model_id: str) -> dict[str, StudioFile]:
    rows = session.scalars(select(StudioFile).where(StudioFile.model_id == model_id)).all()
    return {row.format: row for row in rows}


def file_row(session: Session, model: StudioModel, fmt: str) -> StoredFile:
    row = session.scalar(select(StudioFile).where(StudioFile.model_id == model.id, StudioFile.format == fmt))
    if row is None:
        if fmt not in DOWNLOAD_FORMATS:
            raise InvalidInput(f"Unknown format {fmt!r}; use one of {', '.join(DOWNLOAD_FORMATS)}",
                               key="studio_unknown_format", details={"formats": list(DOWNLOAD_FORMATS)})
        raise NotFound(f"This model has no {fmt.upper()} file" + (" yet" if model.status != "ready" else ""),
                       key="studio_format_missing", details={"format": fmt})
    stored = session.get(StoredFile, row.file_id)
    if stored is None:  # pragma: no cover - the foreign key cascades
        raise NotFound(f"This model has no {fmt.upper()} file", key="studio_format_missing")
    return stored


def read_glb(session: Session, store: BlobStore, model: StudioModel) -> bytes:
    return store.read(file_row(session, model, "glb").blob_key)


def ascii_slug(text: str, limit: int = 48) -> str:
    """A file name Blender, Unity and every file system take: ASCII letters, digits and underscores."""
    flat = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[A-Za-z0-9]+", flat)
    return "_".join(words)[:limit].strip("_").lower()


def download_name(model: StudioModel, fmt: str) -> str:
    """`fire_truck_toy_1a2b3c4d.fbx`: the title's ASCII words (or `boda_model`) and the id's start."""
    stem = ascii_slug(model.title) or ascii_slug(model.prompt) or "boda_model"
    return f"{stem}_{model.id[:8]}{SUFFIXES.get(fmt, '.' + fmt)}"


@dataclass
class StoredFormats:
    """Files to record for one model: the format and the blob already in the store."""

    files: dict[str, tuple[uploads.PreparedFile, str]]  # format -> (prepared, origin)

    def all(self) -> list[uploads.PreparedFile]:
        return [prepared for prepared, _ in self.files.values()]


def prepare_file(store: BlobStore, data: bytes, fmt: str, *, stem: str) -> uploads.PreparedFile:
    return uploads.prepare_bytes(store, data, filename=f"{stem}{SUFFIXES.get(fmt, '.' + fmt)}",
                                 content_type=MEDIA_TYPES.get(fmt, "application/octet-stream"))


def record_files(session: Session, model: StudioModel, formats: StoredFormats) -> None:
    """Add (or replace) the model's files; a replaced blob becomes a sweep candidate."""
    existing = model_files(session, model.id)
    for fmt, (prepared, origin) in formats.files.items():
        old = existing.get(fmt)
        if old is not None:
            stored = session.get(StoredFile, old.file_id)
            session.delete(old)
            if stored is not None:
                uploads.delete_file(session, stored)
        row = uploads.record(session, prepared, owner_id=model.owner_id, app=APP)
        session.add(StudioFile(model_id=model.id, format=fmt, file_id=row.id, origin=origin))
    session.flush()


def record_image(session: Session, model: StudioModel, prepared: uploads.PreparedFile, *, kind: str) -> None:
    row = uploads.record(session, prepared, owner_id=model.owner_id, app=APP)
    old_id = model.thumbnail_file_id if kind == "thumbnail" else model.turntable_file_id
    if kind == "thumbnail":
        model.thumbnail_file_id = row.id
    else:
        model.turntable_file_id = row.id
    if old_id:
        old = session.get(StoredFile, old_id)
        if old is not None:
            uploads.delete_file(session, old)


def create_model(session: Session, *, owner_id: str, source: str, title: str, prompt: str = "",
                 provider: str | None = None, fidelity: str | None = None, status: str = "processing",
                 enhanced_prompt: str | None = None, remix_of_id: str | None = None,
                 original_filename: str = "", stats: dict[str, Any] | None = None) -> StudioModel:
    model = StudioModel(owner_id=owner_id, source=source, title=title[:200], prompt=prompt, provider=provider,
                        fidelity=fidelity, status=status, enhanced_prompt=enhanced_prompt,
                        remix_of_id=remix_of_id, original_filename=original_filename, stats=stats,
                        visibility=Visibility.private)
    session.add(model)
    session.flush()
    return model


def title_of(prompt: str) -> str:
    """A short title from the prompt: its first line, up to 80 characters at a word."""
    line = " ".join(prompt.split())
    if len(line) <= 80:
        return line
    cut = line[:80].rsplit(" ", 1)[0]
    return cut or line[:80]


def share(session: Session, model: StudioModel, visibility: Visibility, *, scope: Scope,
          household_id: str | None) -> None:
    """The core's visibility change; a household the caller is not in is a 409 on this model."""
    try:
        set_visibility(session, model, visibility, scope=scope, household_id=household_id)
    except NotFound as exc:
        raise Conflict(exc.message, key="household_not_found", details=exc.details) from exc
    if visibility == Visibility.public and model.published_at is None:
        model.published_at = utcnow()


def update_model(session: Session, scope: Scope, model_id: str, *, title: str | None = None,
                 visibility: Visibility | None = None, household_id: str | None = None) -> StudioModel:
    model = get_model(session, scope, model_id, write=True)
    if title is not None:
        model.title = title.strip()[:200]
    if visibility is not None:
        share(session, model, visibility, scope=scope, household_id=household_id)
    session.flush()
    return model


def delete_model(session: Session, scope: Scope, model_id: str) -> StudioModel:
    """Delete the model and its files (their blobs go at the next sweep); its job is canceled by the caller."""
    model = get_model(session, scope, model_id, write=True)
    file_ids = [row.file_id for row in model_files(session, model.id).values()]
    file_ids += [fid for fid in (model.thumbnail_file_id, model.turntable_file_id) if fid]
    session.delete(model)
    session.flush()
    for file_id in file_ids:
        stored = session.get(StoredFile, file_id)
        if stored is not None:
            uploads.delete_file(session, stored)
    return model


def list_models(session: Session, scope: Scope, *, mine: bool, sort: Sort, limit: int, offset: int,
                ids: Sequence[str] | None = None) -> Listed[StudioModel]:
    """The caller's own models (mine) or the gallery: public ones and those shared with the caller."""
    if mine:
        condition = StudioModel.owner_id == scope.require_user()
    else:
        condition = or_(StudioModel.visibility == Visibility.public, scope.shared_with_me(StudioModel))
    query = select(StudioModel).where(condition)
    if not mine:
        query = query.where(StudioModel.status == "ready")
    if ids is not None:
        query = query.where(StudioModel.id.in_(list(ids)))
    order = {"newest": [StudioModel.created_at.desc()],
             "popular": [StudioModel.likes.desc(), StudioModel.created_at.desc()],
             "score": [func.coalesce(StudioModel.score, -1).desc(), StudioModel.created_at.desc()]}[sort]
    return paginate(session, query.order_by(*order, StudioModel.id), limit=limit, offset=offset)


def liked_by(session: Session, user_id: str | None, model_ids: Sequence[str]) -> set[str]:
    if user_id is None or not model_ids:
        return set()
    return set(session.scalars(select(Like.model_id).where(Like.user_id == user_id,
                                                           Like.model_id.in_(list(model_ids)))).all())


def set_like(session: Session, scope: Scope, model_id: str, liked: bool) -> StudioModel:
    """Like or unlike a model the caller may see; the count is recounted, so a repeat changes nothing."""
    user_id = scope.require_user()
    model = get_model(session, scope, model_id)
    existing = session.get(Like, (model.id, user_id))
    if liked and existing is None:
        session.add(Like(model_id=model.id, user_id=user_id))
    elif not liked and existing is not None:
        session.delete(existing)
    session.flush()
    model.likes = session.scalar(select(func.count()).select_from(Like).where(Like.model_id == model.id)) or 0
    return model


def rate(session: Session, scope: Scope, model_id: str, score: int | None) -> StudioModel:
    """A 1..10 rating (None takes it back); the model's mean and count follow."""
    user_id = scope.require_user()
    model = get_model(session, scope, model_id)
    existing = session.get(Rating, (model.id, user_id))
    if score is None:
        if existing is not None:
            session.delete(existing)
    elif existing is None:
        session.add(Rating(model_id=model.id, user_id=user_id, score=score))
    else:
        existing.score = score
    session.flush()
    count, mean = session.execute(select(func.count(), func.avg(Rating.score)).where(Rating.model_id == model.id)
                                  ).one()
    model.ratings, model.rating_mean = int(count or 0), (float(mean) if mean is not None else None)
    return model


def my_rating(session: Session, user_id: str | None, model_id: str) -> int | None:
    if user_id is None:
        return None
    row = session.get(Rating, (model_id, user_id))
    return row.score if row else None


def generation_of(session: Session, model_id: str) -> Generation | None:
    return session.scalar(select(Generation).where(Generation.model_id == model_id)
                          .order_by(Generation.created_at.desc()).limit(1))


def system_prompt_of(session: Session, user_id: str) -> str | None:
    prefs = session.get(StudioPrefs, user_id)
    return prefs.system_prompt if prefs else None


def set_system_prompt(session: Session, user_id: str, text: str | None) -> None:
    prefs = session.get(StudioPrefs, user_id) or StudioPrefs(user_id=user_id)
    prefs.system_prompt = (text or "").strip() or None
    session.add(prefs)
    session.flush()


def rated_models(session: Session) -> list[tuple[StudioModel, list[int]]]:
    """Every model with ratings and their scores: what the scorer learns from."""
    rows = session.execute(select(Rating.model_id, Rating.score)).all()
    scores: dict[str, list[int]] = {}
    for model_id, score in rows:
        scores.setdefault(model_id, []).append(int(score))
    models = session.scalars(select(StudioModel).where(StudioModel.id.in_(list(scores)))).all()
    return [(model, scores[model.id]) for model in models]


def forget_likes_and_ratings(session: Session, model_id: str) -> None:
    session.execute(delete(Like).where(Like.model_id == model_id))
    session.execute(delete(Rating).where(Rating.model_id == model_id))


def studio_settings_of(runtime: Any) -> Any:
    from boda.apps.studio.settings import studio_settings

    return studio_settings(runtime.settings)


def limits_of(settings: Any) -> Any:
    """What one upload (or a provider's file) may cost, from `studio.*`."""
    from boda.apps.studio.formats import Limits

    return Limits(max_bytes=settings.max_upload_bytes, max_triangles=settings.max_triangles)
