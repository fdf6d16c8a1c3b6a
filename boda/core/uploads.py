"""Uploads used by every app: stream, size-limit, sniff, bomb-guard, store.

The client's file name is kept only as metadata; the stored key is the
content hash. Type comes from the bytes, never from the name or header.
"""

from __future__ import annotations

import io
import logging
import mimetypes
import re
import unicodedata
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import pillow_heif
from PIL import Image, ImageOps
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from boda.core.db import Database, utcnow
from boda.core.errors import BodaError, InvalidInput, PayloadTooLarge, UnsupportedMedia
from boda.core.models import BlobOrphan, StoredFile, Visibility
from boda.core.storage import BlobStore, SpooledUpload, spool

# HEIC/HEIF (the iPhone's default) through pillow-heif: registered here, the one module that opens uploads.
pillow_heif.register_heif_opener()

IMAGE_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
    "HEIF": "image/heif",
}
# Every content type an image upload may have, and the Pillow format that writes it (HEVC-coded HEIF is HEIC).
ACCEPTED_TYPES = {**{ctype: fmt for fmt, ctype in IMAGE_TYPES.items()}, "image/heic": "HEIF"}
# ISO base media "ftyp" brands of HEIF still images; the HEVC-coded ones are what iPhones write (image/heic).
HEIC_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
HEIF_BRANDS = HEIC_BRANDS | {b"mif1", b"msf1", b"mif2"}
MAGIC = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)


@dataclass(frozen=True)
class ImageInfo:
    format: str
    content_type: str
    width: int
    height: int


def sniff_format(head: bytes) -> str | None:
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return "HEIF"
    return next((fmt for magic, fmt in MAGIC if head.startswith(magic)), None)


def content_type_of(fmt: str, head: bytes) -> str:
    """The media type of sniffed bytes: HEIF whose brands say HEVC is image/heic."""
    if fmt == "HEIF":
        size = int.from_bytes(head[:4], "big")  # the ftyp box: major brand, version, compatible brands
        brands = [head[i:i + 4] for i in range(16, min(size, len(head)), 4)] + [head[8:12]]
        return "image/heic" if HEIC_BRANDS.intersection(brands) else "image/heif"
    return IMAGE_TYPES[fmt]


def safe_filename(name: str | None) -> str:
    """A display name only: no directories, no control characters, bounded."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C")
    base = base.strip().lstrip(".")
    if len(base) > 200:  # cut the stem, not the extension: some apps read a file's kind by it
        stem, dot, extension = base.rpartition(".")
        keep = dot + extension if dot and stem and len(extension) <= 16 else ""
        base = base[:200 - len(keep)] + keep
    return base or "upload"


def download_name(filename: str, content_type: str) -> str:
    """The name a file is saved under: the client's stem, the extension of what the bytes are.

    The client's own extension is never trusted: "page.html" holding a PNG downloads as "page.png".
    """
    stem = safe_filename(filename)
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    extension = mimetypes.guess_extension(content_type, strict=False) or ".bin"
    return f"{stem or 'file'}{extension}"


log = logging.getLogger(__name__)

# A progressive JPEG is a handful of scans (libjpeg writes 10); each one more is decoded over the whole
# image again, so a small file repeating its last scan thousands of times costs minutes of CPU.
MAX_JPEG_SCANS = 100


def jpeg_scans(data: bytes) -> int:
    """How many scans (SOS markers) the JPEG's own image holds, read marker by marker up to its end (EOI).

    Counting FF DA in the whole file would also count bytes after the image: a phone's motion photo
    carries a video there, with an FF DA about every 64 KiB.
    """
    return sum(1 for marker, _, _ in jpeg_segments(data) if marker == 0xDA)


def jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """The JPEG's own segments after SOI as (marker, start, end), up to and with its end (EOI).

    A scan's segment runs to the end of its entropy-coded data. The walk stops where no marker is
    where one belongs (the decoder will say what is wrong), and never reads past EOI.
    """
    at, end = 2, len(data)
    while at + 2 <= end:
        if data[at] != 0xFF:
            return
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0xD9:  # EOI: what follows is not this image
            yield marker, at, at + 2
            return
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # RSTn, TEM: no length
            yield marker, at, at + 2
            at += 2
            continue
        if at + 4 > end:
            return
        start, at = at, at + 2 + int.from_bytes(data[at + 2:at + 4], "big")
        if marker == 0xDA:  # SOS: entropy-coded data follows, up to the next marker (FF 00 and RSTn are data)
            at = _after_entropy_data(data, at)
        yield marker, start, min(at, end)


# In entropy-coded data FF is followed by 00 (a stuffed byte) or a restart marker; fill bytes (FF FF) may
# precede a marker: the first FF followed by anything else starts the next real marker.
_NEXT_MARKER = re.compile(rb"\xff+(?=[^\x00\xd0-\xd7\xff])")


def _after_entropy_data(data: bytes, at: int) -> int:
    """Where the marker after a scan's entropy-coded data starts (or the end of the bytes)."""
    found = _NEXT_MARKER.search(data, at)
    return found.end() - 1 if found else len(data)


