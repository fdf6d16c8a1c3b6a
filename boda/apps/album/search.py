"""Finding photos: by a sentence (Korean or English), by a photo like it, by words written in it.

The vector store ranks; the database decides who may see what, with the same query the
library uses. Either the store ranks only the ids that query allows, or it ranks the whole
space and every result is checked against that query (`_nearest` picks the cheaper), so a
private photo cannot appear in a stranger's results however close it is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
from PIL import Image
from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

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
# The nearest-photos plan (see `_nearest`): rank the whole space and keep what the caller may see when
# they may see at least this share of it; fetch this many times what that share predicts.
POST_FILTER_SHARE = 0.2
OVERFETCH = 1.5
MIN_FETCH = 32
MAX_FETCH = 1000  # past it, handing the store the allowed ids costs less (and pgvector's beam stops at 1000)
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


def _visible_query(scope: Scope, filters: PhotoFilters) -> Select[tuple[Photo]]:
    return service.photo_filter_query(scope, filters).order_by(None)


def _counts(session: Session, scope: Scope, filters: PhotoFilters, key: str) -> tuple[int, int]:
    """How many photos the caller may see that match the filters, and how many of them `key` indexed."""
    indexed = func.count(case((Photo.index_key == key, 1)))
    visible, done = session.execute(_visible_query(scope, filters).with_only_columns(func.count(), indexed)).one()
    return int(visible), int(done or 0)


def _indexed_ids(session: Session, scope: Scope, filters: PhotoFilters, key: str) -> set[str]:
    """Every id the caller may see that matches the filters and `key` indexed: the store's allowed set."""
    query = _visible_query(scope, filters).with_only_columns(Photo.id).where(Photo.index_key == key)
    return set(session.scalars(query))


def _indexed_among(session: Session, scope: Scope, filters: PhotoFilters, key: str, ids: list[str]) -> set[str]:
    """Those of `ids` the caller may see, that match the filters and that `key` indexed."""
    found: set[str] = set()
    for start in range(0, len(ids), 900):  # SQLite's bound-parameter limit
        query = _visible_query(scope, filters).with_only_columns(Photo.id).where(
            Photo.index_key == key, Photo.id.in_(ids[start:start + 900]))
        found.update(session.scalars(query))
    return found


def _nearest(session: Session, runtime: Runtime, scope: Scope, filters: PhotoFilters, key: str,
             vector: np.ndarray, want: int, indexed: int, exclude: str | None) -> list[tuple[str, float]]:
    """The `want` nearest photos the caller may see, best first.

    Two plans, as a database chooses between an index and a scan. When the caller may see a
    good share of the space (one's own library on a server of one or a few people), the store
    ranks the whole space for a few more than `want` and the page is kept to what SQL says the
    caller may see: no id list at all. Otherwise (a small share, or the first plan came back
    short), the store is handed every id the caller may see and ranks only those. Both plans
    check each result against the same visibility query, so neither can show a private photo.
    """
    space = space_for(key)
    total = runtime.vectors.count(space)
    share = indexed / total if total else 0.0
    fetch = min(total, max(MIN_FETCH, math.ceil((want + 1) / share * OVERFETCH))) if share else 0
    if share >= POST_FILTER_SHARE and fetch <= MAX_FETCH:
        candidates = runtime.vectors.search(space, vector, k=fetch)
        ok = _indexed_among(session, scope, filters, key, [photo_id for photo_id, _ in candidates])
        hits = [(photo_id, score) for photo_id, score in candidates if photo_id in ok and photo_id != exclude]
        if len(hits) >= want or fetch >= total:  # enough, or the whole space was ranked
            return hits[:want]
    allowed = _indexed_ids(session, scope, filters, key)
    allowed.discard(exclude or "")
    return runtime.vectors.search(space, vector, k=want, allowed=allowed) if allowed else []


def _literal_query(session: Session, scope: Scope, filters: PhotoFilters, text: str) -> Select[tuple[str]]:
    """The ids of photos the caller may see (matching the filters) whose OCR text, caption or a tag holds
    the query (whatever the case), or that show one of the caller's people whose name matches it (names
    are private: only the caller's own). One SQL statement: no list of ids goes in.

    A renamed person is found by the new name at once: the match is on names, not on vectors,
    so no photo's embedding changes when a name does.
    """
    sqlite = session.get_bind().dialect.name == "sqlite"
    tagged = select(PhotoTag.photo_id).join(Tag, Tag.id == PhotoTag.tag_id).where(
        Tag.name.contains(text.casefold(), autoescape=True))  # tag names are stored folded
    matches = [_contains(Photo.ocr_text, text, sqlite), _contains(Photo.caption, text, sqlite), Photo.id.in_(tagged)]
    named = people.photos_named(session, scope.user_id, text)
    if named is not None:
        matches.append(Photo.id.in_(named))
    return _visible_query(scope, filters).with_only_columns(Photo.id).where(or_(*matches))


def _literal(session: Session, scope: Scope, filters: PhotoFilters, text: str) -> set[str]:
    return set(session.scalars(_literal_query(session, scope, filters, text))) if text else set()


def _contains(column: InstrumentedAttribute[str | None], text: str, sqlite: bool) -> ColumnElement[bool]:
    """The column holds the text, whatever the case; "%", "_" and "/" in it are only themselves.

    SQLite's LIKE ignores the case of ASCII letters only, so a word with other cased letters is also
    asked in lower and upper case ("Café": "café", "CAFÉ"); Korean has no case and is asked once. No
    lower() copy of every row is made, and the scan of the library index stays a scan. PostgreSQL's
    ILIKE folds every letter.
    """
    if not sqlite:
        return column.icontains(text, autoescape=True)
    forms = dict.fromkeys((text, text.lower(), text.upper()) if _cased_beyond_ascii(text) else (text,))
    return or_(*(column.contains(form, autoescape=True) for form in forms))


def _cased_beyond_ascii(text: str) -> bool:
    return any(not ch.isascii() and ch.lower() != ch.upper() for ch in text)


def _rank(session: Session, runtime: Runtime, scope: Scope, filters: PhotoFilters, vector: np.ndarray | None,
          *, text: str = "", exclude: str | None = None, limit: int, offset: int,
          sort: Sort = "relevance") -> SearchResult:
    service.check_filters(session, scope, filters)
    embedder = embedder_of(runtime)
    visible, indexed = _counts(session, scope, filters, embedder.key)
    pending = visible - indexed
    scores: dict[str, float] = {}
    matched: dict[str, str] = {}
    if vector is not None and indexed:
        want = min(indexed, max(offset + limit, DATE_WINDOW) if sort == "date" else offset + limit)
        for photo_id, score in _nearest(session, runtime, scope, filters, embedder.key, vector, want, indexed,
                                        exclude):
            scores[photo_id], matched[photo_id] = float(score), "vector"
    # Literal matches reach photos not indexed by this backend yet too (re-indexing keeps search working).
    for photo_id in _literal(session, scope, filters, text) - {exclude}:
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
