"""Finding photos: by a sentence (Korean or English), by a photo like it, by words written in it.

The vector store ranks; the database decides who may see what. Every search first
builds the set of photo ids the caller may see that match the filters (the same query
the library uses), and the store returns the top matches *within* that set, so a
private photo cannot appear in a stranger's results however close it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
from PIL import Image
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from boda.ai.embed import ImageTextEmbedder
from boda.apps.album import people, service
from boda.apps.album.indexing import space_for
from boda.apps.album.models import Photo, PhotoTag, Tag
from boda.apps.album.service import PhotoFilters
from boda.core.auth import Scope
from boda.core.errors import Conflict, InvalidInput
from boda.core.runtime import Runtime

# A photo whose written words, caption or tag contain the query is shown before photos that only
# look alike: someone who typed the word on a sign wants that sign.
LITERAL_BONUS = 1.0
MAX_QUERY = 500
# `sort=date` shows the best matches newest first: the vector store scores every photo, so "all of them by
# date" would be the library itself. The window is how many of the best matches are put in date order.
DATE_WINDOW = 200
Sort = Literal["relevance", "date"]


@dataclass(frozen=True)
class Hit:
    photo: Photo
    score: float
    matched: str  # "vector", "text" (words in the photo, caption or tag), or both "text+vector"


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    total: int  # photos ranked (at most offset + limit + what matched literally)
    backend: str  # the embedder's key
    pending: int  # photos the caller may see that this backend has not indexed yet


def embedder_of(runtime: Runtime) -> ImageTextEmbedder:
    return runtime.ai.get("image_text_embedder")


def _visible(session: Session, scope: Scope, filters: PhotoFilters, key: str) -> tuple[set[str], set[str]]:
    """Ids the caller may see that match the filters: all of them, and those indexed by `key`."""
    query = service.photo_filter_query(scope, filters).order_by(None)
    rows = session.execute(query.with_only_columns(Photo.id, Photo.index_key)).all()
    return {photo_id for photo_id, _ in rows}, {photo_id for photo_id, index_key in rows if index_key == key}


def _literal(session: Session, ids: set[str], text: str, user_id: str | None = None) -> set[str]:
    """Photos among `ids` whose OCR text, caption or a tag contains the query (case-folded), or that
    show one of the caller's people whose name matches it (names are private: only the caller's own).

    A renamed person is found by the new name at once: the match is on names, not on vectors,
    so no photo's embedding changes when a name does.
    """
    if not ids or not text:
        return set()
    found: set[str] = people.names_matching(session, user_id, text) & ids
    pattern = f"%{text.casefold()}%"
    tagged = select(PhotoTag.photo_id).join(Tag, Tag.id == PhotoTag.tag_id).where(Tag.name.like(pattern))
    id_list = list(ids)
    for start in range(0, len(id_list), 900):  # SQLite's bound-parameter limit
        chunk = id_list[start:start + 900]
        found.update(session.scalars(select(Photo.id).where(
            Photo.id.in_(chunk),
            or_(func.lower(Photo.ocr_text).like(pattern), func.lower(Photo.caption).like(pattern),
                Photo.id.in_(tagged)))))
    return found


def _rank(session: Session, runtime: Runtime, scope: Scope, filters: PhotoFilters, vector: np.ndarray | None,
          *, text: str = "", exclude: str | None = None, limit: int, offset: int,
          sort: Sort = "relevance") -> SearchResult:
    embedder = embedder_of(runtime)
    visible, allowed = _visible(session, scope, filters, embedder.key)
    pending = len(visible) - len(allowed)
    if exclude:
        allowed.discard(exclude)
        visible.discard(exclude)
    scores: dict[str, float] = {}
    matched: dict[str, str] = {}
    if vector is not None and allowed:
        want = min(len(allowed), max(offset + limit, DATE_WINDOW) if sort == "date" else offset + limit)
        for photo_id, score in runtime.vectors.search(space_for(embedder.key), vector, k=want, allowed=allowed):
            scores[photo_id], matched[photo_id] = float(score), "vector"
    # Literal matches reach photos not indexed by this backend yet too (re-indexing keeps search working).
    for photo_id in _literal(session, visible, text, scope.user_id):
        scores[photo_id] = scores.get(photo_id, 0.0) + LITERAL_BONUS
        matched[photo_id] = "text+vector" if photo_id in matched else "text"
    ordered = sorted(scores.items(), key=lambda item: (-item[1], item[0]))
    if sort == "date":
        ordered = _by_date(session, ordered[:max(offset + limit, DATE_WINDOW)])
    page = ordered[offset:offset + limit]
    photos = {p.id: p for p in session.scalars(select(Photo).where(Photo.id.in_([pid for pid, _ in page])))}
    hits = [Hit(photos[pid], score, matched[pid]) for pid, score in page if pid in photos]
    return SearchResult(hits, len(ordered), embedder.key, pending)


def _by_date(session: Session, ranked: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The ranked hits newest taken first (ties: the better score), keeping each photo's score."""
    taken: dict[str, datetime] = {}
    ids = [pid for pid, _ in ranked]
    for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
        rows = session.execute(select(Photo.id, Photo.taken_at).where(Photo.id.in_(ids[start:start + 900])))
        taken.update((photo_id, moment) for photo_id, moment in rows)
    ordered = sorted(ranked, key=lambda item: (-item[1], item[0]))
    ordered.sort(key=lambda item: taken[item[0]], reverse=True)  # stable: equal dates keep relevance order
    return [item for item in ordered if item[0] in taken]


def by_text(session: Session, runtime: Runtime, scope: Scope, text: str, filters: PhotoFilters, *,
            limit: int, offset: int = 0, sort: Sort = "relevance") -> SearchResult:
    """Photos that show what the sentence says (any language the embedder reads), best first."""
    text = " ".join(text.split())
    if not text:
        raise InvalidInput("Type what you are looking for", key="search_empty")
    if len(text) > MAX_QUERY:
        raise InvalidInput(f"A search is at most {MAX_QUERY} characters", key="search_too_long",
                           details={"max": MAX_QUERY})
    vector = embedder_of(runtime).embed_texts([text])[0]
    return _rank(session, runtime, scope, filters, vector, text=text, limit=limit, offset=offset, sort=sort)


def similar(session: Session, runtime: Runtime, scope: Scope, photo_id: str, filters: PhotoFilters, *,
            limit: int, offset: int = 0, sort: Sort = "relevance") -> SearchResult:
    """Photos like one the caller may see (404 otherwise); the photo itself is left out."""
    photo = service.get_photo(session, scope, photo_id)
    embedder = embedder_of(runtime)
    vector = runtime.vectors.get(space_for(embedder.key), photo.id) if photo.index_key == embedder.key else None
    if vector is None:
        raise Conflict("This photo is not indexed yet; try again in a moment", key="photo_not_indexed")
    return _rank(session, runtime, scope, filters, vector, exclude=photo.id, limit=limit, offset=offset,
                 sort=sort)


def by_image(session: Session, runtime: Runtime, scope: Scope, image: Image.Image, filters: PhotoFilters, *,
             limit: int, offset: int = 0, sort: Sort = "relevance") -> SearchResult:
    """Photos like a query photo that is not stored anywhere."""
    vector = embedder_of(runtime).embed_images([image])[0]
    return _rank(session, runtime, scope, filters, vector, limit=limit, offset=offset, sort=sort)
