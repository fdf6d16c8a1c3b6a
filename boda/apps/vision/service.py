"""Vision's logic, shared by the API, the pages, the jobs and the CLI."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from boda.apps.vision import mnist
from boda.apps.vision.models import Anonymization
from boda.apps.vision.schemas import MAX_SEED, AnonymizeBatch, AnonymizeOptions, AnonymizeVideo
from boda.apps.vision.settings import vision_settings
from boda.core import jobs, uploads
from boda.core.archive import Entry, unique_names
from boda.core.auth import Scope, get_visible
from boda.core.config import Settings
from boda.core.errors import BodaError, InvalidInput, NotFound
from boda.core.listing import list_visible
from boda.core.models import Job, StoredFile
from boda.core.runtime import Runtime

if TYPE_CHECKING:
    from boda.ai.digits import DigitReading

APP = "vision"
NOISE_SIGMA = 15.0  # the seed's np.random.normal(0, 15)
MAX_BATCH = 100
PHOTO_TYPES = frozenset({"image/jpeg", "image/heic", "image/heif"})


# --- MNIST samples -----------------------------------------------------------

def mnist_size(settings: Settings) -> int:
    """How many training digits this server has."""
    return len(mnist.load_mnist("train", vision_settings(settings).mnist_dir)[1])


def mnist_digit(settings: Settings, index: int, *, add_noise: bool, seed: int | None = None
                ) -> tuple[Image.Image, int, int]:
    """One training digit (noisy if asked, as the seed did), its label, and the set's size."""
    images, labels = mnist.load_mnist("train", vision_settings(settings).mnist_dir)
    if not 0 <= index < len(images):
        raise InvalidInput(f"Invalid index {index}: choose one from 0 to {len(images) - 1}",
                           details={"min": 0, "max": len(images) - 1}, key="bad_index")
    pixels = images[index].astype(np.float64)
    if add_noise:
        pixels = np.clip(pixels + np.random.default_rng(seed).normal(0, NOISE_SIGMA, pixels.shape), 0, 255)
    return Image.fromarray(pixels.astype(np.uint8), "L"), int(labels[index]), len(images)


def mnist_preview(settings: Settings, *, index: int, add_noise: bool, seed: int | None = None) -> dict[str, Any]:
    """Say what a digit is without storing anything; a noisy one gets a seed so its image repeats."""
    if add_noise and seed is None:
        seed = secrets.randbelow(MAX_SEED + 1)
    _, label, size = mnist_digit(settings, index, add_noise=False)
    return {"index": index, "label": label, "has_noise": add_noise, "seed": seed if add_noise else None,
            "dataset_size": size, "attribution": mnist.MNIST_ATTRIBUTION}


def mnist_png(settings: Settings, *, index: int, add_noise: bool, seed: int | None = None) -> bytes:
    """One digit as PNG bytes, made on request (same arguments, same image when seeded)."""
    image, _, _ = mnist_digit(settings, index, add_noise=add_noise, seed=seed)
    return uploads.encode_image(image, "PNG")


def mnist_sample(session: Session, runtime: Runtime, *, owner_id: str, index: int, filename: str,
                 add_noise: bool, seed: int | None = None) -> dict[str, Any]:
    """Store one MNIST training digit as a PNG and say what it is."""
    image, label, size = mnist_digit(runtime.settings, index, add_noise=add_noise, seed=seed)
    stem = uploads.safe_filename(filename).rsplit(".", 1)[0] or "mnist_sample"
    name = f"{stem}_label{label}{'_noise' if add_noise else ''}.png"
    file = uploads.save_derived_image(session, runtime.store, owner_id=owner_id, image=image, filename=name,
                                      app=APP)
    return {"index": index, "label": label, "has_noise": add_noise, "file": file,
            "dataset_size": size, "attribution": mnist.MNIST_ATTRIBUTION}


# --- digits ------------------------------------------------------------------

def read_digits(runtime: Runtime, source: BinaryIO, *, multi: bool) -> dict[str, Any]:
    """Read one digit, or a number left to right, from an uploaded image."""
    with runtime.image_work:
        image = uploads.read_image_upload(source, max_bytes=runtime.settings.max_upload_bytes,
                                          max_pixels=runtime.settings.max_image_pixels)
        return reading_as_dict(runtime, np.asarray(image.convert("L")), multi=multi)


