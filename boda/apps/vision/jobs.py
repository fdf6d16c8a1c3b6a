"""Vision's background jobs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from boda.apps.vision import service
from boda.apps.vision.models import Anonymization
from boda.apps.vision.schemas import AnonymizeBatch
from boda.core.jobs import JobContext, Queue, job
from boda.core.models import StoredFile


@job("vision.anonymize_batch", payload=AnonymizeBatch, queue=Queue.heavy)
def anonymize_batch(ctx: JobContext, payload: AnonymizeBatch) -> dict[str, Any]:
    """Anonymise each stored photo, reporting progress after each one."""
    options, file_ids = payload.options, payload.file_ids
    items: list[dict[str, Any]] = []
    faces = 0
    with ctx.runtime.db.session() as session:  # what an earlier attempt finished (a killed worker's)
        finished = set(session.scalars(select(Anonymization.original_id)
                                       .where(Anonymization.job_id == ctx.job_id)))
    for i, file_id in enumerate(file_ids):
        if file_id not in finished:  # a retry reports where the work is at once, not 0 %
            ctx.progress(i / len(file_ids), f"{i}/{len(file_ids)}")
        with ctx.runtime.db.session() as session:
            original = session.get(StoredFile, file_id)
            if original is None or original.owner_id != ctx.owner_id:
                items.append({"file_id": file_id, "error": "The photo was deleted"})
                continue
            # A retried job skips what an earlier attempt already finished.
            row = session.scalar(select(Anonymization).where(Anonymization.job_id == ctx.job_id,
                                                             Anonymization.original_id == file_id))
            row = row or service.anonymize_file(session, ctx.runtime, original, options, job_id=ctx.job_id)
            faces += len(row.faces)
            items.append({"anonymization_id": row.id, "faces": len(row.faces),
                          "anonymized_url": f"/api/v1/files/{row.anonymized_id}/content",
                          "original_url": f"/api/v1/files/{row.original_id}/content"})
    ctx.progress(1.0, f"{len(file_ids)}/{len(file_ids)}")
    return {"items": items, "photos": len(file_ids), "faces": faces}
