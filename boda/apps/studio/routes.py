"""3D Studio's API under /api/v1/studio."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from boda.apps.studio import enhance, search, service, uploading
from boda.apps.studio.models import StudioModel
from boda.apps.studio.schemas import (
    EnhanceIn,
    EnhanceOut,
    Format,
    GenerationIn,
    GenerationOut,
    ModelOut,
    ModelPatch,
    PromptCandidateOut,
    ProviderOut,
    RatingIn,
    SystemPromptIn,
    SystemPromptOut,
)
from boda.core.auth import Scope, get_shared
from boda.core.errors import Conflict, NotFound
from boda.core.models import Job, StoredFile
from boda.core.runtime import Runtime
from boda.core.schemas import Page, PageParams
from boda.web.deps import CurrentUser, DbSession, MaybeUser, RuntimeDep
from boda.web.openapi import errors

API_PREFIX = "/api/v1/studio"
router = APIRouter(prefix=API_PREFIX, tags=["studio"])
JOB_HEADER = "X-Boda-Job-Id"
MODEL_FILE = {"content": {media: {} for media in ("model/gltf-binary", "application/octet-stream", "application/zip",
                                                   "model/vnd.usdz+zip", "model/stl", "application/x-ply")},
              "description": "The file's bytes, in the format asked for."}
IMAGE = {"content": {"image/webp": {}}, "description": "A WebP picture."}
JOB_HEADERS = {"headers": {JOB_HEADER: {"description": "The job preparing the model: follow it at "
                                        "/api/v1/jobs/{id} or its SSE /api/v1/jobs/{id}/events.",
                                        "schema": {"type": "string"}}}}


def model_out(session: Session, model: StudioModel, *, viewer: str | None = None,
              job_id: str | None = None) -> ModelOut:
    base = f"{API_PREFIX}/models/{model.id}"
    formats = sorted(service.model_files(session, model.id))
    return ModelOut(
        id=model.id, owner_id=model.owner_id, title=model.title, source=model.source, provider=model.provider,
        fidelity=model.fidelity, prompt=model.prompt, enhanced_prompt=model.enhanced_prompt, status=model.status,
        error=model.error, visibility=model.visibility, household_id=model.household_id,
        created_at=model.created_at, published_at=model.published_at, remix_of_id=model.remix_of_id,
        stats=model.stats, formats=formats, likes=model.likes,
        liked=bool(viewer) and model.id in service.liked_by(session, viewer, [model.id]),
        ratings=model.ratings, rating_mean=model.rating_mean, my_rating=service.my_rating(session, viewer, model.id),
        score=model.score, score_std=model.score_std, score_probs=model.score_probs, score_method=model.score_method,
        thumbnail_url=f"{base}/thumbnail" if model.thumbnail_file_id else None,
        turntable_url=f"{base}/turntable" if model.turntable_file_id else None,
        download_urls={fmt: f"{base}/download?format={fmt}" for fmt in formats},
        share_url=f"/studio/shared/{model.share_token}" if model.share_token else None,
        job_id=job_id if job_id is not None else _job_of(session, model),
    )


def _job_of(session: Session, model: StudioModel) -> str | None:
    gen = service.generation_of(session, model.id)
    return gen.job_id if gen else None


PROVIDER_TEXT = {
    "meshy": "Meshy's API: text or image to a detailed, textured model (preview, then refine with PBR textures).",
    "hunyuan3d": "A Hunyuan3D-2 api_server you run: image or text to a detailed model on your own GPU.",
}


def _providers(runtime: Runtime) -> list[ProviderOut]:
    """The composer (always there, offline) and the remote generators, each said set up or not."""
    from boda.ai import composer

    found = [ProviderOut(name="composer", fidelity=composer.FIDELITY, configured=True,
                         description=composer.DESCRIPTION)]
    for name, text in PROVIDER_TEXT.items():
        generator = runtime.ai.get("generator_3d", name)
        found.append(ProviderOut(name=name, fidelity=generator.fidelity, configured=generator.available,
                                 description=text if generator.available else f"{text} Not set up: {generator.reason}"))
    return found


@router.get("/providers")
def list_providers(runtime: RuntimeDep, user: CurrentUser) -> list[ProviderOut]:
    """The 3D generators this server offers, how faithful each is, and whether it is set up."""
    return _providers(runtime)


@router.post("/enhance", responses=errors(429, 503))
def enhance_prompt(body: EnhanceIn, session: DbSession, user: CurrentUser, runtime: RuntimeDep) -> EnhanceOut:
    """Let the LLM turn a short prompt into a richer one (see it before generating; edit it freely)."""
    system = service.system_prompt_of(session, user.id)
    session.commit()  # nothing to write: do not hold a transaction through the LLM call
    return enhanced_out(runtime.ai.chat(), body.prompt, system_prompt=system, candidates=body.candidates)


def enhanced_out(chat: object, prompt: str, *, system_prompt: str | None, candidates: int) -> EnhanceOut:
    """One enhancement, or best of N: every candidate with its rubric score, the best one chosen."""
    from boda.ai.llm import run_sync

    if candidates <= 1:
        one = run_sync(enhance.enhance(chat, prompt, system_prompt=system_prompt))  # type: ignore[arg-type]
        return EnhanceOut(original=one.original, enhanced=one.enhanced, language=one.language)
    best = run_sync(enhance.best_of(chat, prompt, candidates, system_prompt=system_prompt))  # type: ignore[arg-type]
    return EnhanceOut(original=best.original, enhanced=best.candidates[best.best_index].text, language=best.language,
                      candidates=[PromptCandidateOut(text=c.text, score=c.score, reasons=c.reasons)
                                  for c in best.candidates], best_index=best.best_index)


@router.get("/prompt")
def get_system_prompt(session: DbSession, user: CurrentUser) -> SystemPromptOut:
    """The prompt enhancer's instructions you use (your own, or the default)."""
    mine = service.system_prompt_of(session, user.id)
    return SystemPromptOut(system_prompt=mine, defaults=dict(enhance.DEFAULT_SYSTEM_PROMPTS))


