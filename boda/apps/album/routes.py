"""Album's API under /api/v1/album."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, File, Path, Query, Request, UploadFile
from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from boda.ai.heads import confusion_svg
from boda.apps.album import captions, classifying, people, search, service
from boda.apps.album.models import Album, Classifier, ClassifierVersion, Face, Photo, PhotoTag
from boda.apps.album.schemas import (
    AlbumIn,
    AlbumOut,
    AlbumPatch,
    AskIn,
    CaptionIn,
    ClassifierDetailOut,
    ClassifierIn,
    ClassifierOut,
    ExampleOut,
    ExamplesIn,
    MergeIn,
    OcrWordOut,
    PersonFaceOut,
    PersonOut,
    PersonPatch,
    PhotoDetailOut,
    PhotoIds,
    PhotoOut,
    PhotoPatch,
    SearchHitOut,
    SearchOut,
    TagIn,
    TagOut,
    VersionOut,
)
from boda.apps.album.service import PhotoFilters
from boda.apps.album.settings import album_settings
from boda.core import uploads
from boda.core.auth import Scope
from boda.core.runtime import Runtime
from boda.core.schemas import JobOut, Page, PageParams
from boda.web.api.files import stream_file, stream_for
from boda.web.deps import CurrentUser, DbSession, MaybeUser, RuntimeDep
from boda.web.i18n import job_text
from boda.web.openapi import errors, image_upload

API_PREFIX = "/api/v1/album"
router = APIRouter(prefix=API_PREFIX, tags=["album"])

IMAGE = {"content": {"image/webp": {}, "image/*": {}}, "description": "The image's bytes."}
JOB_HEADER = "X-Boda-Job-Id"
UPLOADED = {201: {"description": "The photos, in the order sent (an existing one for bytes already stored). "
                  f"When new photos were stored, the `{JOB_HEADER}` header names their `album.index` job: "
                  "follow it at /api/v1/jobs/{id} or /api/v1/jobs/{id}/events.",
                  "headers": {JOB_HEADER: {"description": "The indexing job, absent when nothing new was stored.",
                                           "schema": {"type": "string"}}}}}
SortParam = Annotated[search.Sort, Query(description="relevance (best first) or date (the best matches, newest "
                                                     "taken first)")]


def photo_out(photo: Photo, tags: list[PhotoTag] | None = None, duplicate_of: str | None = None, *,
              place: bool) -> PhotoOut:
    """The photo as one reader sees it: with `place` False, no GPS position (see `Scope.knows_places_of`)."""
    base = f"/api/v1/album/photos/{photo.id}"
    return PhotoOut(
        id=photo.id, owner_id=photo.owner_id, visibility=photo.visibility, household_id=photo.household_id,
        share_url=f"/api/v1/album/shared/{photo.share_token}/original" if photo.share_token else None,
        filename=photo.filename, mime=photo.mime, width=photo.width, height=photo.height, sha256=photo.sha256,
        phash=photo.phash, taken_at=photo.taken_at, created_at=photo.created_at, camera_make=photo.camera_make,
        camera_model=photo.camera_model, gps_lat=photo.gps_lat if place else None,
        gps_lon=photo.gps_lon if place else None, favorite=photo.favorite,
        trashed_at=photo.trashed_at, caption=photo.caption, caption_source=photo.caption_source,
        ocr_text=photo.ocr_text, faces_count=photo.faces_count, hide_faces=photo.hide_faces,
        indexed_at=photo.indexed_at,
        index_backend=photo.index_key, thumbnail_url=f"{base}/thumbnail", original_url=f"{base}/original",
        thumbnail_sizes=sorted(int(s) for s in photo.thumbnails),
        tags=[TagOut(name=t.tag.name, source=t.source, score=t.score) for t in tags or []],
        duplicate_of=duplicate_of)


def photos_out(session: Session, scope: Scope, photos: list[Photo]) -> list[PhotoOut]:
    tags = service.tags_of(session, [p.id for p in photos])
    places = scope.place_owners(session)
    return [photo_out(p, tags[p.id], place=p.owner_id in places) for p in photos]


def album_out(album: Album, count: int, *, cover_visible: bool = True) -> AlbumOut:
    cover_id = album.cover_photo_id if cover_visible else None
    cover = f"/api/v1/album/photos/{cover_id}/thumbnail" if cover_id else None
    return AlbumOut(id=album.id, owner_id=album.owner_id, title=album.title, description=album.description,
                    visibility=album.visibility, household_id=album.household_id,
                    cover_photo_id=cover_id, cover_url=cover, photo_count=count,
                    created_at=album.created_at, hide_faces=album.hide_faces)


def albums_out(session: Session, scope: Scope, albums: Sequence[Album]) -> list[AlbumOut]:
    """Albums as this scope sees them: its count of their photos, and no cover it may not open."""
    counts = service.photo_counts(session, scope, [a.id for a in albums])
    covers = service.visible_covers(session, scope, albums)
    return [album_out(a, counts[a.id], cover_visible=a.cover_photo_id in covers) for a in albums]


def _detail(session: Session, runtime: RuntimeDep, scope: Scope, photo: Photo) -> PhotoDetailOut:
    distance = album_settings(runtime.settings).near_duplicate_distance
    out = photos_out(session, scope, [photo])[0]
    return PhotoDetailOut(**out.model_dump(), album_ids=service.albums_of(session, scope, photo.id),
                          near_duplicates=service.near_duplicates(session, scope, photo, distance=distance),
                          ocr_words=[OcrWordOut(**w) for w in captions.ocr_words(photo)])


# --- photos ------------------------------------------------------------------

@router.post("/photos", status_code=201, responses={**errors(503), **UPLOADED},
             openapi_extra=image_upload("files"))
def upload_photos(session: DbSession, user: CurrentUser, runtime: RuntimeDep, response: Response,
                  files: Annotated[list[UploadFile], File(min_length=1, max_length=service.MAX_FILES)],
                  ) -> list[PhotoOut]:
    """Store photos (JPEG, PNG, WebP, HEIC, GIF); bytes already in the library answer with `duplicate_of`.

    New photos are indexed by a background job named in the `X-Boda-Job-Id` header.
    """
    stored = service.upload_photos(session, runtime, owner_id=user.id, files=[(f.file, f.filename) for f in files])
    if job_id := next((s.job_id for s in stored if s.job_id), None):
        response.headers[JOB_HEADER] = job_id
    tags = service.tags_of(session, [s.photo.id for s in stored])
    return [photo_out(s.photo, tags[s.photo.id], s.duplicate_of, place=True) for s in stored]  # the uploader's own


@router.get("/photos", responses=errors(404))
def list_photos(session: DbSession, user: CurrentUser, page: Annotated[PageParams, Depends()],
                filters: Annotated[PhotoFilters, Query()]) -> Page[PhotoOut]:
    """List the library (own photos and those households share), newest taken first; 404 for a hidden album."""
    scope = Scope.of(user)
    listed = service.list_photos(session, scope, filters, limit=page.limit, offset=page.offset)
    return Page(items=photos_out(session, scope, listed.items), total=listed.total, limit=page.limit,
                offset=page.offset)


@router.get("/photos/{photo_id}")
def get_photo(photo_id: str, session: DbSession, user: MaybeUser, runtime: RuntimeDep) -> PhotoDetailOut:
    """Return one photo the caller may see, with its near duplicates and albums."""
    scope = Scope.of(user)
    return _detail(session, runtime, scope, service.get_photo(session, scope, photo_id))


@router.get("/photos/{photo_id}/thumbnail", response_class=StreamingResponse, responses={200: IMAGE})
def photo_thumbnail(photo_id: str, session: DbSession, user: MaybeUser, runtime: RuntimeDep,
                    size: Annotated[int, Query(ge=1, le=4096, description="Wanted long side in px.")] = 256,
                    ) -> StreamingResponse:
    """Stream a WebP thumbnail at least `size` px on its long side (or the largest made); faces blurred
    for anyone but the owner when the photo, or an album holding it, hides faces."""
    photo = service.get_photo(session, Scope.of(user), photo_id, trashed=True)
    return _thumbnail(session, runtime, photo, size, user.id if user else None)


def _thumbnail(session: Session, runtime: RuntimeDep, photo: Photo, size: int, viewer: str | None) -> Response:
    if people.faces_hidden(session, photo, viewer):
        return _hidden(people.hidden_image(session, runtime, photo, size=size))
    return stream_file(runtime, service.thumbnail_file(session, photo, size), False)


def _original(session: Session, runtime: RuntimeDep, photo: Photo, viewer: str | None, download: bool) -> Response:
    if people.faces_hidden(session, photo, viewer):
        return _hidden(people.hidden_image(session, runtime, photo, size=None))
    return stream_for(session, runtime, service.original_file(session, photo), Scope(user_id=viewer), download)


def _hidden(data: bytes) -> Response:
    # Not cached for long: the owner may turn hiding off (or on) at any time.
    return Response(data, media_type="image/webp", headers={"cache-control": "private, max-age=60",
                                                            "x-content-type-options": "nosniff"})


@router.get("/photos/{photo_id}/original", response_class=StreamingResponse, responses={200: IMAGE})
def photo_original(photo_id: str, session: DbSession, user: MaybeUser, runtime: RuntimeDep,
                   download: bool = False) -> StreamingResponse:
    """Stream the original file as uploaded, EXIF included, to its owner and their households' members.

    Anyone else gets it without where it was taken (a JPEG keeps its pixels; other formats are re-encoded);
    when its faces are hidden from the caller, a WebP re-encoding with faces blurred and no EXIF."""
    photo = service.get_photo(session, Scope.of(user), photo_id, trashed=True)
    return _original(session, runtime, photo, user.id if user else None, download)


@router.get("/shared/{share_token}/original", response_class=StreamingResponse, responses={200: IMAGE})
def shared_original(share_token: str, session: DbSession, runtime: RuntimeDep) -> StreamingResponse:
    """Stream a photo shared by an unlisted link."""
    photo = service.shared_photo(session, share_token)
    return _original(session, runtime, photo, None, False)


@router.get("/shared/{share_token}/thumbnail", response_class=StreamingResponse, responses={200: IMAGE})
def shared_thumbnail(share_token: str, session: DbSession, runtime: RuntimeDep,
                     size: Annotated[int, Query(ge=1, le=4096)] = 256) -> StreamingResponse:
    """Stream a thumbnail of a photo shared by an unlisted link."""
    photo = service.shared_photo(session, share_token)
    return _thumbnail(session, runtime, photo, size, None)


@router.patch("/photos/{photo_id}", responses=errors(409))
def update_photo(photo_id: str, body: PhotoPatch, session: DbSession, user: CurrentUser,
                 runtime: RuntimeDep) -> PhotoDetailOut:
    """Change one of the caller's photos: favourite, date taken, visibility."""
    scope = Scope.of(user)
    photo = service.update_photo(session, scope, photo_id, favorite=body.favorite, taken_at=body.taken_at,
                                 visibility=body.visibility, household_id=body.household_id, hide_faces=body.hide_faces)
    return _detail(session, runtime, scope, photo)


