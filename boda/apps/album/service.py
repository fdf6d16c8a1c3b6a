"""Album's logic, shared by the API, the pages, the jobs and the CLI."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any, BinaryIO

import imagehash
from PIL import Image, ImageOps
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, and_, delete, false, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from boda.apps.album.models import Album, AlbumPhoto, Face, Person, Photo, PhotoTag, Tag
from boda.apps.album.schemas import DateTime
from boda.apps.album.settings import album_settings
from boda.core import uploads
from boda.core.auth import Scope, get_visible, set_visibility
from boda.core.db import utcnow
from boda.core.errors import BodaError, Conflict, InvalidInput, NotFound
from boda.core.listing import Listed, paginate
from boda.core.models import HouseholdMember, StoredFile, Visibility
from boda.core.runtime import Runtime

APP = "album"
MAX_FILES = 100  # per upload request (also the API schema's bound)

# EXIF tags (Pillow numbers them as the standard does).
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
MAKE, MODEL = 0x010F, 0x0110
DATETIME_ORIGINAL, OFFSET_TIME_ORIGINAL = 0x9003, 0x9011


# --- facts from the bytes ----------------------------------------------------

def _exif_text(value: object) -> str | None:
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value) if value is not None else ""
    text = "".join(c for c in text if c.isprintable()).strip()
    return text[:128] or None


def _taken_at(exif_ifd: dict[int, Any]) -> datetime | None:
    """DateTimeOriginal in UTC: with OffsetTimeOriginal when the camera wrote one, else read as UTC."""
    raw = _exif_text(exif_ifd.get(DATETIME_ORIGINAL))
    if raw is None:
        return None
    try:
        moment = datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None
    zone: timezone = UTC
    offset = _exif_text(exif_ifd.get(OFFSET_TIME_ORIGINAL))
    if offset and len(offset) == 6 and offset[0] in "+-" and offset[3] == ":":
        try:
            sign = 1 if offset[0] == "+" else -1
            zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
        except ValueError:
            zone = UTC
    return moment.replace(tzinfo=zone).astimezone(UTC)


def _degrees(value: object, ref: object, limit: float) -> float | None:
    try:
        d, m, s = (float(part) for part in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    degrees = d + m / 60 + s / 3600
    if _exif_text(ref) in ("S", "W"):
        degrees = -degrees
    return round(degrees, 7) if -limit <= degrees <= limit else None


def exif_facts(image: Image.Image) -> dict[str, Any]:
    """When, with what and where a photo was taken, as far as its EXIF says (missing facts are None)."""
    exif = image.getexif()
    exif_ifd = exif.get_ifd(EXIF_IFD)
    gps = exif.get_ifd(GPS_IFD)
    lat, lon = _degrees(gps.get(2), gps.get(1), 90), _degrees(gps.get(4), gps.get(3), 180)
    if lat is None or lon is None:
        lat = lon = None
    return {"taken_at": _taken_at(exif_ifd), "camera_make": _exif_text(exif.get(MAKE)),
            "camera_model": _exif_text(exif.get(MODEL)), "gps_lat": lat, "gps_lon": lon}


def decode_upright(data: bytes, *, max_side: int | None = None) -> tuple[Image.Image, dict[str, Any]]:
    """The first frame, turned as its EXIF orientation says, as RGB; and its EXIF facts.

    With `max_side` a JPEG is decoded at the smallest DCT scale still at least that large
    (a 12-megapixel photo at half size): thumbnails and the pHash need no more, at a fraction of the time.
    """
    with Image.open(io.BytesIO(data)) as image:
        facts = exif_facts(image)
        if max_side and image.format == "JPEG":
            image.draft("RGB", (max_side, max_side))
        image.seek(0)  # a GIF's (or multi-image HEIF's) first frame
        upright = uploads.to_rgb(ImageOps.exif_transpose(image))
    return upright, facts


def phash_hex(image: Image.Image) -> str:
    return str(imagehash.phash(image))


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def thumbnail_images(image: Image.Image, sizes: Iterable[int]) -> dict[int, Image.Image]:
    """One copy per long side; a photo smaller than a size is not enlarged."""
    made = {}
    for size in sorted(set(sizes)):
        copy = image.copy()
        copy.thumbnail((size, size), Image.Resampling.LANCZOS)
        made[size] = copy
    return made


# --- upload ------------------------------------------------------------------

@dataclass
class PreparedPhoto:
    """A validated photo whose original and thumbnails are in the blob store, not yet in the database."""

    original: uploads.PreparedFile
    sha256: str
    phash: str
    facts: dict[str, Any]
    thumbnails: dict[int, uploads.PreparedFile] = field(default_factory=dict)

    @property
    def files(self) -> list[uploads.PreparedFile]:
        return [self.original, *self.thumbnails.values()]


def prepare_photo(runtime: Runtime, source: BinaryIO, filename: str | None, *, thumbnails: bool = True
                  ) -> PreparedPhoto:
    """The slow part, before any row is written: validate, store, decode, hash, make thumbnails."""
    settings = runtime.settings
    original = uploads.prepare_image_upload(runtime.store, source=source, filename=filename,
                                            max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels)
    prepared = PreparedPhoto(original=original, sha256=original.blob_key, phash="", facts={})
    try:
        with runtime.image_work:
            largest = max(album_settings(settings).thumbnail_sizes)
            upright, prepared.facts = decode_upright(runtime.store.read(original.blob_key), max_side=largest)
            prepared.phash = phash_hex(upright)
            if thumbnails:
                prepared.thumbnails = _prepare_thumbnails(runtime, upright, original.filename)
    except Exception:
        uploads.discard_prepared(runtime.db, prepared.files)
        raise
    return prepared


def _prepare_thumbnails(runtime: Runtime, upright: Image.Image, filename: str) -> dict[int, uploads.PreparedFile]:
    stem = filename.rsplit(".", 1)[0] or "photo"
    sizes = album_settings(runtime.settings).thumbnail_sizes
    return {size: uploads.prepare_derived_image(runtime.store, image=image, filename=f"{stem}_{size}.webp",
                                                format="WEBP")
            for size, image in thumbnail_images(upright, sizes).items()}


def record_photo(session: Session, prepared: PreparedPhoto, *, owner_id: str) -> Photo:
    """Write the rows of a prepared photo (its original and thumbnails as private core files)."""
    original = prepared.original.row(owner_id=owner_id, app=APP)
    session.add(original)
    session.flush()
    thumbs = {size: item.row(owner_id=owner_id, app=APP, derived_from_id=original.id)
              for size, item in prepared.thumbnails.items()}
    session.add_all(thumbs.values())
    session.flush()
    facts = prepared.facts
    photo = Photo(owner_id=owner_id, file_id=original.id, blob_key=original.blob_key, sha256=prepared.sha256,
                  phash=prepared.phash, width=original.width or 0, height=original.height or 0,
                  mime=original.content_type, filename=original.filename,
                  taken_at=facts.get("taken_at") or utcnow(), camera_make=facts.get("camera_make"),
                  camera_model=facts.get("camera_model"), gps_lat=facts.get("gps_lat"),
                  gps_lon=facts.get("gps_lon"), thumbnails={str(s): row.id for s, row in thumbs.items()})
    session.add(photo)
    session.flush()
    return photo


def owned_by_hash(session: Session, owner_id: str, hashes: Iterable[str]) -> dict[str, Photo]:
    """The owner's photos (trashed ones too) with these content hashes."""
    wanted = list(set(hashes))
    if not wanted:
        return {}
    rows = session.scalars(select(Photo).where(Photo.owner_id == owner_id, Photo.sha256.in_(wanted)))
    return {row.sha256: row for row in rows}