def reading_as_dict(runtime: Runtime, gray: np.ndarray, *, multi: bool) -> dict[str, Any]:
    """One digit, or (multi) every line of digits on the page, top to bottom, found even when turned."""
    reader = runtime.ai.digit_reader
    if multi:
        page = reader.read_page(gray)
        lines = [(line.text, line.confidence, line.digits) for line in page.lines]
        text, confidence, rotation = page.text, page.confidence, page.rotation
    else:
        one = reader.read_digit(gray)
        lines = [(str(one.digit), one.confidence, (one,))]
        text, confidence, rotation = str(one.digit), one.confidence, 0
    return {"text": text, "confidence": confidence, "rotation": rotation,
            "digits": [_digit_dict(d) for _, _, digits in lines for d in digits],
            "lines": [{"text": t, "confidence": c, "digits": [_digit_dict(d) for d in digits]}
                      for t, c, digits in lines]}


def _digit_dict(d: DigitReading) -> dict[str, Any]:
    return {"digit": d.digit, "confidence": d.confidence, "box": d.box, "probabilities": list(d.probabilities)}


# --- faces -------------------------------------------------------------------

def cover_faces(runtime: Runtime, image: Image.Image, options: AnonymizeOptions
                 ) -> tuple[Image.Image, list[dict[str, Any]], str]:
    from boda.ai.faces import anonymize

    bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
    detector = runtime.ai.face_detector(options.detector)
    faces = detector.detect(bgr, threshold=options.threshold)
    covered = anonymize(bgr, faces, method=options.method, strength=options.strength)
    found = [{"box": list(f.box), "score": round(float(f.score), 4)} for f in faces]
    covered_image = Image.fromarray(np.ascontiguousarray(covered[:, :, ::-1]))
    return covered_image, found, getattr(detector, "name", options.detector)


def _prepare_copy(runtime: Runtime, original: uploads.PreparedFile | StoredFile, image: Image.Image,
                  options: AnonymizeOptions) -> tuple[uploads.PreparedFile, list[dict[str, Any]], str]:
    """The slow part, done before any row is written: detect, cover, store the copy."""
    covered, faces, detector = cover_faces(runtime, image, options)
    # Photos stay photos (a HEIC becomes a JPEG every browser shows); drawings and screenshots stay lossless.
    fmt = "JPEG" if original.content_type in PHOTO_TYPES else "PNG"
    stem = original.filename.rsplit(".", 1)[0] or "photo"
    name = f"{stem}_anonymized.{'jpg' if fmt == 'JPEG' else 'png'}"
    return uploads.prepare_derived_image(runtime.store, image=covered, filename=name, format=fmt), faces, detector


def _record(session: Session, original: StoredFile, copy: uploads.PreparedFile, faces: list[dict[str, Any]],
            detector: str, options: AnonymizeOptions, job_id: str | None) -> Anonymization:
    copy_row = uploads.record(session, copy, owner_id=original.owner_id, app=APP, derived_from_id=original.id)
    row = Anonymization(owner_id=original.owner_id, original_id=original.id, anonymized_id=copy_row.id,
                        method=options.method, detector=detector, threshold=options.threshold,
                        strength=options.strength, job_id=job_id, faces=faces)
    session.add(row)
    session.flush()
    return row


def anonymize_file(session: Session, runtime: Runtime, original: StoredFile, options: AnonymizeOptions,
                   job_id: str | None = None) -> Anonymization:
    """Cover the faces of a stored photo; its copy is stored beside it."""
    copy, faces, detector = _prepare_copy(runtime, original, uploads.load_image(runtime.store, original), options)
    return _record(session, original, copy, faces, detector, options, job_id)