@router.delete("/trash", status_code=200)
def empty_trash(session: DbSession, user: CurrentUser, runtime: RuntimeDep) -> dict[str, int]:
    """Delete every photo in the caller's trash for good."""
    return {"deleted": service.empty_trash(session, runtime, Scope.of(user))}


@router.delete("/photos/{photo_id}", status_code=204)
def trash_photo(photo_id: str, session: DbSession, user: CurrentUser) -> None:
    """Move one of the caller's photos to the trash: gone from here, restorable for `album.trash_days`."""
    service.trash_photo(session, Scope.of(user), photo_id)


@router.post("/photos/{photo_id}/restore")
def restore_photo(photo_id: str, session: DbSession, user: CurrentUser) -> PhotoOut:
    """Bring a photo back from the trash."""
    scope = Scope.of(user)
    return photos_out(session, scope, [service.restore_photo(session, scope, photo_id)])[0]


@router.post("/photos/{photo_id}/tags", status_code=201)
def add_tag(photo_id: str, body: TagIn, session: DbSession, user: CurrentUser) -> PhotoOut:
    """Tag one of the caller's photos."""
    scope = Scope.of(user)
    return photos_out(session, scope, [service.add_tag(session, scope, photo_id, body.name)])[0]


@router.delete("/photos/{photo_id}/tags/{name}", status_code=204)
def remove_tag(photo_id: str, name: str, session: DbSession, user: CurrentUser) -> None:
    """Remove a tag from one of the caller's photos."""
    service.remove_tag(session, Scope.of(user), photo_id, name)