@dataclass(frozen=True)
class Stored:
    photo: Photo
    duplicate_of: str | None = None
    job_id: str | None = None  # the album.index job that indexes a newly stored photo


def upload_photos(session: Session, runtime: Runtime, *, owner_id: str,
                  files: Sequence[tuple[BinaryIO, str | None]], enqueue: bool = True) -> list[Stored]:
    """Validate and store every file, then record them and queue their indexing (one job).

    One bad file refuses the whole request with its name, and nothing of it stays stored.
    Bytes the owner already has (same SHA-256) are not stored twice: the answer is the
    existing photo, marked `duplicate_of`.
    """
    if not files:
        raise InvalidInput("Send at least one file", key="no_files")
    if len(files) > MAX_FILES:
        raise InvalidInput(f"At most {MAX_FILES} files per upload", key="too_many_files", details={"max": MAX_FILES})
    prepared: list[PreparedPhoto] = []
    try:
        for source, name in files:
            try:
                prepared.append(prepare_photo(runtime, source, name))
            except BodaError as exc:  # say which file, keep the status
                safe = uploads.safe_filename(name)
                exc.message = f"{safe}: {exc.message}"
                exc.details = {**exc.details, "filename": safe}
                exc.key = f"{exc.key}_in_batch" if exc.key else None
                raise
        if enqueue:
            runtime.queue.check_available()  # refuse before anything is recorded
    except Exception:
        uploads.discard_prepared(runtime.db, [f for p in prepared for f in p.files])
        raise
    existing = owned_by_hash(session, owner_id, (p.sha256 for p in prepared))
    stored: list[Stored] = []
    unused: list[uploads.PreparedFile] = []
    for item in prepared:
        if (known := existing.get(item.sha256)) is not None:
            stored.append(Stored(known, duplicate_of=known.id))
            unused += item.thumbnails.values()
            continue
        photo = record_photo(session, item, owner_id=owner_id)
        existing[item.sha256] = photo
        stored.append(Stored(photo))
    if unused:
        uploads.mark_orphans(session, {f.blob_key for f in unused if f.created})
    new_ids = [s.photo.id for s in stored if s.duplicate_of is None]
    if enqueue and new_ids:
        job_id = queue_index(session, runtime, owner_id=owner_id, photo_ids=new_ids)
        stored = [s if s.duplicate_of else replace(s, job_id=job_id) for s in stored]
    return stored


