"""3D Studio's background work: a generation's steps, and preparing a stored model's files."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from boda.core.errors import InvalidInput
from boda.core.jobs import JobContext, Queue, job


class GeneratePayload(BaseModel):
    generation_id: str


class ProcessPayload(BaseModel):
    model_id: str


@job("studio.generate", payload=GeneratePayload)
def generate_job(ctx: JobContext, payload: GeneratePayload) -> dict[str, Any]:
    """Enhance, start at the provider, poll (waiting between polls), fetch, then follow the heavy job
    that prepares the files: short steps on the default queue, one job id for the whole story."""
    from boda.apps.studio import generating

    return generating.step(ctx, payload.generation_id)


@job("studio.process", payload=ProcessPayload, queue=Queue.heavy)
def process_job(ctx: JobContext, payload: ProcessPayload) -> dict[str, Any]:
    """Thumbnail, turntable, other formats, score and search vector of an uploaded model."""
    from boda.apps.studio import generating, processing
    from boda.apps.studio.models import StudioModel

    with ctx.runtime.db.session() as session:
        model = session.get(StudioModel, payload.model_id)
        if model is None:
            return {"deleted": True}
        try:
            return {"model_id": model.id, **processing.process_model(
                session, ctx.runtime, model,
                lambda fraction, message: ctx.progress(fraction, message, key="studio.job.process",
                                                       args={"percent": round(100 * fraction)}))}
        except Exception as exc:
            # Out of attempts (or input no retry mends): the model says it failed instead of staying "processing".
            if isinstance(exc, InvalidInput) or generating.last_attempt(ctx):
                session.rollback()
                generating.fail(session, model, getattr(exc, "message", None) or "Preparing the model's files failed")
            raise