# --- captions and questions by the chat model ----------------------------------

@router.post("/photos/{photo_id}/caption", status_code=202, responses=errors(404, 503))
def caption_photo(photo_id: str, body: CaptionIn, request: Request, session: DbSession, user: CurrentUser,
                  runtime: RuntimeDep) -> JobOut:
    """Queue a caption of one of the caller's photos by the chat model (503, with the reason, when none is set).

    The job's result has the caption; the photo then shows it with `caption_source` llm:<model>.
    Follow it at /api/v1/jobs/{id}/events.
    """
    photo = service.get_photo(session, Scope.of(user), photo_id, write=True)
    captions.require_chat(runtime)
    job = captions.queue_caption(session, runtime, owner_id=user.id, photo_ids=[photo.id], language=body.language)
    return JobOut.of(job, job_text(request, user.locale))


@router.post("/photos/{photo_id}/ask", status_code=202, responses=errors(404, 503))
def ask_photo(photo_id: str, body: AskIn, request: Request, session: DbSession, user: CurrentUser,
              runtime: RuntimeDep) -> JobOut:
    """Queue a question about a photo the caller may see; the job's result `answer` is the reply (kept nowhere else)."""
    photo = service.get_photo(session, Scope.of(user), photo_id)
    captions.require_chat(runtime)
    job = captions.queue_ask(session, runtime, asker_id=user.id, photo_id=photo.id, question=body.question.strip(),
                             language=body.language)
    return JobOut.of(job, job_text(request, user.locale))