def queue_index(session: Session, runtime: Runtime, *, owner_id: str, photo_ids: list[str]) -> str:
    """One `album.index` job for photos just stored (see indexing.index_photos)."""
    from boda.apps.album.jobs import index_job
    from boda.apps.album.schemas import IndexPayload

    count = len(photo_ids)
    row = runtime.queue.enqueue(session, index_job, owner_id=owner_id, payload=IndexPayload(photo_ids=photo_ids),
                                title=f"Index {count} photo{'s' if count != 1 else ''}",
                                title_key="album.job.index", title_args={"count": count})
    return row.id


# --- who sees which photo ----------------------------------------------------

@cache
def _shared_by_owners() -> Select[tuple[str]]:
    """The album entries that share a photo: the photo's own owner put it in their own album, or in an
    album shared with a household they belong to now. Built once: an alias costs a millisecond to make,
    and every visibility check of every search goes through here."""
    photo = aliased(Photo, name="shared_photo")
    owners_households = select(HouseholdMember.household_id).where(HouseholdMember.user_id == photo.owner_id)
    return (select(AlbumPhoto.photo_id).join(Album, Album.id == AlbumPhoto.album_id)
            .join(photo, photo.id == AlbumPhoto.photo_id)
            .where(AlbumPhoto.added_by == photo.owner_id,
                   or_(Album.owner_id == photo.owner_id,
                       and_(Album.visibility == Visibility.household, Album.household_id.in_(owners_households)))))