def anonymize_upload(session: Session, runtime: Runtime, *, owner_id: str, source: BinaryIO,
                     filename: str | None, options: AnonymizeOptions) -> Anonymization:
    """Store the original privately, cover its faces, store the copy beside it."""
    original = _prepare_upload(runtime, source=source, filename=filename)
    made = [original]
    try:
        with runtime.image_work:
            image = uploads.load_blob_image(runtime.store, original.blob_key)
            copy, faces, detector = _prepare_copy(runtime, original, image, options)
        made.append(copy)
        original_row = original.row(owner_id=owner_id, app=APP)
        session.add(original_row)
        session.flush()
        return _record(session, original_row, copy, faces, detector, options, None)
    except Exception:
        session.rollback()
        uploads.discard_prepared(runtime.db, made)
        raise


def _prepare_upload(runtime: Runtime, *, source: BinaryIO, filename: str | None) -> uploads.PreparedFile:
    settings = runtime.settings
    return uploads.prepare_image_upload(runtime.store, source=source, filename=filename,
                                        max_bytes=settings.max_upload_bytes, max_pixels=settings.max_image_pixels)


def start_batch(session: Session, runtime: Runtime, *, owner_id: str,
                files: list[tuple[BinaryIO, str | None]], options: AnonymizeOptions) -> Job:
    """Validate and store every upload first; only then record them and queue the work.

    One bad file refuses the whole batch with its name, and nothing of the
    batch stays stored.
    """
    if not files:
        raise InvalidInput("Send at least one file", key="no_files")
    if len(files) > MAX_BATCH:
        raise InvalidInput(f"At most {MAX_BATCH} files per batch", key="too_many_files", details={"max": MAX_BATCH})
    prepared: list[uploads.PreparedFile] = []
    try:
        for source, name in files:
            try:
                prepared.append(_prepare_upload(runtime, source=source, filename=name))
            except BodaError as exc:  # say which file, keep the status
                exc.message = f"{uploads.safe_filename(name)}: {exc.message}"
                exc.details = {**exc.details, "filename": uploads.safe_filename(name)}
                exc.key = f"{exc.key}_in_batch" if exc.key else None
                raise
    except Exception:
        uploads.discard_prepared(runtime.db, prepared)
        raise
    from boda.apps.vision.jobs import anonymize_batch

    try:
        runtime.queue.check_available()  # refuse before anything is recorded
    except BodaError:
        uploads.discard_prepared(runtime.db, prepared)
        raise
    rows = [item.row(owner_id=owner_id, app=APP) for item in prepared]
    session.add_all(rows)
    session.flush()
    title = f"Anonymise {len(rows)} photo{'s' if len(rows) != 1 else ''}"
    return runtime.queue.enqueue(session, anonymize_batch, owner_id=owner_id, title=title,
                                 title_key="vision.job.anonymize_batch", title_args={"count": len(rows)},
                                 payload=AnonymizeBatch(file_ids=[f.id for f in rows], options=options))


def list_anonymizations(session: Session, scope: Scope, *, limit: int, offset: int, job_id: str | None = None
                        ) -> tuple[list[Anonymization], int]:
    """The caller's own anonymised photos (the Vision page is a personal tool), or one batch's."""
    where = [Anonymization.job_id == job_id] if job_id is not None else []
    listed = list_visible(session, Anonymization, scope, limit=limit, offset=offset, reach="mine", where=where)
    return listed.items, listed.total  # type: ignore[return-value]


def batch_zip_url(job_id: str) -> str:
    return f"/api/v1/vision/batches/{job_id}/zip"


def batch_archive(session: Session, scope: Scope, job_id: str) -> tuple[str, list[Entry]]:
    """What a batch made so far (finished, canceled or still running), as named ZIP entries, in upload order."""
    from boda.apps.vision.jobs import anonymize_batch

    job = jobs.get_job(session, job_id, user_id=scope.user_id or "")  # 404 for anyone but its owner
    if job.kind != anonymize_batch.kind:
        raise NotFound(f"Job {job_id} is not a batch of photos", key="not_a_batch")
    rows = session.scalars(select(Anonymization).where(Anonymization.job_id == job.id,
                                                       Anonymization.owner_id == job.owner_id)
                           .order_by(Anonymization.id)).all()
    if not rows:
        raise NotFound("This batch has not made any photos yet", key="batch_empty")
    names = unique_names(uploads.download_name(r.anonymized.filename, r.anonymized.content_type) for r in rows)
    entries = [Entry(name=name, blob_key=r.anonymized.blob_key, size=r.anonymized.size, modified=r.created_at)
               for name, r in zip(names, rows, strict=True)]
    return f"boda-anonymized-{job.created_at:%Y%m%d-%H%M%S}.zip", entries