# --- albums ------------------------------------------------------------------

@router.post("/albums", status_code=201)
def create_album(body: AlbumIn, session: DbSession, user: CurrentUser) -> AlbumOut:
    """Create an empty private album."""
    return album_out(service.create_album(session, Scope.of(user), title=body.title, description=body.description),
                     0)


@router.get("/albums")
def list_albums(session: DbSession, user: CurrentUser, page: Annotated[PageParams, Depends()]) -> Page[AlbumOut]:
    """List the caller's albums and those their households share, newest first."""
    scope = Scope.of(user)
    listed = service.list_albums(session, scope, limit=page.limit, offset=page.offset)
    return Page(items=albums_out(session, scope, listed.items), total=listed.total,
                limit=page.limit, offset=page.offset)


def _album(session: Session, scope: Scope, album: Album) -> AlbumOut:
    return albums_out(session, scope, [album])[0]


@router.get("/albums/{album_id}")
def get_album(album_id: str, session: DbSession, user: MaybeUser) -> AlbumOut:
    """Return one album the caller may see (its photos: GET /photos?album_id=)."""
    scope = Scope.of(user)
    return _album(session, scope, service.get_album(session, scope, album_id))


@router.patch("/albums/{album_id}", responses=errors(409))
def update_album(album_id: str, body: AlbumPatch, session: DbSession, user: CurrentUser) -> AlbumOut:
    """Rename, describe, pick a cover, or share one of the caller's albums."""
    scope = Scope.of(user)
    album = service.update_album(session, scope, album_id, title=body.title, description=body.description,
                                 cover_photo_id=body.cover_photo_id, visibility=body.visibility,
                                 household_id=body.household_id, hide_faces=body.hide_faces)
    return _album(session, scope, album)


@router.delete("/albums/{album_id}", status_code=204)
def delete_album(album_id: str, session: DbSession, user: CurrentUser) -> None:
    """Delete one of the caller's albums; its photos stay."""
    service.delete_album(session, Scope.of(user), album_id)


@router.post("/albums/{album_id}/photos")
def add_album_photos(album_id: str, body: PhotoIds, session: DbSession, user: CurrentUser) -> AlbumOut:
    """Add photos the caller may see to an album (theirs, or one their household shares); others are skipped."""
    scope = Scope.of(user)
    return _album(session, scope, service.add_to_album(session, scope, album_id, body.photo_ids))


@router.post("/albums/{album_id}/photos/remove")
def remove_album_photos(album_id: str, body: PhotoIds, session: DbSession, user: CurrentUser) -> AlbumOut:
    """Take photos out of an album (they stay in the library)."""
    scope = Scope.of(user)
    return _album(session, scope, service.remove_from_album(session, scope, album_id, body.photo_ids))


# --- people ------------------------------------------------------------------

def person_out(found: people.PersonSummary) -> PersonOut:
    person = found.person
    cover = f"/api/v1/album/faces/{person.cover_face_id}/crop" if person.cover_face_id else None
    return PersonOut(id=person.id, name=person.name, photo_count=found.photo_count, face_count=found.face_count,
                     cover_face_id=person.cover_face_id, cover_url=cover,
                     photos_url=f"/api/v1/album/people/{person.id}/photos", created_at=person.created_at)