def _in_albums(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """Photos that albums matching `condition` share: only what a photo's own owner put there.

    Someone who may only see a photo cannot re-share it through an album of theirs, and a member
    who leaves takes their photos out of the household's albums with them.
    """
    return Photo.id.in_(_shared_by_owners().where(condition))


def photo_readable(scope: Scope) -> ColumnElement[bool]:
    """A photo the scope may open: its own, shared with it (directly or by an album its owner filled), or public.

    A trashed photo is its owner's alone until it is restored.
    """
    seen = or_(scope.readable(Photo), _in_albums(scope.readable(Album)))
    return and_(seen, or_(Photo.trashed_at.is_(None), Photo.owner_id == scope.user_id))


def in_library(scope: Scope) -> ColumnElement[bool]:
    """What a library lists: the caller's photos and those their households share, not strangers' public ones."""
    user_id = scope.require_user()
    mine_or_household = or_(Album.owner_id == user_id, scope.shared_with_me(Album))
    return or_(Photo.owner_id == user_id, scope.shared_with_me(Photo),
               and_(_in_albums(mine_or_household), Photo.trashed_at.is_(None)))


class PhotoFilters(BaseModel):
    """What the library (and search) narrows photos to; every field is optional."""

    date_from: DateTime | None = Field(default=None, description="Taken at or after (RFC 3339, with a zone).")
    date_to: DateTime | None = Field(default=None, description="Taken before (RFC 3339, with a zone).")
    album_id: str | None = Field(default=None, max_length=36)
    tag: str | None = Field(default=None, max_length=64)
    camera: str | None = Field(default=None, max_length=128, description="Make or model contains this text.")
    min_lat: float | None = Field(default=None, ge=-90, le=90)
    max_lat: float | None = Field(default=None, ge=-90, le=90)
    min_lon: float | None = Field(default=None, ge=-180, le=180)
    max_lon: float | None = Field(default=None, ge=-180, le=180)
    favorite: bool | None = None
    has_text: bool | None = Field(default=None, description="Text was read in the photo (OCR).")
    person_id: str | None = Field(default=None, max_length=36, description="Photos of one of the caller's people.")
    trashed: bool = Field(default=False, description="The caller's trash instead of the library.")
    oldest_first: bool = False


def _aware(moment: datetime) -> datetime:
    """In UTC; a time without a zone is read as UTC. Year 1 at +01:00 has no UTC datetime: the nearest one."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


def normalize_tag(name: str) -> str:
    return " ".join(name.split()).casefold()[:64]


def photo_filter_query(scope: Scope, filters: PhotoFilters) -> Select[tuple[Photo]]:
    """Photos the scope may see that match the filters, by date (newest first unless asked).

    Pure: builds a statement and runs nothing, so search can add its own ranking to it.
    """
    if filters.trashed:
        where = [Photo.owner_id == scope.require_user(), Photo.trashed_at.is_not(None)]
    elif filters.album_id is not None:  # an album shows what its viewers may see, a stranger's public one too
        where = [photo_readable(scope), Photo.trashed_at.is_(None),
                 Photo.id.in_(select(AlbumPhoto.photo_id).where(AlbumPhoto.album_id == filters.album_id))]
    else:
        where = [in_library(scope), Photo.trashed_at.is_(None)]
    if filters.date_from is not None:
        where.append(Photo.taken_at >= _aware(filters.date_from))
    if filters.date_to is not None:
        where.append(Photo.taken_at < _aware(filters.date_to))
    if filters.tag:
        where.append(Photo.id.in_(select(PhotoTag.photo_id).join(Tag, Tag.id == PhotoTag.tag_id)
                                  .where(Tag.name == normalize_tag(filters.tag))))
    if filters.camera:
        pattern = f"%{filters.camera.lower()}%"
        where.append(or_(func.lower(Photo.camera_make).like(pattern), func.lower(Photo.camera_model).like(pattern)))
    place = ((Photo.gps_lat, filters.min_lat, filters.max_lat), (Photo.gps_lon, filters.min_lon, filters.max_lon))
    for column, low, high in place:
        if low is not None:
            where.append(column >= low)
        if high is not None:
            where.append(column <= high)
    if any(bound is not None for _, low, high in place for bound in (low, high)):
        where.append(scope.knows_places_of(Photo))  # a place box must not tell where a stranger's photo was taken
    if filters.favorite is not None:
        where.append(Photo.favorite.is_(filters.favorite))
    if filters.person_id is not None:  # people are their owner's alone: another's person matches nothing
        where.append(Photo.id.in_(select(Face.photo_id).join(Person, Person.id == Face.person_id).where(
            Person.id == filters.person_id, Person.owner_id == scope.user_id)))
    if filters.has_text is not None:
        has = and_(Photo.ocr_text.is_not(None), func.length(func.trim(Photo.ocr_text)) > 0)
        where.append(has if filters.has_text else ~has)
    order = (Photo.taken_at.asc(), Photo.id.asc()) if filters.oldest_first else (Photo.taken_at.desc(),
                                                                                 Photo.id.desc())
    return select(Photo).where(*where).order_by(*order)


def check_filters(session: Session, scope: Scope, filters: PhotoFilters) -> None:
    """A filter by an album the caller may not see is a 404, not an empty page (nor a hint of what is in it)."""
    if filters.album_id is not None:
        get_visible(session, Album, filters.album_id, scope)


def list_photos(session: Session, scope: Scope, filters: PhotoFilters, *, limit: int, offset: int
                ) -> Listed[Photo]:
    check_filters(session, scope, filters)
    return paginate(session, photo_filter_query(scope, filters), limit=limit, offset=offset)


def get_photo(session: Session, scope: Scope, photo_id: str, *, write: bool = False, trashed: bool = False
              ) -> Photo:
    """One photo the caller may see, or (write) one of the caller's own; 404 for anything else.

    A trashed photo is gone from its address (as a deleted one would be) except where `trashed`
    is asked for: its owner's trash shows its thumbnail and restores it.
    """
    condition = Photo.owner_id == scope.require_user() if write else photo_readable(scope)
    in_trash = Photo.owner_id == scope.user_id if trashed else false()
    row = session.scalar(select(Photo).where(Photo.id == photo_id, condition,
                                             or_(Photo.trashed_at.is_(None), in_trash)))
    if row is None:
        raise NotFound(f"No photo with id {photo_id}", key="photo_not_found")
    return row


def shared_photo(session: Session, share_token: str) -> Photo:
    row = session.scalar(select(Photo).where(Photo.share_token == share_token, Photo.trashed_at.is_(None),
                                             Photo.visibility.in_([Visibility.unlisted, Visibility.public])))
    if row is None:
        raise NotFound("This link does not exist or is no longer shared", key="link_not_found")
    return row


def near_duplicates(session: Session, scope: Scope, photo: Photo, *, distance: int) -> list[str]:
    """Visible photos within `distance` bits of this one's perceptual hash, closest first.

    Compared in Python over the visible photos' hashes (16 hex characters each): SQL has no
    portable popcount, and a library's hashes fit in memory.
    """
    rows = session.execute(select(Photo.id, Photo.phash).where(photo_readable(scope), Photo.id != photo.id,
                                                               Photo.trashed_at.is_(None)))
    near = sorted((hamming(photo.phash, phash), photo_id) for photo_id, phash in rows
                  if phash and hamming(photo.phash, phash) <= distance)
    return [photo_id for _, photo_id in near]


def albums_of(session: Session, scope: Scope, photo_id: str) -> list[str]:
    return list(session.scalars(select(AlbumPhoto.album_id).join(Album, Album.id == AlbumPhoto.album_id)
                                .where(AlbumPhoto.photo_id == photo_id, scope.readable(Album))
                                .order_by(AlbumPhoto.album_id)))


def tags_of(session: Session, photo_ids: Sequence[str]) -> dict[str, list[PhotoTag]]:
    found: dict[str, list[PhotoTag]] = {pid: [] for pid in photo_ids}
    if photo_ids:
        for row in session.scalars(select(PhotoTag).where(PhotoTag.photo_id.in_(list(photo_ids)))):
            found[row.photo_id].append(row)
    return found


def thumbnail_file(session: Session, photo: Photo, size: int) -> StoredFile:
    """The smallest thumbnail at least `size` on its long side, else the largest there is."""
    sizes = sorted(int(s) for s in photo.thumbnails)
    if not sizes:
        raise NotFound("This photo has no thumbnail yet", key="thumbnail_missing")
    chosen = next((s for s in sizes if s >= size), sizes[-1])
    row = session.get(StoredFile, photo.thumbnails[str(chosen)])
    if row is None:
        raise NotFound("This photo has no thumbnail yet", key="thumbnail_missing")
    return row


def original_file(session: Session, photo: Photo) -> StoredFile:
    row = session.get(StoredFile, photo.file_id)
    if row is None:
        raise NotFound(f"No photo with id {photo.id}", key="photo_not_found")
    return row


# --- change, trash, purge ----------------------------------------------------

def share(session: Session, obj: Photo | Album, visibility: Visibility, *, scope: Scope,
          household_id: str | None) -> None:
    """The core's visibility change; a household the caller is not in is a 409 on the photo or album.

    The photo or album exists and is the caller's: only the household named in the body is
    wrong, and a 404 would say the photo itself is gone (API clients and schemathesis read it so).
    """
    try:
        set_visibility(session, obj, visibility, scope=scope, household_id=household_id)
    except NotFound as exc:
        raise Conflict(exc.message, key="household_not_found", details=exc.details) from exc


def update_photo(session: Session, scope: Scope, photo_id: str, *, favorite: bool | None = None,
                 taken_at: datetime | None = None, visibility: Visibility | None = None,
                 household_id: str | None = None, hide_faces: bool | None = None) -> Photo:
    photo = get_photo(session, scope, photo_id, write=True)
    if hide_faces is not None:
        photo.hide_faces = hide_faces
    if favorite is not None:
        photo.favorite = favorite
    if taken_at is not None:
        photo.taken_at = _aware(taken_at)
    if visibility is not None:
        share(session, photo, visibility, scope=scope, household_id=household_id)
    elif household_id is not None:
        raise InvalidInput("A household is given only with household visibility", key="household_unexpected")
    session.flush()
    return photo


def trash_photo(session: Session, scope: Scope, photo_id: str) -> Photo:
    photo = get_photo(session, scope, photo_id, write=True)
    photo.trashed_at = photo.trashed_at or utcnow()
    session.flush()
    return photo


def restore_photo(session: Session, scope: Scope, photo_id: str) -> Photo:
    photo = get_photo(session, scope, photo_id, write=True, trashed=True)
    photo.trashed_at = None
    session.flush()
    return photo


def vector_keys(session: Session, runtime: Runtime, photos: Sequence[Photo]) -> set[str]:
    """Every embedder whose vector space may hold these photos: the one that indexed each, the current one
    (a job may be indexing them now), and those the owners' classifier versions were trained on."""
    from boda.apps.album.models import ClassifierVersion

    keys = {p.index_key for p in photos if p.index_key}
    keys.add(str(runtime.ai.get("image_text_embedder").key))
    keys.update(session.scalars(select(ClassifierVersion.embedder_key).distinct()))
    return keys


def purge_photos(session: Session, runtime: Runtime, photos: Sequence[Photo]) -> int:
    """Delete photos for good: rows, memberships, tags, files, vectors; blobs go when the sweep finds them unused.

    The vectors go too, from every space that may hold them: a purged photo must not linger
    in the store (its id would still rank, and its embedding describes what it showed).
    """
    if not photos:
        return 0
    ids = [p.id for p in photos]
    keys = vector_keys(session, runtime, photos)
    files = list(session.scalars(select(StoredFile).where(StoredFile.id.in_([p.file_id for p in photos]))))
    session.execute(update(Album).where(Album.cover_photo_id.in_(ids)).values(cover_photo_id=None))
    session.execute(delete(AlbumPhoto).where(AlbumPhoto.photo_id.in_(ids)))
    session.execute(delete(PhotoTag).where(PhotoTag.photo_id.in_(ids)))
    from boda.apps.album import people  # people builds on this module

    for photo in photos:
        people.remove_faces(session, photo)  # their people's centroids follow; empty unnamed people go
        session.delete(photo)
    session.flush()
    for file in files:
        uploads.delete_file(session, file)
    from boda.apps.album.indexing import space_for

    for key in sorted(keys):  # last: a failure above leaves the photos whole, vectors included
        runtime.vectors.delete(space_for(key), ids)
    return len(ids)


def empty_trash(session: Session, runtime: Runtime, scope: Scope) -> int:
    rows = session.scalars(select(Photo).where(Photo.owner_id == scope.require_user(),
                                               Photo.trashed_at.is_not(None))).all()
    return purge_photos(session, runtime, rows)


def purge_expired(session: Session, runtime: Runtime, *, days: int, now: datetime | None = None) -> int:
    """Everyone's photos trashed more than `days` ago (the periodic purge)."""
    limit = (now or utcnow()) - timedelta(days=days)
    rows = session.scalars(select(Photo).where(Photo.trashed_at.is_not(None), Photo.trashed_at <= limit)
                           .limit(500)).all()
    return purge_photos(session, runtime, rows)


# --- tags --------------------------------------------------------------------

def add_tag(session: Session, scope: Scope, photo_id: str, name: str, *, source: str = "user",
            score: float | None = None) -> Photo:
    photo = get_photo(session, scope, photo_id, write=True)
    clean = normalize_tag(name)
    if not clean:
        raise InvalidInput("A tag needs a name", key="tag_empty")
    tag = session.scalar(select(Tag).where(Tag.name == clean))
    if tag is None:
        tag = Tag(name=clean)
        session.add(tag)
        session.flush()
    link = session.get(PhotoTag, (photo.id, tag.id))
    if link is None:
        session.add(PhotoTag(photo_id=photo.id, tag_id=tag.id, source=source, score=score))
    else:
        link.source, link.score = source, score
    session.flush()
    return photo


def remove_tag(session: Session, scope: Scope, photo_id: str, name: str) -> None:
    photo = get_photo(session, scope, photo_id, write=True)
    tag_id = session.scalar(select(Tag.id).where(Tag.name == normalize_tag(name)))
    link = session.get(PhotoTag, (photo.id, tag_id)) if tag_id else None
    if link is None:
        raise NotFound(f"The photo has no tag {name!r}", key="tag_not_found")
    session.delete(link)
    session.flush()


# --- albums ------------------------------------------------------------------

def create_album(session: Session, scope: Scope, *, title: str, description: str = "") -> Album:
    album = Album(owner_id=scope.require_user(), title=title.strip() or "Album", description=description)
    session.add(album)
    session.flush()
    return album


def list_albums(session: Session, scope: Scope, *, limit: int, offset: int) -> Listed[Album]:
    """The caller's albums and those their households share."""
    user_id = scope.require_user()
    query = select(Album).where(or_(Album.owner_id == user_id, scope.shared_with_me(Album))).order_by(
        Album.id.desc())
    return paginate(session, query, limit=limit, offset=offset)


def photo_counts(session: Session, scope: Scope, album_ids: Sequence[str]) -> dict[str, int]:
    """How many photos each album shows this scope (one grouped query for a page of albums)."""
    if not album_ids:
        return {}
    rows = session.execute(select(AlbumPhoto.album_id, func.count()).join(Photo, Photo.id == AlbumPhoto.photo_id)
                           .where(AlbumPhoto.album_id.in_(list(album_ids)), Photo.trashed_at.is_(None),
                                  photo_readable(scope))
                           .group_by(AlbumPhoto.album_id))
    counts: dict[str, int] = {aid: 0 for aid in album_ids}
    counts.update({aid: int(n) for aid, n in rows})
    return counts


def visible_covers(session: Session, scope: Scope, albums: Sequence[Album]) -> set[str]:
    """The albums' cover photos this scope may see: a cover someone else filed here may be hidden from it."""
    covers = [a.cover_photo_id for a in albums if a.cover_photo_id]
    if not covers:
        return set()
    return set(session.scalars(select(Photo.id).where(Photo.id.in_(covers), photo_readable(scope))))


def get_album(session: Session, scope: Scope, album_id: str, *, write: bool = False,
              household_write: bool = False) -> Album:
    return get_visible(session, Album, album_id, scope, write=write, household_write=household_write)


def update_album(session: Session, scope: Scope, album_id: str, *, title: str | None = None,
                 description: str | None = None, cover_photo_id: str | None = None,
                 visibility: Visibility | None = None, household_id: str | None = None,
                 hide_faces: bool | None = None) -> Album:
    album = get_album(session, scope, album_id, write=True)
    if hide_faces is not None:
        album.hide_faces = hide_faces
    if title is not None:
        album.title = title.strip() or album.title
    if description is not None:
        album.description = description
    if cover_photo_id is not None:
        member = session.get(AlbumPhoto, (album.id, cover_photo_id))
        if member is None:
            raise NotFound(f"No photo with id {cover_photo_id} in this album", key="photo_not_found")
        album.cover_photo_id = cover_photo_id
    if visibility is not None:
        share(session, album, visibility, scope=scope, household_id=household_id)
    elif household_id is not None:
        raise InvalidInput("A household is given only with household visibility", key="household_unexpected")
    session.flush()
    return album


def delete_album(session: Session, scope: Scope, album_id: str) -> None:
    """The album goes; its photos stay in their owners' libraries."""
    album = get_album(session, scope, album_id, write=True)
    session.execute(delete(AlbumPhoto).where(AlbumPhoto.album_id == album.id))
    session.delete(album)
    session.flush()


def add_to_album(session: Session, scope: Scope, album_id: str, photo_ids: Sequence[str]) -> Album:
    """Add photos the caller may see; members of a household album may add to it too.

    Ids of photos the caller may not see (or that do not exist, or are in the trash) are
    skipped alike, so the answer tells nothing about them; the album's count shows what was added.
    """
    album = get_album(session, scope, album_id, write=True, household_write=True)
    found = set(session.scalars(select(Photo.id).where(Photo.id.in_(list(photo_ids)), photo_readable(scope),
                                                       Photo.trashed_at.is_(None))))
    wanted = [pid for pid in dict.fromkeys(photo_ids) if pid in found]
    present = set(session.scalars(select(AlbumPhoto.photo_id).where(AlbumPhoto.album_id == album.id,
                                                                    AlbumPhoto.photo_id.in_(wanted))))
    # An owner adding their own photo that someone else filed here first makes the entry theirs: it shares now.
    session.execute(update(AlbumPhoto).where(AlbumPhoto.album_id == album.id, AlbumPhoto.photo_id.in_(present),
                                             AlbumPhoto.photo_id.in_(select(Photo.id).where(
                                                 Photo.owner_id == scope.user_id)))
                    .values(added_by=scope.user_id).execution_options(synchronize_session=False))
    session.add_all(AlbumPhoto(album_id=album.id, photo_id=pid, added_by=scope.user_id)
                    for pid in wanted if pid not in present)
    if album.cover_photo_id is None and wanted:
        album.cover_photo_id = wanted[0]
    session.flush()
    return album


def remove_from_album(session: Session, scope: Scope, album_id: str, photo_ids: Sequence[str]) -> Album:
    album = get_album(session, scope, album_id, write=True, household_write=True)
    session.execute(delete(AlbumPhoto).where(AlbumPhoto.album_id == album.id,
                                             AlbumPhoto.photo_id.in_(list(photo_ids))))
    if album.cover_photo_id in photo_ids:
        album.cover_photo_id = session.scalar(select(AlbumPhoto.photo_id).where(AlbumPhoto.album_id == album.id)
                                              .order_by(AlbumPhoto.added_at).limit(1))
    session.flush()
    return album
