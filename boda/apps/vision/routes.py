"""Vision's API under /api/v1/vision."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse

from boda.apps.vision import service
from boda.apps.vision.models import Anonymization
from boda.apps.vision.schemas import (
    MAX_SEED,
    MNIST_MAX_INDEX,
    AnonymizationOut,
    AnonymizeOptions,
    DetectorName,
    DigitsOut,
    FaceOut,
    Method,
    MnistPreviewOut,
    MnistSampleIn,
    MnistSampleOut,
    VideoOut,
)
from boda.core.archive import stream_zip
from boda.core.auth import Scope
from boda.core.config import Settings
from boda.core.schemas import FileOut, JobOut, Page, PageParams
from boda.web.api.files import stream_file
from boda.web.deps import CurrentUser, DbSession, RuntimeDep
from boda.web.i18n import job_text
from boda.web.openapi import errors, image_upload

router = APIRouter(prefix="/api/v1/vision", tags=["vision"])


def document(schema: dict[str, Any], settings: Settings) -> None:
    """Bound `index` in the OpenAPI document by the digits this server has, so no valid index is refused."""
    last = service.mnist_size(settings) - 1
    operations = schema["paths"].get(f"{router.prefix}/mnist-sample", {}).values()
    for spec in [p["schema"] for op in operations for p in op.get("parameters", []) if p["name"] == "index"] + [
            schema["components"]["schemas"].get("MnistSampleIn", {}).get("properties", {}).get("index", {})]:
        if "maximum" in spec:
            spec["maximum"] = last


def _sample_out(sample: dict[str, object]) -> MnistSampleOut:
    return MnistSampleOut(image=FileOut.of(sample.pop("file")), **sample)  # type: ignore[arg-type]


def mnist_image_url(index: int, *, add_noise: bool, seed: int | None) -> str:
    query = f"?add_noise=true&seed={seed}" if add_noise else ""
    return f"/api/v1/vision/mnist-sample/{index}.png{query}"


Seed = Annotated[int | None, Query(ge=0, le=MAX_SEED, description="Seed for the noise (a repeatable image).")]


@router.get("/mnist-sample")
def get_mnist_sample(user: CurrentUser, runtime: RuntimeDep,
                     index: Annotated[int, Query(ge=0, le=MNIST_MAX_INDEX)] = 100,
                     add_noise: bool = False, seed: Seed = None) -> MnistPreviewOut:
    """Say which digit an MNIST training image is and where to see it; stores nothing (POST stores)."""
    preview = service.mnist_preview(runtime.settings, index=index, add_noise=add_noise, seed=seed)
    url = mnist_image_url(index, add_noise=add_noise, seed=preview["seed"])
    return MnistPreviewOut(image_url=url, **preview)


@router.get("/mnist-sample/{index}.png", response_class=Response,
            responses={200: {"content": {"image/png": {}}, "description": "The digit as a 28×28 PNG."}})
def mnist_sample_png(index: Annotated[int, Path(ge=0, le=MNIST_MAX_INDEX)], user: CurrentUser, runtime: RuntimeDep,
                     add_noise: bool = False,
                     seed: Annotated[int, Query(ge=0, le=MAX_SEED, description="Seed for the noise.")] = 0,
                     ) -> Response:
    """Render an MNIST training digit as PNG, made on request and never stored.

    The seed has a default rather than a random pick, so the same URL always shows the same image.
    """
    png = service.mnist_png(runtime.settings, index=index, add_noise=add_noise, seed=seed if add_noise else None)
    return Response(png, media_type="image/png", headers={"cache-control": "private, max-age=3600"})


@router.post("/mnist-sample")
def post_mnist_sample(body: MnistSampleIn, session: DbSession, user: CurrentUser,
                      runtime: RuntimeDep) -> MnistSampleOut:
    """Store the MNIST training digit at `index` as PNG, optionally noisy; 400 when out of range."""
    return _sample_out(service.mnist_sample(session, runtime, owner_id=user.id, index=body.index,
                                            filename=body.filename, add_noise=body.add_noise,
                                            seed=body.seed))


@router.post("/digits", responses=errors(503), openapi_extra=image_upload("file"))
def read_digits(user: CurrentUser, runtime: RuntimeDep, file: Annotated[UploadFile, File()],
                multi: Annotated[bool, Form()] = False) -> DigitsOut:
    """Read a handwritten digit, or with `multi` every line of digits (a number, a page, a grid, a column).

    With `multi`, a page photographed sideways or upside down is turned upright first.
    """
    return DigitsOut.model_validate(service.read_digits(runtime, file.file, multi=multi))


def _options(method: Annotated[Method, Form()] = "mosaic",
             threshold: Annotated[float, Form(ge=0.05, le=0.99)] = 0.5,
             strength: Annotated[float, Form(ge=0.1, le=5.0)] = 1.0,
             detector: Annotated[DetectorName, Form()] = "auto") -> AnonymizeOptions:
    return AnonymizeOptions(method=method, threshold=threshold, strength=strength, detector=detector)


Options = Annotated[AnonymizeOptions, Depends(_options)]


def anonymization_out(row: Anonymization) -> AnonymizationOut:
    return AnonymizationOut(
        id=row.id, created_at=row.created_at, method=row.method, detector=row.detector,
        threshold=row.threshold, strength=row.strength, job_id=row.job_id,
        faces=[FaceOut(box=tuple(f["box"]), score=f["score"]) for f in row.faces],  # type: ignore[arg-type]
        original=FileOut.of(row.original), anonymized=FileOut.of(row.anonymized),
    )


@router.post("/anonymize", status_code=201, responses=errors(503), openapi_extra=image_upload("file"))
def anonymize(session: DbSession, user: CurrentUser, runtime: RuntimeDep, options: Options,
              file: Annotated[UploadFile, File()]) -> AnonymizationOut:
    """Cover the faces in one photo now; the original stays private, the copy has no EXIF."""
    row = service.anonymize_upload(session, runtime, owner_id=user.id, source=file.file,
                                   filename=file.filename, options=options)
    return anonymization_out(row)


@router.post("/anonymize/batch", status_code=202, responses=errors(503),
             openapi_extra=image_upload("files"))
def anonymize_batch(request: Request, session: DbSession, user: CurrentUser, runtime: RuntimeDep, options: Options,
                    files: Annotated[list[UploadFile], File(min_length=1, max_length=service.MAX_BATCH)]) -> JobOut:
    """Queue many photos as one job; follow it at /api/v1/jobs/{id}/events."""
    job = service.start_batch(session, runtime, owner_id=user.id, options=options,
                              files=[(f.file, f.filename) for f in files])
    return JobOut.of(job, job_text(request, user.locale))


@router.get("/anonymizations")
def list_anonymizations(session: DbSession, user: CurrentUser, page: Annotated[PageParams, Depends()],
                        job_id: Annotated[str | None, Query(max_length=64, description=(
                            "Only the photos this batch job made (so far, or before it was canceled)."))] = None,
                        ) -> Page[AnonymizationOut]:
    """List the caller's anonymised photos, newest first."""
    rows, total = service.list_anonymizations(session, Scope.of(user), limit=page.limit, offset=page.offset,
                                              job_id=job_id)
    return Page(items=[anonymization_out(r) for r in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/batches/{job_id}/zip", response_class=StreamingResponse, responses={
    200: {"content": {"application/zip": {}}, "description": "The batch's anonymised photos as one ZIP."}})