def face_out(face: Face) -> PersonFaceOut:
    return PersonFaceOut(id=face.id, photo_id=face.photo_id, person_id=face.person_id,
                         box=(face.x, face.y, face.w, face.h), score=round(face.score, 4),
                         crop_url=f"/api/v1/album/faces/{face.id}/crop")


@router.get("/people")
def list_people(session: DbSession, user: CurrentUser, named: bool | None = None) -> list[PersonOut]:
    """The caller's people (faces grouped at indexing), named first; `named` keeps only named or unnamed."""
    return [person_out(p) for p in people.list_people(session, Scope.of(user), named=named)]


@router.get("/people/{person_id}", responses=errors(404))
def get_person(person_id: str, session: DbSession, user: CurrentUser) -> PersonOut:
    """One of the caller's people (anyone else's: 404)."""
    return person_out(people.summary(session, people.get_person(session, Scope.of(user), person_id)))


@router.patch("/people/{person_id}", responses=errors(404))
def rename_person(person_id: str, body: PersonPatch, session: DbSession, user: CurrentUser) -> PersonOut:
    """Name one of the caller's people; search finds their photos by this name at once."""
    person = people.rename(session, Scope.of(user), person_id, body.name)
    return person_out(people.summary(session, person))


@router.post("/people/{person_id}/merge", responses=errors(404, 409))
def merge_person(person_id: str, body: MergeIn, session: DbSession, user: CurrentUser) -> PersonOut:
    """Move every face of this person to `into` and delete this one (409 when both are the same)."""
    person = people.merge(session, Scope.of(user), person_id, body.into)
    return person_out(people.summary(session, person))


@router.get("/people/{person_id}/photos", responses=errors(404))
def person_photos(person_id: str, session: DbSession, user: CurrentUser,
                  page: Annotated[PageParams, Depends()]) -> Page[PhotoOut]:
    """The caller's photos that show this person, newest taken first."""
    scope = Scope.of(user)
    person = people.get_person(session, scope, person_id)
    listed = service.list_photos(session, scope, PhotoFilters(person_id=person.id), limit=page.limit,
                                 offset=page.offset)
    return Page(items=photos_out(session, scope, listed.items), total=listed.total, limit=page.limit,
                offset=page.offset)


@router.get("/people/{person_id}/faces", responses=errors(404))
def person_faces(person_id: str, session: DbSession, user: CurrentUser) -> list[PersonFaceOut]:
    """Every face grouped into this person (detach a wrong one with POST /faces/{id}/detach)."""
    person = people.get_person(session, Scope.of(user), person_id)
    return [face_out(f) for f in people.faces_of_person(session, person)]


@router.get("/photos/{photo_id}/faces", responses=errors(404))
def photo_faces(photo_id: str, session: DbSession, user: CurrentUser) -> list[PersonFaceOut]:
    """The faces found in one of the caller's own photos, with the person each was grouped into."""
    return [face_out(f) for f in people.faces_of(session, Scope.of(user), photo_id)]


@router.post("/faces/{face_id}/detach", responses=errors(404, 409))
def detach_face(face_id: str, session: DbSession, user: CurrentUser) -> PersonOut:
    """Split a wrongly grouped face off into a new unnamed person (409 when it is its person's only face)."""
    person = people.detach(session, Scope.of(user), face_id)
    return person_out(people.summary(session, person))


@router.get("/faces/{face_id}/crop", response_class=Response, responses={200: IMAGE, **errors(404)})
def face_crop(face_id: str, session: DbSession, user: CurrentUser, runtime: RuntimeDep) -> Response:
    """A WebP crop of one of the caller's faces, for the People page."""
    data = people.face_crop(session, runtime, Scope.of(user), face_id)
    return Response(data, media_type="image/webp", headers={"cache-control": "private, max-age=3600",
                                                            "x-content-type-options": "nosniff"})


# --- search ------------------------------------------------------------------

def _search_out(session: Session, scope: Scope, found: search.SearchResult, page: PageParams) -> SearchOut:
    outs = photos_out(session, scope, [hit.photo for hit in found.hits])
    return SearchOut(items=[SearchHitOut(photo=out, score=round(hit.score, 4), matched=hit.matched)
                            for out, hit in zip(outs, found.hits, strict=True)],
                     total=found.total, limit=page.limit, offset=page.offset, backend=found.backend,
                     pending=found.pending)


