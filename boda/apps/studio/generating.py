"""A generation as short steps of one job: enhance, start, poll, refine, fetch, process.

Each step stores what the next needs (the provider's task ids, the stage) on the
`Generation` row, then waits with `JobContext.wait`: the worker thread goes back to the
pool between polls, so a hundred generations in flight hold no thread, and the queue's
delayed message survives a restart (the next step polls the stored task id again).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import Session, object_session

from boda.apps.studio import formats, service
from boda.apps.studio.models import Generation, StudioModel
from boda.core.db import utcnow
from boda.core.errors import InvalidInput
from boda.core.jobs import JobContext
from boda.core.models import Job

log = logging.getLogger(__name__)
T = TypeVar("T")

# Progress (0..1) at the start of each stage; a provider's own percentage fills the span up to the next.
SPANS = {"enhance": (0.0, 0.05), "provider": (0.05, 0.8), "fetch": (0.8, 0.85), "process": (0.85, 1.0)}
OTHER_ASSETS = ("fbx", "usdz")  # an OBJ needs its MTL and textures: Boda zips its own


# Provider errors no retry can mend (boda.ai.generate3d's reasons); the others (down, timeout, 429) are retried.
PERMANENT = {"off", "auth", "payment", "not_found", "bad_request", "asset_missing", "too_large", "bad_output"}


def last_attempt(ctx: JobContext) -> bool:
    with ctx.runtime.db.session() as session:
        row = session.get(Job, ctx.job_id)
        return row is None or row.attempts >= row.max_attempts


PROCESS_POLL_SECONDS = 0.5


def start_processing(ctx: JobContext, session: Session, gen: Generation, model: StudioModel) -> None:
    """The pictures, formats and score are heavy work: a job of the heavy queue makes them, while this
    (light) job only follows it, so the generations' polling never waits behind a renderer."""
    from boda.apps.studio.jobs import ProcessPayload, process_job

    report(ctx, gen, "process", 0.0, "Preparing the files")
    job = ctx.runtime.queue.enqueue(session, process_job, payload=ProcessPayload(model_id=model.id),
                                    owner_id=model.owner_id, title=f"Prepare the 3D model {model.title}",
                                    title_key="studio.job.process_title", title_args={"title": model.title})
    gen.task_ids = {**gen.task_ids, "process_job": job.id}
    gen.stage = "processing"
    session.commit()  # immediate mode (tests, the CLI): the processing runs inside this commit


def follow_processing(ctx: JobContext, session: Session, gen: Generation, model: StudioModel
                      ) -> dict[str, Any] | None:
    """The processing job's result once it finished, its progress mirrored meanwhile (None: not yet)."""
    row = session.get(Job, gen.task_ids["process_job"], populate_existing=True)
    if row is None or row.status == "canceled":
        raise GenerationFailed("The model's processing was canceled", key="studio_generation_failed")
    if row.status == "failed":
        raise GenerationFailed(row.error or "Preparing the model's files failed", key="studio_generation_failed")
    if row.status == "succeeded":
        return dict(row.result or {})
    report(ctx, gen, "process", (row.progress or 0) / 100, row.message or "Preparing the files")
    return None


class GenerationFailed(InvalidInput):
    """The provider said no (a failed task, a refused prompt): trying the same again will not help."""


def run(coro: Awaitable[T]) -> T:
    """Run a provider's coroutine on a loop of this step's own (the providers' clients close with it)."""
    from boda.ai.generate3d import run_sync

    return run_sync(coro)  # type: ignore[arg-type]


def generator(ctx: JobContext, name: str) -> Any:
    return ctx.runtime.ai.get("generator_3d", name)


def report(ctx: JobContext, gen: Generation, stage: str, within: float, message: str) -> None:
    """Progress of the whole generation; the step's own writes are committed first (SQLite has one writer)."""
    start, end = SPANS[stage]
    gen.progress = round(start + (end - start) * max(0.0, min(1.0, within)), 4)
    session = object_session(gen)
    if session is not None:
        session.commit()
    ctx.progress(gen.progress, message, key=f"studio.job.{stage}", args={"percent": round(100 * within)})


def step(ctx: JobContext, generation_id: str) -> dict[str, Any]:
    """One step; returns the job's result when the model is ready, or waits (raises) until the next."""
    settings = service.studio_settings_of(ctx.runtime)
    with ctx.runtime.db.session() as session:
        gen = session.get(Generation, generation_id)
        model = session.get(StudioModel, gen.model_id) if gen else None
        if gen is None or model is None:
            return {"deleted": True}
        if gen.deadline_at is not None and utcnow() > gen.deadline_at:
            fail(session, model, "The provider did not finish in time")
            raise GenerationFailed("The provider did not finish in time", key="studio_generation_timeout")
        try:
            while True:
                if gen.stage == "start":
                    start(ctx, session, gen, model)
                elif gen.stage == "provider":
                    if not poll(ctx, session, gen, model):
                        session.commit()
                        ctx.wait(settings.poll_seconds)
                elif gen.stage == "fetch":
                    fetch(ctx, session, gen, model)
                elif gen.stage == "process":
                    start_processing(ctx, session, gen, model)
                elif gen.stage == "processing":
                    result = follow_processing(ctx, session, gen, model)
                    if result is None:
                        session.commit()
                        ctx.wait(PROCESS_POLL_SECONDS)
                    gen.stage = "done"
                    session.commit()
                    return {"model_id": model.id, **result}
                else:
                    return {"model_id": model.id}
                session.commit()
        except GenerationFailed as exc:
            session.rollback()
            fail(session, model, exc.message)
            raise
        except Exception as exc:
            session.rollback()
            reason = getattr(exc, "details", {}).get("reason") if isinstance(getattr(exc, "details", None), dict) \
                else None
            message = getattr(exc, "message", None) or str(exc)
            if reason in PERMANENT:  # retrying cannot help: fail now, with the provider's words
                fail(session, model, message)
                raise GenerationFailed(message, key="studio_generation_failed",
                                       details={"provider": gen.provider, "reason": reason}) from exc
            if last_attempt(ctx):
                fail(session, model, message)
            raise