def get_anonymization(session: Session, scope: Scope, anonymization_id: str) -> Anonymization:
    return get_visible(session, Anonymization, anonymization_id, scope)


def delete_anonymization(session: Session, runtime: Runtime, scope: Scope, anonymization_id: str) -> None:
    row = get_visible(session, Anonymization, anonymization_id, scope, write=True)
    original = row.original
    session.delete(row)
    session.flush()
    uploads.delete_file(session, original)  # the copy was made from it and goes with it


# --- videos ------------------------------------------------------------------

def video_limits(settings: Settings) -> dict[str, Any]:
    vs = vision_settings(settings)
    return {"max_seconds": vs.video_max_seconds, "max_pixels": vs.video_max_pixels}


def prepare_video_upload(runtime: Runtime, *, source: BinaryIO, filename: str | None
                         ) -> tuple[uploads.PreparedFile, Any]:
    """Stream, probe and store an uploaded video; nothing is kept when it is refused."""
    from boda.apps.vision import video
    from boda.core.storage import spool

    vs = vision_settings(runtime.settings)
    spooled = spool(source, max_bytes=int(vs.video_max_mb * 1024 * 1024))
    try:
        if spooled.size == 0:
            raise InvalidInput("The file is empty", key="empty_file")
        info = video.probe(spooled.path, **video_limits(runtime.settings))
        existed = runtime.store.exists(spooled.sha256)
        key = runtime.store.put_spooled(spooled)
        name = uploads.safe_filename(filename)
        return uploads.PreparedFile(blob_key=key, created=not existed, size=spooled.size, filename=name,
                                    content_type=info.content_type, width=info.width, height=info.height), info
    finally:
        spooled.discard()


def start_video(session: Session, runtime: Runtime, *, owner_id: str, source: BinaryIO, filename: str | None,
                options: AnonymizeOptions) -> Job:
    """Check the upload in the request (a bad one is a 4xx, nothing stored), then queue the slow part."""
    from boda.apps.vision.jobs import anonymize_video

    prepared, info = prepare_video_upload(runtime, source=source, filename=filename)
    try:
        runtime.queue.check_available()  # refuse before anything is recorded
    except BodaError:
        uploads.discard_prepared(runtime.db, [prepared])
        raise
    row = uploads.record(session, prepared, owner_id=owner_id, app=APP)
    return runtime.queue.enqueue(session, anonymize_video, owner_id=owner_id, title=f"Anonymise {row.filename}",
                                 title_key="vision.job.anonymize_video", title_args={"name": row.filename},
                                 payload=AnonymizeVideo(file_id=row.id, options=options))


def video_url(job_id: str) -> str:
    return f"/api/v1/vision/videos/{job_id}/content"


def get_video_job(session: Session, scope: Scope, job_id: str) -> tuple[Job, StoredFile | None, StoredFile | None]:
    """A video job, its original and (once made) its anonymised copy; 404 for anyone but its owner."""
    from boda.apps.vision.jobs import anonymize_video

    job = jobs.get_job(session, job_id, user_id=scope.user_id or "")
    if job.kind != anonymize_video.kind:
        raise NotFound(f"Job {job_id} is not a video", key="not_a_video_job")
    original = session.get(StoredFile, job.payload.get("file_id", "")) if job.payload else None
    made_id = (job.result or {}).get("file_id")
    made = session.get(StoredFile, made_id) if made_id else None
    owned = [f if f is not None and f.owner_id == job.owner_id else None for f in (original, made)]
    return job, owned[0], owned[1]


def video_file(session: Session, scope: Scope, job_id: str) -> StoredFile:
    _, _, made = get_video_job(session, scope, job_id)
    if made is None:
        raise NotFound("This video has not been anonymised yet", key="video_not_ready")
    return made