@router.get("/search", responses=errors(404, 503))
def search_photos(q: Annotated[str, Query(min_length=1, max_length=search.MAX_QUERY)], session: DbSession,
                  user: CurrentUser, runtime: RuntimeDep, page: Annotated[PageParams, Depends()],
                  filters: Annotated[PhotoFilters, Query()], sort: SortParam = "relevance") -> SearchOut:
    """Photos that show what `q` says, in Korean or English, best first (or newest first), within the filters."""
    scope = Scope.of(user)
    found = search.by_text(session, runtime, scope, q, filters, limit=page.limit, offset=page.offset,
                           sort=sort)
    return _search_out(session, scope, found, page)


@router.get("/photos/{photo_id}/similar", responses=errors(404, 409, 503))
def similar_photos(photo_id: str, session: DbSession, user: CurrentUser, runtime: RuntimeDep,
                   page: Annotated[PageParams, Depends()], filters: Annotated[PhotoFilters, Query()],
                   sort: SortParam = "relevance") -> SearchOut:
    """Photos that look like this one (409 while it is not indexed yet)."""
    scope = Scope.of(user)
    found = search.similar(session, runtime, scope, photo_id, filters, limit=page.limit,
                           offset=page.offset, sort=sort)
    return _search_out(session, scope, found, page)


@router.post("/search/by-photo", responses=errors(404, 503), openapi_extra=image_upload("file"))
def search_by_photo(file: Annotated[UploadFile, File()], session: DbSession, user: CurrentUser,
                    runtime: RuntimeDep, page: Annotated[PageParams, Depends()],
                    filters: Annotated[PhotoFilters, Query()], sort: SortParam = "relevance") -> SearchOut:
    """Photos that look like a query photo (which is not stored)."""
    settings = runtime.settings
    with runtime.image_work:
        image = uploads.read_image_upload(file.file, max_bytes=settings.max_upload_bytes,
                                          max_pixels=settings.max_image_pixels)
    scope = Scope.of(user)
    found = search.by_image(session, runtime, scope, image, filters, limit=page.limit,
                            offset=page.offset, sort=sort)
    return _search_out(session, scope, found, page)


# --- classifiers ---------------------------------------------------------------

CLASSIFIERS = "/classifiers"
SVG = {"content": {"image/svg+xml": {}}, "description": "The confusion matrix as an SVG picture."}


def version_out(runtime: Runtime, classifier: Classifier, version: ClassifierVersion) -> VersionOut:
    return VersionOut(number=version.number, active=classifier.active_version_id == version.id,
                      accuracy=version.accuracy, folds=version.folds, classes=list(version.head["classes"]),
                      confusion=version.confusion, counts=version.counts, embedder_key=version.embedder_key,
                      stale=classifying.is_stale(runtime, version), created_at=version.created_at,
                      confusion_url=f"{API_PREFIX}/classifiers/{classifier.id}/versions/{version.number}/confusion.svg")


def classifier_out(session: Session, runtime: Runtime, classifier: Classifier) -> ClassifierOut:
    active = session.get(ClassifierVersion, classifier.active_version_id) if classifier.active_version_id else None
    counts = classifying.example_counts(session, classifier.id)
    return ClassifierOut(id=classifier.id, name=classifier.name, classes=classifier.classes,
                         examples={c: counts.get(c, 0) for c in classifier.classes},
                         active_version=active.number if active else None,
                         accuracy=active.accuracy if active else None,
                         stale=bool(active and classifying.is_stale(runtime, active)),
                         created_at=classifier.created_at)


def classifier_detail(session: Session, runtime: Runtime, classifier: Classifier) -> ClassifierDetailOut:
    base = classifier_out(session, runtime, classifier)
    return ClassifierDetailOut(
        **base.model_dump(),
        versions=[version_out(runtime, classifier, v) for v in classifying.versions(session, classifier.id)],
        labelled=[ExampleOut(photo_id=e.photo_id, label=e.label,
                             thumbnail_url=f"{API_PREFIX}/photos/{e.photo_id}/thumbnail")
                  for e in classifying.examples(session, classifier.id)])


@router.post(CLASSIFIERS, status_code=201, responses=errors(409))
def create_classifier(body: ClassifierIn, session: DbSession, user: CurrentUser,
                      runtime: RuntimeDep) -> ClassifierDetailOut:
    """Create a classifier with at least two different classes (each becomes a tag; 409 when two are one tag)."""
    row = classifying.create(session, owner_id=user.id, name=body.name, classes=body.classes)
    return classifier_detail(session, runtime, row)