def batch_zip(job_id: str, session: DbSession, user: CurrentUser, runtime: RuntimeDep) -> StreamingResponse:
    """Download every photo a batch made as one ZIP, streamed as it is built; 404 while it has made none."""
    filename, entries = service.batch_archive(session, Scope.of(user), job_id)
    return StreamingResponse(stream_zip(runtime.store, entries), media_type="application/zip", headers={
        "content-disposition": f'attachment; filename="{filename}"', "cache-control": "private, no-store"})


@router.get("/anonymizations/{anonymization_id}")
def get_anonymization(anonymization_id: str, session: DbSession, user: CurrentUser) -> AnonymizationOut:
    """Return one anonymised photo."""
    return anonymization_out(service.get_anonymization(session, Scope.of(user), anonymization_id))


@router.delete("/anonymizations/{anonymization_id}", status_code=204)
def delete_anonymization(anonymization_id: str, session: DbSession, user: CurrentUser,
                         runtime: RuntimeDep) -> None:
    """Delete an anonymised photo and its original."""
    service.delete_anonymization(session, runtime, Scope.of(user), anonymization_id)


VIDEO_TYPES = ("video/mp4", "video/quicktime", "video/webm", "video/x-matroska")


VIDEO_UPLOAD = {"requestBody": {"content": {"multipart/form-data": {
    "encoding": {"file": {"contentType": ", ".join(VIDEO_TYPES)}}}}}}


@router.post("/videos", status_code=202, responses=errors(413, 415, 503), openapi_extra=VIDEO_UPLOAD)
def anonymize_video(request: Request, session: DbSession, user: CurrentUser, runtime: RuntimeDep, options: Options,
                    file: Annotated[UploadFile, File(description="MP4, MOV, WebM or MKV.")]) -> JobOut:
    """Check a video now (400/413/415 with a reason, nothing stored) and hide its faces in a job.

    Follow the job at /api/v1/jobs/{id}/events or GET /api/v1/vision/videos/{id}.
    """
    job = service.start_video(session, runtime, owner_id=user.id, source=file.file, filename=file.filename,
                              options=options)
    return JobOut.of(job, job_text(request, user.locale))


@router.get("/videos/{job_id}")
def get_video(job_id: str, request: Request, session: DbSession, user: CurrentUser) -> VideoOut:
    """A video job's state and, once it succeeded, the anonymised copy; 404 for anyone but its owner."""
    job, original, made = service.get_video_job(session, Scope.of(user), job_id)
    out = JobOut.of(job, job_text(request, user.locale))
    return VideoOut(job_id=job.id, status=out.status, progress=out.progress, message=out.message or None,
                    original=FileOut.of(original) if original else None,
                    anonymized=FileOut.of(made) if made else None,
                    download_url=service.video_url(job.id) if made else None,
                    result=job.result if made else None)


@router.get("/videos/{job_id}/content", response_class=StreamingResponse, responses={
    200: {"content": {t: {} for t in VIDEO_TYPES}, "description": "The anonymised video."}})
def video_content(job_id: str, session: DbSession, user: CurrentUser, runtime: RuntimeDep,
                  download: bool = False) -> StreamingResponse:
    """Stream the anonymised video (404 until the job made it, and for anyone but its owner)."""
    return stream_file(runtime, service.video_file(session, Scope.of(user), job_id), download)