@router.put("/prompt")
def set_system_prompt(body: SystemPromptIn, session: DbSession, user: CurrentUser) -> SystemPromptOut:
    """Use your own instructions for the prompt enhancer (empty: the default again)."""
    service.set_system_prompt(session, user.id, body.system_prompt)
    return get_system_prompt(session, user)


@router.post("/generations", status_code=202, responses={**errors(404, 409, 503), 202: JOB_HEADERS})
def create_generation(body: GenerationIn, session: DbSession, user: CurrentUser, runtime: RuntimeDep,
                      response: Response) -> GenerationOut:
    """Start making a model from a prompt: 202 at once with the model and the job that makes it."""
    model, job_id = uploading.start_generation(
        session, runtime, Scope.of(user), prompt=body.prompt, provider=body.provider, enhance=body.enhance,
        enhanced_prompt=body.enhanced_prompt, art_style=body.art_style, refine=body.refine, remix_of=body.remix_of,
        providers={p.name for p in _providers(runtime)})
    response.headers[JOB_HEADER] = job_id
    return GenerationOut(model=model_out(session, model, viewer=user.id, job_id=job_id), job_id=job_id)


@router.post("/generations/{model_id}/cancel", responses=errors(409))
def cancel_generation(model_id: str, session: DbSession, user: CurrentUser, runtime: RuntimeDep) -> ModelOut:
    """Stop a generation still running: its job is canceled and the provider told (when it can be)."""
    model = service.get_model(session, Scope.of(user), model_id, write=True)
    gen = service.generation_of(session, model.id)
    job = session.get(Job, gen.job_id) if gen and gen.job_id else None
    if gen is None or job is None or model.status != "generating":
        raise Conflict("This model is not being generated", key="studio_not_generating")
    if job.status not in ("succeeded", "failed", "canceled"):
        runtime.queue.cancel(session, job)
    model.status, model.error = "failed", "Canceled"
    session.commit()
    uploading.tell_provider_cancel(runtime, gen)
    return model_out(session, model, viewer=user.id)