def fail(session: Session, model: StudioModel, reason: str) -> None:
    model.status, model.error = "failed", reason
    session.commit()


def start(ctx: JobContext, session: Session, gen: Generation, model: StudioModel) -> None:
    request = dict(gen.request)
    if request.get("enhance") and not model.enhanced_prompt:
        report(ctx, gen, "enhance", 0.1, "Enhancing the prompt")
        model.enhanced_prompt = enhance_prompt(ctx, session, model)
        session.commit()
    prompt = model.enhanced_prompt or model.prompt
    gen.deadline_at = utcnow() + timedelta(seconds=service.studio_settings_of(ctx.runtime).generation_timeout_seconds)
    if gen.provider == "composer":
        report(ctx, gen, "provider", 0.1, "Composing primitives")
        glb, facts = compose(ctx, prompt)
        store_glb(session, ctx.runtime, model, glb, origin="provider")
        model.stats = {**(model.stats or {}), **facts}
        gen.stage = "process"
        return
    from boda.ai.generate3d import GenerationRequest

    provider = generator(ctx, gen.provider)
    task_id = run(provider.start(GenerationRequest(prompt=prompt, art_style=request.get("art_style"),
                                                   negative_prompt=request.get("negative_prompt"),
                                                   refine=bool(request.get("refine", True)))))
    gen.task_ids = {**gen.task_ids, "current": task_id, "first": task_id}
    gen.stage = "provider"
    report(ctx, gen, "provider", 0.0, "Queued at the provider")


def poll(ctx: JobContext, session: Session, gen: Generation, model: StudioModel) -> bool:
    """Ask the provider once; True when its work is over (the stage moved on to fetching)."""
    provider = generator(ctx, gen.provider)
    status = run(provider.poll(gen.task_ids["current"]))
    if status.task_id != gen.task_ids["current"]:  # Meshy's refine is a task of its own: keep its id
        gen.task_ids = {**gen.task_ids, "current": status.task_id}
    if status.status in ("failed", "canceled"):
        raise GenerationFailed(status.message or f"The provider's task {status.status}",
                               key="studio_generation_failed", details={"provider": gen.provider})
    queued = f" ({status.preceding_tasks} ahead)" if status.preceding_tasks else ""
    report(ctx, gen, "provider", status.progress / 100, f"{status.stage.capitalize()}: {status.progress}%{queued}")
    if status.status != "succeeded":
        return False
    gen.stage = "fetch"
    return True


def fetch(ctx: JobContext, session: Session, gen: Generation, model: StudioModel) -> None:
    provider = generator(ctx, gen.provider)
    task_id = gen.task_ids["current"]
    report(ctx, gen, "fetch", 0.0, "Fetching the files")
    assets = {asset.kind: asset for asset in run(provider.assets(task_id))}
    if "glb" not in assets:
        raise GenerationFailed("The provider gave no GLB file", key="studio_no_glb")
    glb = run(provider.download(assets["glb"]))
    store_glb(session, ctx.runtime, model, glb, origin="provider")
    stem = service.download_name(model, "glb").removesuffix(".glb")
    for kind in OTHER_ASSETS:
        if kind in assets:
            try:
                data = run(provider.download(assets[kind]))
            except Exception as exc:  # the GLB is what counts; Boda converts the others itself
                log.warning("generation %s: %s not fetched (%s)", gen.id, kind, exc)
                continue
            prepared = service.prepare_file(ctx.runtime.store, data, kind, stem=stem)
            service.record_files(session, model, service.StoredFormats({kind: (prepared, "provider")}))
    gen.stage = "process"
    report(ctx, gen, "fetch", 1.0, "Files fetched")


def store_glb(session: Session, runtime: Any, model: StudioModel, glb: bytes, *, origin: str) -> None:
    """Check the GLB like an upload (a provider's file is input too), then keep it and its stats."""
    settings = service.studio_settings_of(runtime)
    scene = formats.load_upload("model.glb", glb, service.limits_of(settings))
    model.stats = {**(model.stats or {}), **formats.stats(scene).as_dict()}
    stem = service.download_name(model, "glb").removesuffix(".glb")
    prepared = service.prepare_file(runtime.store, glb, "glb", stem=stem)
    service.record_files(session, model, service.StoredFormats({"glb": (prepared, origin)}))


def enhance_prompt(ctx: JobContext, session: Session, model: StudioModel) -> str:
    from boda.apps.studio import enhance

    chat = ctx.runtime.ai.chat()
    system = service.system_prompt_of(session, model.owner_id)
    return run(enhance.enhance(chat, model.prompt, system_prompt=system)).enhanced


def compose(ctx: JobContext, prompt: str) -> tuple[bytes, dict[str, Any]]:
    """The primitive composer: the LLM's scene when one is configured, else the nearest offline template."""
    from boda.ai.composer import PrimitiveComposer

    composition, glb = run(PrimitiveComposer.from_providers(ctx.runtime.ai).generate(prompt))
    facts = composition.as_dict()
    facts.pop("scene", None)
    return glb, {"composer": facts}
