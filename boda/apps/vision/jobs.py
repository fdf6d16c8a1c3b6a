"""Vision's background jobs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from boda.apps.vision import service
from boda.apps.vision.models import Anonymization
from boda.apps.vision.schemas import AnonymizeBatch
from boda.core.jobs import JobContext, Queue, job
from boda.core.models import Job, StoredFile


@job("vision.anonymize_batch", payload=AnonymizeBatch, queue=Queue.heavy)
def anonymize_batch(ctx: JobContext, payload: AnonymizeBatch) -> dict[str, Any]:
    """Anonymise each stored photo, reporting progress after each one.

    The result grows with each photo, written in the photo's own transaction, so a
    batch canceled or failed half way still lists (and zips) what it made.
    """
    options, file_ids = payload.options, payload.file_ids
    items: list[dict[str, Any]] = []
    faces = 0

    def result() -> dict[str, Any]:
        return {"items": list(items), "photos": len(file_ids), "done": len(items), "faces": faces,
                "download_url": service.batch_zip_url(ctx.job_id)}

    with ctx.runtime.db.session() as session:  # what an earlier attempt finished (a killed worker's)
        finished = set(session.scalars(select(Anonymization.original_id)
                                       .where(Anonymization.job_id == ctx.job_id)))
    for i, file_id in enumerate(file_ids):
        if file_id not in finished:  # a retry reports where the work is at once, not 0 %
            ctx.progress(i / len(file_ids), f"{i} of {len(file_ids)} photos", key="vision.job.progress",
                         args={"done": i, "total": len(file_ids)})
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
            session.execute(update(Job).where(Job.id == ctx.job_id).values(result=result()))
    ctx.progress(1.0, f"{len(file_ids)} of {len(file_ids)} photos", key="vision.job.progress",
                 args={"done": len(file_ids), "total": len(file_ids)})
    return result()