@router.post("/models", status_code=201, responses={**errors(413, 503), 201: JOB_HEADERS},
             openapi_extra={"requestBody": {"content": {"multipart/form-data": {"encoding": {
                 "file": {"contentType": "model/gltf-binary, application/zip, model/stl, application/octet-stream, "
                          "text/plain"}}}}}})
def upload_model(session: DbSession, user: CurrentUser, runtime: RuntimeDep, response: Response,
                 file: Annotated[UploadFile, File(description="GLB; glTF, or OBJ with its MTL and textures, as a "
                                                  "zip; STL; PLY; FBX.")]) -> ModelOut:
    """Add your own 3D file; a broken one is refused with the reason and nothing is kept."""
    model, job_id = uploading.upload(session, runtime, owner_id=user.id, source=file.file, filename=file.filename)
    response.headers[JOB_HEADER] = job_id
    return model_out(session, model, viewer=user.id, job_id=job_id)


@router.get("/models")
def list_my_models(session: DbSession, user: CurrentUser, page: Annotated[PageParams, Depends()],
                   sort: Literal["newest", "popular", "score"] = "newest") -> Page[ModelOut]:
    """Your own models, generating ones included."""
    listed = service.list_models(session, Scope.of(user), mine=True, sort=sort, limit=page.limit,
                                 offset=page.offset)
    return Page(items=[model_out(session, m, viewer=user.id) for m in listed.items], total=listed.total,
                limit=page.limit, offset=page.offset)


@router.get("/gallery", responses=errors(503))
def gallery(session: DbSession, user: MaybeUser, runtime: RuntimeDep, page: Annotated[PageParams, Depends()],
            sort: Literal["newest", "popular", "score"] = "newest",
            q: Annotated[str | None, Query(max_length=200, description="Find models by what they show or "
                                           "their prompt, in Korean or English.")] = None) -> Page[ModelOut]:
    """Public models and those your households share: newest, most liked or best scored; or found by text."""
    scope = Scope.of(user)
    viewer = user.id if user else None
    if q and q.strip():
        found, total = search.gallery_search(session, runtime, scope, q.strip(), limit=page.limit,
                                             offset=page.offset)
        return Page(items=[model_out(session, m, viewer=viewer) for m in found], total=total, limit=page.limit,
                    offset=page.offset)
    listed = service.list_models(session, scope, mine=False, sort=sort, limit=page.limit, offset=page.offset)
    return Page(items=[model_out(session, m, viewer=viewer) for m in listed.items], total=listed.total,
                limit=page.limit, offset=page.offset)


@router.get("/models/{model_id}")
def get_model(model_id: str, session: DbSession, user: MaybeUser) -> ModelOut:
    """One model you may see."""
    return model_out(session, service.get_model(session, Scope.of(user), model_id),
                     viewer=user.id if user else None)


@router.patch("/models/{model_id}", responses=errors(409))
def update_model(model_id: str, body: ModelPatch, session: DbSession, user: CurrentUser) -> ModelOut:
    """Rename or share one of your models (public puts it in the gallery)."""
    model = service.update_model(session, Scope.of(user), model_id, title=body.title, visibility=body.visibility,
                                 household_id=body.household_id)
    return model_out(session, model, viewer=user.id)


@router.delete("/models/{model_id}", status_code=204)
def delete_model(model_id: str, session: DbSession, user: CurrentUser, runtime: RuntimeDep) -> None:
    """Delete one of your models and all its files."""
    model = service.get_model(session, Scope.of(user), model_id, write=True)
    gen = service.generation_of(session, model.id)
    job = session.get(Job, gen.job_id) if gen and gen.job_id else None
    if job is not None and job.status not in ("succeeded", "failed", "canceled"):
        runtime.queue.cancel(session, job)
    service.delete_model(session, Scope.of(user), model_id)
    session.commit()
    uploading.forget(runtime, model_id)


