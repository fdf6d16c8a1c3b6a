"""Vision's background jobs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from boda.apps.vision import service
from boda.apps.vision.models import Anonymization
from boda.apps.vision.schemas import AnonymizeBatch, AnonymizeVideo
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


@job("vision.anonymize_video", payload=AnonymizeVideo, queue=Queue.heavy)
def anonymize_video(ctx: JobContext, payload: AnonymizeVideo) -> dict[str, Any]:
    """Cover every face in a stored video; the copy is stored beside it, progress counts frames."""
    import tempfile
    from pathlib import Path

    from boda.apps.vision import video
    from boda.apps.vision.settings import vision_settings
    from boda.core import uploads
    from boda.core.errors import NotFound
    from boda.core.storage import spool

    runtime, options = ctx.runtime, payload.options
    vs = vision_settings(runtime.settings)
    with runtime.db.session() as session:
        original = session.get(StoredFile, payload.file_id)
        if original is None or original.owner_id != ctx.owner_id:
            raise NotFound("The video was deleted", key="video_deleted")
        blob_key, filename = original.blob_key, original.filename
    with tempfile.TemporaryDirectory(prefix="boda-video-") as tmp:
        source, target = Path(tmp) / "in", Path(tmp) / "out"
        with runtime.store.open(blob_key) as blob, source.open("wb") as out:
            while block := blob.read(1024 * 1024):
                out.write(block)
        info = video.probe(source, **service.video_limits(runtime.settings))

        def progress(done: int, total: int) -> None:
            ctx.progress(min(done / total, 0.99) if done < total else 0.99, f"{done} of {total} frames",
                         key="vision.job.frames", args={"done": done, "total": total})

        progress(0, info.frames)
        report = video.cover_video(source, target, info, runtime.ai.face_detector(options.detector),
                                   method=options.method, strength=options.strength, threshold=options.threshold,
                                   hold_frames=vs.video_hold_frames, margin=vs.video_box_margin,
                                   progress=progress, progress_every=0.0)
        made = video.probe(target, max_seconds=float("inf"), max_pixels=2**62)
        with target.open("rb") as data:
            spooled = spool(data, max_bytes=2**62)
        try:
            existed = runtime.store.exists(spooled.sha256)
            key = runtime.store.put_spooled(spooled)
        finally:
            spooled.discard()
    prepared = uploads.PreparedFile(blob_key=key, created=not existed, size=spooled.size,
                                    filename=video.output_name(filename, report.container),
                                    content_type=made.content_type, width=made.width, height=made.height)
    with runtime.db.session() as session:
        row = uploads.record(session, prepared, owner_id=ctx.owner_id or "", app=service.APP,
                             derived_from_id=payload.file_id)
        file_id = row.id
    ctx.progress(1.0, f"{report.frames} of {report.frames} frames", key="vision.job.frames",
                 args={"done": report.frames, "total": report.frames})
    return {"file_id": file_id, "download_url": service.video_url(ctx.job_id),
            "anonymized_url": f"/api/v1/files/{file_id}/content", "frames": report.frames,
            "frames_with_faces": report.frames_with_faces, "detections": report.detections,
            "held_boxes": report.held, "seconds": round(report.seconds, 2),
            "fps_processed": round(report.frames / report.seconds, 2) if report.seconds else None,
            "container": report.container, "encoder": report.video_codec, "audio_copied": report.audio_copied,
            "audio_left_out": info.audio_unreadable,
            "input": video.describe(info), "output": video.describe(made)}