@router.get(CLASSIFIERS)
def list_classifiers(session: DbSession, user: CurrentUser, runtime: RuntimeDep) -> list[ClassifierOut]:
    """The caller's classifiers, newest first."""
    return [classifier_out(session, runtime, c) for c in classifying.list_for(session, owner_id=user.id)]


@router.get(CLASSIFIERS + "/{classifier_id}", responses=errors(404))
def get_classifier(classifier_id: str, session: DbSession, user: CurrentUser,
                   runtime: RuntimeDep) -> ClassifierDetailOut:
    """One of the caller's classifiers with its labelled photos and versions (newest first)."""
    row = classifying.get(session, owner_id=user.id, classifier_id=classifier_id)
    return classifier_detail(session, runtime, row)


@router.delete(CLASSIFIERS + "/{classifier_id}", status_code=204, responses=errors(404))
def delete_classifier(classifier_id: str, session: DbSession, user: CurrentUser) -> None:
    """Delete a classifier, its versions and the tags it applied (the photos and your own tags stay)."""
    classifying.remove(session, owner_id=user.id, classifier_id=classifier_id)


@router.post(CLASSIFIERS + "/{classifier_id}/examples", responses=errors(404, 409))
def label_photos(classifier_id: str, body: ExamplesIn, session: DbSession, user: CurrentUser,
                 runtime: RuntimeDep) -> ClassifierDetailOut:
    """Label photos as one class (409 for a label not among the classes).

    Only the caller's own indexed photos are labelled; other ids are skipped (see `examples`).
    """
    row = classifying.add_examples(session, owner_id=user.id, classifier_id=classifier_id,
                                   photo_ids=body.photo_ids, label=body.label)
    return classifier_detail(session, runtime, row)


@router.post(CLASSIFIERS + "/{classifier_id}/examples/remove", responses=errors(404))
def unlabel_photos(classifier_id: str, body: PhotoIds, session: DbSession, user: CurrentUser,
                   runtime: RuntimeDep) -> ClassifierDetailOut:
    """Take photos out of the classifier's labelled set."""
    row = classifying.remove_examples(session, owner_id=user.id, classifier_id=classifier_id,
                                      photo_ids=body.photo_ids)
    return classifier_detail(session, runtime, row)


@router.post(CLASSIFIERS + "/{classifier_id}/train", status_code=202, responses=errors(404, 409, 503))
def train_classifier(classifier_id: str, request: Request, session: DbSession, user: CurrentUser,
                     runtime: RuntimeDep) -> JobOut:
    """Queue a training (409 with the reason when too few photos are labelled); follow the job's events.

    The job keeps a new version with its cross-validated accuracy, makes it active and tags the
    caller's photos whose most likely class is at least `album.classifier_threshold` sure.
    """
    job = classifying.start_training(session, runtime, owner_id=user.id, classifier_id=classifier_id)
    return JobOut.of(job, job_text(request, user.locale))


@router.post(CLASSIFIERS + "/{classifier_id}/versions/{number}/activate", responses=errors(404, 409))
def activate_version(classifier_id: str, number: Annotated[int, Path(ge=1, le=1_000_000)], session: DbSession,
                     user: CurrentUser, runtime: RuntimeDep) -> ClassifierDetailOut:
    """Roll back (or forward) to a version: it becomes active and its tags replace the current ones.

    409 for a stale version (trained on another search backend).
    """
    row = classifying.get(session, owner_id=user.id, classifier_id=classifier_id)
    classifying.activate(session, runtime, row, classifying.get_version(session, row, number))
    return classifier_detail(session, runtime, row)


@router.get(CLASSIFIERS + "/{classifier_id}/versions/{number}/confusion.svg", response_class=Response,
            responses={200: SVG, **errors(404)})
def confusion_picture(classifier_id: str, number: Annotated[int, Path(ge=1, le=1_000_000)], session: DbSession,
                      user: CurrentUser) -> Response:
    """The version's cross-validated confusion matrix as an SVG picture."""
    row = classifying.get(session, owner_id=user.id, classifier_id=classifier_id)
    version = classifying.get_version(session, row, number)
    svg = confusion_svg(version.head["classes"], version.confusion, title=f"{row.name} v{version.number}")
    return Response(svg, media_type="image/svg+xml", headers={"X-Content-Type-Options": "nosniff"})