def _refused(exc: Exception) -> InvalidInput | PayloadTooLarge:
    """What a decoder's failure means to the uploader; the reason's text can name our temporary file, so
    only its kind is told."""
    if isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning)):  # Pillow says how big
        return PayloadTooLarge(f"Image refused as a decompression bomb: {exc}", key="bomb")
    if isinstance(exc, RuntimeError) and "security limit" in str(exc).lower():  # pillow-heif's own bomb check
        return PayloadTooLarge("Image refused as a decompression bomb: it says it is far larger than its bytes",
                               key="bomb")
    return InvalidInput("The image is broken or truncated", details={"reason": type(exc).__name__},
                        key="broken_image")


@contextmanager
def _checked_open(path: Path, head: bytes, *, max_pixels: int, full: bool) -> Iterator[tuple[str, Image.Image]]:
    """Open an upload as an image of an accepted type and sane size, decoded to the end.

    Decoding to the last byte is what catches truncated or corrupt files. A
    JPEG is decoded at 1/8 scale unless `full`: the whole stream is still
    read, at a fraction of the time and memory. Whatever a decoder raises on
    hostile bytes (plugins raise EOFError, TypeError, RuntimeError, struct.error...)
    is a 4xx; errors in the caller's own work on the decoded image are not caught here.
    """
    fmt = sniff_format(head)
    if fmt is None:
        raise UnsupportedMedia(
            "Not an image we accept (JPEG, PNG, WebP, GIF, BMP, TIFF, HEIC)",
            details={"accepted": sorted(ACCEPTED_TYPES)}, key="not_an_image",
        )
    if fmt == "JPEG" and (scans := jpeg_scans(path.read_bytes())) > MAX_JPEG_SCANS:
        raise InvalidInput(f"This JPEG has {scans:,} scans; a photo has a few (at most {MAX_JPEG_SCANS})",
                           details={"scans": scans, "max_scans": MAX_JPEG_SCANS}, key="too_many_scans")
    with ExitStack() as stack:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                img = stack.enter_context(Image.open(path))
                width, height = img.size
                if width * height > max_pixels:
                    raise PayloadTooLarge(
                        f"Image is {width}×{height} pixels; the limit is {max_pixels:,} pixels",
                        details={"width": width, "height": height, "max_pixels": max_pixels}, key="too_many_pixels",
                    )
                if fmt == "JPEG" and not full:
                    img.draft(img.mode, (max(1, width // 8), max(1, height // 8)))
                img.load()
                img.getexif()  # parsed now, so a hostile EXIF block fails here and not in the caller
        except (BodaError, MemoryError):
            raise
        except Exception as exc:  # noqa: BLE001 - any decoder failure on uploaded bytes is the upload's fault
            log.info("image refused as broken: %r", exc)  # 4xx are not logged otherwise: a missing codec shows here
            raise _refused(exc) from exc
        try:
            yield fmt, img
        except (OSError, ValueError, SyntaxError, EOFError) as exc:  # Pillow, lazily, in the caller's own work
            raise _refused(exc) from exc


def inspect_image(path: Path, head: bytes, *, max_pixels: int) -> ImageInfo:
    """Check that the bytes are a whole image of an accepted type and sane size."""
    with _checked_open(path, head, max_pixels=max_pixels, full=False) as (fmt, img):
        orientation = img.getexif().get(0x0112, 1)
        with Image.open(path) as header:  # the draft changed img.size; the header has the truth
            width, height = header.size
    if orientation in (5, 6, 7, 8):  # rotated a quarter turn: the displayed size swaps
        width, height = height, width
    return ImageInfo(format=fmt, content_type=content_type_of(fmt, head), width=width, height=height)


def _blob_in_use(session: Session, key: str) -> bool:
    return bool(session.scalar(select(func.count()).select_from(StoredFile).where(StoredFile.blob_key == key)))


@dataclass(frozen=True)
class PreparedFile:
    """A validated file already in the blob store, not yet in the database.

    Slow work (decoding, detection) happens before any row is written, so a
    request holds the database's write lock only for its short final commit.
    """

    blob_key: str
    created: bool  # this upload put the blob there (and may take it away again)
    size: int
    filename: str
    content_type: str
    width: int | None
    height: int | None

    def row(self, *, owner_id: str, app: str, derived_from_id: str | None = None) -> StoredFile:
        return StoredFile(owner_id=owner_id, blob_key=self.blob_key, filename=self.filename,
                          content_type=self.content_type, size=self.size, width=self.width, height=self.height,
                          app=app, derived_from_id=derived_from_id, visibility=Visibility.private)


def prepare_image_upload(store: BlobStore, *, source: BinaryIO, filename: str | None, max_bytes: int,
                         max_pixels: int) -> PreparedFile:
    """Stream, check and store an uploaded image; nothing is kept when it is refused."""
    spooled = spool(source, max_bytes=max_bytes)
    try:
        if spooled.size == 0:
            raise InvalidInput("The file is empty", key="empty_file")
        info = inspect_image(spooled.path, spooled.head, max_pixels=max_pixels)
        return _put(store, spooled, filename=safe_filename(filename), content_type=info.content_type,
                    width=info.width, height=info.height)
    finally:
        spooled.discard()


def prepare_derived_image(store: BlobStore, *, image: Image.Image, filename: str, format: str = "PNG") -> PreparedFile:
    """Store an image Boda made; it is encoded afresh, so no EXIF (GPS) survives."""
    data = encode_image(image, format)
    spooled = spool(io.BytesIO(data), max_bytes=len(data) + 1)
    try:
        return _put(store, spooled, filename=safe_filename(filename), content_type=IMAGE_TYPES[format],
                    width=image.width, height=image.height)
    finally:
        spooled.discard()


def prepare_bytes(store: BlobStore, data: bytes, *, filename: str, content_type: str) -> PreparedFile:
    """Store bytes Boda made or fetched (a converted 3D file, a provider's asset)."""
    spooled = spool(io.BytesIO(data), max_bytes=len(data) + 1)
    try:
        return _put(store, spooled, filename=safe_filename(filename), content_type=content_type, width=None,
                    height=None)
    finally:
        spooled.discard()


def _put(store: BlobStore, spooled: SpooledUpload, *, filename: str, content_type: str, width: int | None,
         height: int | None) -> PreparedFile:
    existed = store.exists(spooled.sha256)
    key = store.put_spooled(spooled)
    return PreparedFile(blob_key=key, created=not existed, size=spooled.size, filename=filename,
                        content_type=content_type, width=width, height=height)


_NEW_BLOBS = "boda.new_blobs"


def _orphan_new_blobs(session: Session) -> None:
    """After a rollback: the blobs this transaction stored have no row, so the sweep may take them."""
    keys = session.info.pop(_NEW_BLOBS, set())
    if not keys:
        return
    try:
        with Session(bind=session.get_bind()) as other, other.begin():
            mark_orphans(other, keys)
    except Exception:  # a cleanup must not replace the error that rolled the work back (a locked database...)
        log.warning("could not mark %d stored blob(s) of a rolled-back transaction for the sweep: %s",
                    len(keys), sorted(keys), exc_info=True)


def _forget_new_blobs(session: Session) -> None:
    session.info.pop(_NEW_BLOBS, None)


def track_new_blob(session: Session, prepared: PreparedFile) -> None:
    """Remember a blob this upload created until the session commits; a rollback marks it an orphan.

    A page that stores a photo and then refuses the rest of the form (a place that is not the
    household's) rolls back its rows; without this the blob stayed in the store for good.
    """
    if not prepared.created:
        return
    session.info.setdefault(_NEW_BLOBS, set()).add(prepared.blob_key)
    if not event.contains(session, "after_rollback", _orphan_new_blobs):
        event.listen(session, "after_rollback", _orphan_new_blobs)
        event.listen(session, "after_commit", _forget_new_blobs)


def record(session: Session, prepared: PreparedFile, *, owner_id: str, app: str,
           derived_from_id: str | None = None) -> StoredFile:
    """The stored file's row, added and flushed; should the session roll back, its new blob goes to the sweep."""
    track_new_blob(session, prepared)
    row = prepared.row(owner_id=owner_id, app=app, derived_from_id=derived_from_id)
    session.add(row)
    session.flush()
    return row


def save_image_upload(session: Session, store: BlobStore, *, owner_id: str, source: BinaryIO,
                      filename: str | None, app: str, max_bytes: int, max_pixels: int) -> StoredFile:
    """Validate, store and record an uploaded image."""
    prepared = prepare_image_upload(store, source=source, filename=filename, max_bytes=max_bytes,
                                    max_pixels=max_pixels)
    return record(session, prepared, owner_id=owner_id, app=app)


def save_derived_image(session: Session, store: BlobStore, *, owner_id: str, image: Image.Image, filename: str,
                       app: str, derived_from_id: str | None = None, format: str = "PNG") -> StoredFile:
    """Store and record an image Boda made (no EXIF)."""
    prepared = prepare_derived_image(store, image=image, filename=filename, format=format)
    return record(session, prepared, owner_id=owner_id, app=app, derived_from_id=derived_from_id)


def discard_prepared(db: Database, prepared: list[PreparedFile]) -> None:
    """After a refused request: the blobs it added become sweep candidates."""
    keys = {item.blob_key for item in prepared if item.created}
    if keys:
        with db.session() as session:
            mark_orphans(session, keys)


def mark_orphans(session: Session, keys: set[str]) -> None:
    for key in keys:
        if session.get(BlobOrphan, key) is None:
            session.add(BlobOrphan(blob_key=key))


def sweep_orphans(db: Database, store: BlobStore, *, grace_seconds: float) -> int:
    """Delete candidate blobs that no row uses, once they are older than the grace period."""
    limit = utcnow() - timedelta(seconds=grace_seconds)
    deleted = 0
    with db.session() as session:
        for orphan in session.scalars(select(BlobOrphan).where(BlobOrphan.since <= limit)).all():
            if not _blob_in_use(session, orphan.blob_key):
                store.delete(orphan.blob_key)
                deleted += 1
            session.delete(orphan)
    return deleted


def encode_image(image: Image.Image, format: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    if format == "JPEG" and image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    # No exif= argument: the encoded file carries no camera metadata or GPS.
    image.save(buffer, format=format, **({"quality": 90} if format in ("JPEG", "WEBP") else {}))
    return buffer.getvalue()


def load_image(store: BlobStore, file: StoredFile) -> Image.Image:
    """Decode a stored image upright (EXIF orientation applied), as RGB."""
    return load_blob_image(store, file.blob_key)


def load_blob_image(store: BlobStore, key: str) -> Image.Image:
    with store.open(key) as f:
        image = Image.open(io.BytesIO(f.read()))
        image.load()
    upright = ImageOps.exif_transpose(image)
    return upright.convert("RGB")


def delete_file(session: Session, file: StoredFile) -> None:
    """Delete the row (and files made from it); their blobs go when the sweep finds them unused."""
    derived = session.scalars(select(StoredFile).where(StoredFile.derived_from_id == file.id)).all()
    for row in (*derived, file):
        session.delete(row)
    mark_orphans(session, {row.blob_key for row in (*derived, file)})
    session.flush()


def to_rgb(image: Image.Image) -> Image.Image:
    """RGB from any mode Pillow opens: a few ("La", premultiplied grey and alpha, from TIFF) convert only
    through their plain form."""
    try:
        return image.convert("RGB")
    except ValueError:
        plain = {"La": "LA", "RGBa": "RGBA", "PA": "RGBA"}.get(image.mode)
        if plain is None:
            raise InvalidInput(f"Images in colour mode {image.mode} cannot be read", key="broken_image",
                               details={"reason": "mode"}) from None
        return image.convert(plain).convert("RGB")


def read_image_upload(source: BinaryIO, *, max_bytes: int, max_pixels: int) -> Image.Image:
    """Validate an uploaded image and decode it upright (once), without storing it."""
    spooled = spool(source, max_bytes=max_bytes)
    try:
        if spooled.size == 0:
            raise InvalidInput("The file is empty", key="empty_file")
        with _checked_open(spooled.path, spooled.head, max_pixels=max_pixels, full=True) as (_, image):
            return to_rgb(ImageOps.exif_transpose(image))
    finally:
        spooled.discard()
