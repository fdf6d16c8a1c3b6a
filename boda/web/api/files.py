"""Stored files: describe, stream, share, delete."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import PurePath
from typing import Annotated, Literal
from urllib.parse import quote

from cachetools import LRUCache
from fastapi import APIRouter
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from boda.core import auth, location
from boda.core.auth import Scope
from boda.core.models import StoredFile, Visibility
from boda.core.runtime import Runtime
from boda.core.schemas import FileOut
from boda.core.uploads import delete_file as delete
from boda.core.uploads import download_name
from boda.web.deps import CurrentUser, DbSession, MaybeUser, RuntimeDep

router = APIRouter(tags=["files"])


class HouseholdVisibilityIn(BaseModel):
    """Shared with one household the caller belongs to."""

    visibility: Literal[Visibility.household]
    household_id: str = Field(max_length=36, description="A household the caller belongs to (else 404).")


class OtherVisibilityIn(BaseModel):
    """Private, by unlisted link, or public: no household."""

    visibility: Literal[Visibility.private, Visibility.unlisted, Visibility.public]
    household_id: None = Field(default=None, description="Given only with `household` visibility.")


# The schema says which visibility needs a household, so no valid body is refused for it.
VisibilityIn = Annotated[HouseholdVisibilityIn | OtherVisibilityIn, Field(discriminator="visibility")]


@router.get("/files/{file_id}")
def get_file(file_id: str, session: DbSession, user: MaybeUser) -> FileOut:
    """Describe a stored file the caller may see."""
    return FileOut.of(auth.get_visible(session, StoredFile, file_id, Scope.of(user)))


@router.get("/files/{file_id}/content", response_class=StreamingResponse)
def file_content(file_id: str, session: DbSession, user: MaybeUser, runtime: RuntimeDep,
                 download: bool = False) -> StreamingResponse:
    """Stream a stored file's bytes, after checking who may see it."""
    scope = Scope.of(user)
    return stream_for(session, runtime, auth.get_visible(session, StoredFile, file_id, scope), scope, download)


@router.get("/shared/{share_token}", response_class=StreamingResponse)
def shared_content(share_token: str, session: DbSession, runtime: RuntimeDep) -> StreamingResponse:
    """Stream a file shared by an unlisted link."""
    row = auth.get_shared(session, StoredFile, share_token)
    return stream_for(session, runtime, row, Scope(user_id=None), False)


def stream_for(session: Session, runtime: Runtime, row: StoredFile, scope: Scope, download: bool) -> Response:
    """A stored file as this reader may have it: an image without where it was taken, unless the reader may
    know its owner's places (`Scope.knows_places_of`); anything else as stored."""
    if row.content_type.startswith("image/") and row.owner_id not in scope.place_owners(session):
        placeless = _placeless(runtime, row.blob_key)
        if placeless is not None:
            # Not cached for long: the owner may join a household with this reader, or leave it.
            name = quote(PurePath(download_name(row.filename, row.content_type)).stem + placeless.extension)
            disposition = "attachment" if download else "inline"
            return Response(placeless.data, media_type=placeless.media_type,
                            headers={"content-disposition": f"{disposition}; filename*=UTF-8''{name}",
                                     "cache-control": "private, max-age=60", "x-content-type-options": "nosniff"})
    return stream_file(runtime, row, download)


# A blob's bytes never change, so its place-free copy is made once: a public album's HEIC photos are not
# decoded and re-encoded at every stranger's view. About 64 MB of the copies made last, per process.
_PLACELESS: LRUCache[str, location.Rewritten | None] = LRUCache(
    maxsize=64 * 1024 * 1024, getsizeof=lambda made: len(made.data) if made is not None else 1)
_PLACELESS_LOCK = threading.Lock()


def _placeless(runtime: Runtime, blob_key: str) -> location.Rewritten | None:
    with _PLACELESS_LOCK:
        if blob_key in _PLACELESS:
            return _PLACELESS[blob_key]
    with runtime.image_work, runtime.store.open(blob_key) as blob:
        made = location.without_location(blob)
    with _PLACELESS_LOCK, contextlib.suppress(ValueError):  # larger than the whole cache: not kept
        _PLACELESS[blob_key] = made
    return made


def stream_file(runtime: Runtime, row: StoredFile, download: bool) -> StreamingResponse:
    blob = runtime.store.open(row.blob_key)  # before the answer starts: a missing blob is a 404

    def chunks() -> Iterator[bytes]:
        with blob:
            while block := blob.read(1024 * 1024):
                yield block

    disposition = "attachment" if download else "inline"
    name = quote(download_name(row.filename, row.content_type))  # the sniffed type's extension, not the client's
    headers = {
        "content-disposition": f"{disposition}; filename*=UTF-8''{name}",
        "content-length": str(row.size),
        "cache-control": "private, max-age=3600",
        "x-content-type-options": "nosniff",
        "etag": f'"{row.blob_key}"',
    }
    return StreamingResponse(chunks(), media_type=row.content_type, headers=headers)


@router.delete("/files/{file_id}", status_code=204)
def delete_file(file_id: str, session: DbSession, user: CurrentUser) -> None:
    """Delete one of the caller's files, and the files made from it."""
    delete(session, auth.get_visible(session, StoredFile, file_id, Scope.of(user), write=True))


@router.patch("/files/{file_id}")
def share_file(file_id: str, body: VisibilityIn, session: DbSession, user: CurrentUser) -> FileOut:
    """Change who may see one of the caller's files."""
    scope = Scope.of(user)
    row = auth.get_visible(session, StoredFile, file_id, scope, write=True)
    auth.set_visibility(session, row, body.visibility, scope=scope, household_id=body.household_id)
    session.flush()
    return FileOut.of(row)
