"""A user's own 3D file in: checked, converted to the canonical GLB, stored, then prepared by a job."""

from __future__ import annotations

import logging
from pathlib import PurePosixPath
from typing import BinaryIO

from sqlalchemy.orm import Session

from boda.apps.studio import formats, processing, service
from boda.apps.studio.jobs import GeneratePayload, ProcessPayload, generate_job, process_job
from boda.apps.studio.models import Generation, StudioModel
from boda.apps.studio.settings import studio_settings
from boda.core import uploads
from boda.core.auth import Scope
from boda.core.errors import InvalidInput
from boda.core.runtime import Runtime
from boda.core.storage import spool

log = logging.getLogger(__name__)

# Uploaded formats kept beside the GLB as they came (downloads give the user's own file back).
KEPT_AS_IS = {".fbx": "fbx", ".stl": "stl", ".ply": "ply", ".usdz": "usdz"}


def read_upload(source: BinaryIO, *, max_bytes: int) -> bytes:
    spooled = spool(source, max_bytes=max_bytes)
    try:
        if spooled.size == 0:
            raise InvalidInput("The file is empty", key="empty_file")
        return spooled.path.read_bytes()
    finally:
        spooled.discard()


def upload(session: Session, runtime: Runtime, *, owner_id: str, source: BinaryIO, filename: str | None
           ) -> tuple[StudioModel, str]:
    """Check and store a 3D file; returns the model and the job preparing its pictures and formats."""
    settings = studio_settings(runtime.settings)
    name = uploads.safe_filename(filename)
    data = read_upload(source, max_bytes=settings.max_upload_bytes)
    scene = formats.load_upload(name, data, service.limits_of(settings))
    glb = formats.to_glb(scene)
    stats = formats.stats(scene).as_dict()
    title = PurePosixPath(name).stem[:200] or "model"
    prepared: list[uploads.PreparedFile] = []
    try:
        model = service.create_model(session, owner_id=owner_id, source="upload", title=title,
                                     original_filename=name, stats=stats, provider="upload")
        stem = service.download_name(model, "glb").removesuffix(".glb")
        files = {"glb": (service.prepare_file(runtime.store, glb, "glb", stem=stem),
                         "upload" if name.lower().endswith(".glb") else "converted")}
        kept = KEPT_AS_IS.get(PurePosixPath(name.lower()).suffix)
        if kept:
            files[kept] = (service.prepare_file(runtime.store, data, kept, stem=stem), "upload")
        prepared = [p for p, _ in files.values()]
        service.record_files(session, model, service.StoredFormats(files))
        job = runtime.queue.enqueue(session, process_job, payload=ProcessPayload(model_id=model.id), owner_id=owner_id,
                                    title=f"Prepare the 3D model {title}", title_key="studio.job.process_title",
                                    title_args={"title": title})
        session.commit()
    except Exception:
        session.rollback()
        uploads.discard_prepared(runtime.db, prepared)
        raise
    return model, job.id


def tell_provider_cancel(runtime: Runtime, gen: Generation) -> None:
    """Best effort: a provider that cannot cancel keeps working, and its result is never fetched."""
    task_id = gen.task_ids.get("current")
    if not task_id or gen.provider == "composer":
        return
    try:
        from boda.ai.llm import run_sync

        run_sync(runtime.ai.get("generator_3d", gen.provider).cancel(task_id))
    except Exception as exc:
        log.info("generation %s: the provider was not told to cancel (%s)", gen.id, exc)


def forget(runtime: Runtime, model_id: str) -> None:
    processing.forget_vectors(runtime, model_id)


def start_generation(session: Session, runtime: Runtime, scope: Scope, *, prompt: str, provider: str | None,
                     providers: set[str], enhance: bool = False, enhanced_prompt: str | None = None,
                     art_style: str | None = None, refine: bool = True, remix_of: str | None = None,
                     commit: bool = True) -> tuple[StudioModel, str]:
    """The model (status generating), its generation and the job that makes it, committed together.

    In immediate mode (tests, the CLI) the job runs inside that commit; `commit=False` leaves it
    to the caller, who learns the job's id first (to follow its progress).
    """
    owner_id = scope.require_user()
    provider = provider or runtime.settings.generate3d.provider
    if provider not in providers:
        raise InvalidInput(f"Unknown provider {provider!r}; use one of {', '.join(sorted(providers))}",
                           key="studio_unknown_provider", details={"providers": sorted(providers)})
    remix_id = service.get_model(session, scope, remix_of).id if remix_of else None
    enhanced = (enhanced_prompt or "").strip() or None
    model = service.create_model(session, owner_id=owner_id, source="generation", title=service.title_of(prompt),
                                 prompt=prompt.strip(), provider=provider, status="generating",
                                 enhanced_prompt=enhanced, remix_of_id=remix_id,
                                 fidelity="low" if provider == "composer" else "high")
    gen = Generation(owner_id=owner_id, model_id=model.id, provider=provider,
                     request={"enhance": enhance and enhanced is None, "art_style": art_style, "refine": refine})
    session.add(gen)
    session.flush()
    job = runtime.queue.enqueue(session, generate_job, payload=GeneratePayload(generation_id=gen.id),
                                owner_id=owner_id, title=f"Make a 3D model: {model.title}",
                                title_key="studio.job.title", title_args={"title": model.title})
    gen.job_id = job.id
    job_id = job.id
    if commit:
        session.commit()
    return model, job_id