def _stream(runtime: Runtime, row: StoredFile, filename: str, *, download: bool, media_type: str) -> StreamingResponse:
    blob = runtime.store.open(row.blob_key)

    def chunks():  # type: ignore[no-untyped-def]
        with blob:
            while block := blob.read(1024 * 1024):
                yield block

    disposition = "attachment" if download else "inline"
    headers = {"content-disposition": f"{disposition}; filename*=UTF-8''{quote(filename)}",
               "content-length": str(row.size), "cache-control": "private, max-age=3600",
               "x-content-type-options": "nosniff", "etag": f'"{row.blob_key}"'}
    return StreamingResponse(chunks(), media_type=media_type, headers=headers)


@router.get("/models/{model_id}/download", response_class=StreamingResponse, responses={200: MODEL_FILE})
def download_model(model_id: str, session: DbSession, user: MaybeUser, runtime: RuntimeDep,
                   format: Format = "glb", inline: bool = False) -> StreamingResponse:  # noqa: A002
    """The model in one stored format, named for Blender and Unity (`fire_truck_toy_1a2b3c4d.fbx`).

    OBJ comes as a zip with its MTL and textures; `inline=true` is for the viewer.
    """
    model = service.get_model(session, Scope.of(user), model_id)
    row = service.file_row(session, model, format)
    return _stream(runtime, row, service.download_name(model, format), download=not inline,
                   media_type=service.MEDIA_TYPES.get(format, row.content_type))


def _picture(session: Session, runtime: Runtime, model: StudioModel, file_id: str | None, kind: str
             ) -> StreamingResponse:
    row = session.get(StoredFile, file_id) if file_id else None
    if row is None:
        raise NotFound(f"This model has no {kind} yet", key="studio_picture_missing")
    return _stream(runtime, row, f"{service.ascii_slug(model.title) or 'model'}_{kind}.webp", download=False,
                   media_type="image/webp")


@router.get("/models/{model_id}/thumbnail", response_class=StreamingResponse, responses={200: IMAGE})
def model_thumbnail(model_id: str, session: DbSession, user: MaybeUser, runtime: RuntimeDep) -> StreamingResponse:
    """The model drawn from a three-quarter view, rendered on the server."""
    model = service.get_model(session, Scope.of(user), model_id)
    return _picture(session, runtime, model, model.thumbnail_file_id, "thumbnail")


@router.get("/models/{model_id}/turntable", response_class=StreamingResponse, responses={200: IMAGE})
def model_turntable(model_id: str, session: DbSession, user: MaybeUser, runtime: RuntimeDep) -> StreamingResponse:
    """The model turning once around, as an animated WebP."""
    model = service.get_model(session, Scope.of(user), model_id)
    return _picture(session, runtime, model, model.turntable_file_id, "turntable")


@router.put("/models/{model_id}/like")
def like_model(model_id: str, session: DbSession, user: CurrentUser) -> ModelOut:
    """Like a model you may see (again changes nothing)."""
    return model_out(session, service.set_like(session, Scope.of(user), model_id, True), viewer=user.id)


@router.delete("/models/{model_id}/like")
def unlike_model(model_id: str, session: DbSession, user: CurrentUser) -> ModelOut:
    """Take your like back."""
    return model_out(session, service.set_like(session, Scope.of(user), model_id, False), viewer=user.id)


@router.put("/models/{model_id}/rating")
def rate_model(model_id: str, body: RatingIn, session: DbSession, user: CurrentUser) -> ModelOut:
    """Rate a model 1..10: the aesthetic scorer learns from these ratings."""
    return model_out(session, service.rate(session, Scope.of(user), model_id, body.score), viewer=user.id)


@router.get("/shared/{share_token}/glb", response_class=StreamingResponse, responses={200: MODEL_FILE})
def shared_glb(share_token: str, session: DbSession, runtime: RuntimeDep) -> StreamingResponse:
    """The GLB of a model shared by an unlisted (or public) link, for the viewer on the shared page."""
    model = get_shared(session, StudioModel, share_token)
    return _stream(runtime, service.file_row(session, model, "glb"), service.download_name(model, "glb"),
                   download=False, media_type=service.MEDIA_TYPES["glb"])
