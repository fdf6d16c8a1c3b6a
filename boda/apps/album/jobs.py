"""Album's background work: indexing, captions and questions by the chat model, classifier training, the trash purge."""

from __future__ import annotations

from typing import Any

from boda.apps.album import service
from boda.apps.album.schemas import AskPayload, CaptionPayload, IndexPayload, TrainPayload
from boda.apps.album.settings import album_settings
from boda.core.auth import Scope
from boda.core.jobs import JobContext, Periodic, Queue, job
from boda.core.runtime import Runtime


@job("album.index", payload=IndexPayload, queue=Queue.heavy)
def index_job(ctx: JobContext, payload: IndexPayload) -> dict[str, Any]:
    """Complete and index photos just stored, with progress per photo (see indexing.index_photos)."""
    from boda.apps.album.indexing import index_photos

    def progress(done: int, total: int) -> None:
        ctx.progress(done / total, f"{done} of {total} photos", key="album.job.progress",
                     args={"done": done, "total": total})

    with ctx.runtime.db.session() as session:
        return index_photos(session, ctx.runtime, payload.photo_ids, progress)


@job("album.train_classifier", payload=TrainPayload, queue=Queue.heavy)
def train_classifier_job(ctx: JobContext, payload: TrainPayload) -> dict[str, Any]:
    """Train a user's classifier on its labelled photos' embeddings, keep it as a new version, apply it."""
    from boda.apps.album import classifying
    from boda.apps.album.models import Classifier

    ctx.progress(0.1, "Gathering the labelled photos", key="album.job.train_gather")
    with ctx.runtime.db.session() as session:
        classifier = session.get(Classifier, payload.classifier_id)
        if classifier is None:
            return {"classifier_id": payload.classifier_id, "deleted": True}
        version = classifying.train(session, ctx.runtime, classifier)
        result = {"classifier_id": classifier.id, "version": version.number, "accuracy": version.accuracy,
                  "folds": version.folds}
        session.commit()
    ctx.progress(1.0, f"Version {result['version']}: {round(100 * result['accuracy'])}% right",
                 key="album.job.train_done",
                 args={"version": result["version"], "percent": round(100 * result["accuracy"])})
    return result


def purge_trash(runtime: Runtime) -> int:
    """Delete photos trashed longer than `album.trash_days` (everyone's)."""
    days = album_settings(runtime.settings).trash_days
    with runtime.db.session() as session:
        return service.purge_expired(session, runtime, days=days)


def periodic(settings: Any) -> list[Periodic]:
    from boda.apps.album.indexing import reindex_stale

    album = album_settings(settings)
    return [Periodic("album.purge_trash", album.purge_seconds, purge_trash),
            Periodic("album.reindex", album.reindex_seconds, reindex_stale)]


@job("album.caption", payload=CaptionPayload, max_attempts=1)
def caption_job(ctx: JobContext, payload: CaptionPayload) -> dict[str, Any]:
    """Caption the owner's photos with the chat model (see captions.caption_photos; the SDK retries)."""
    from boda.apps.album import captions

    with ctx.runtime.db.session() as session:
        return captions.caption_photos(session, ctx.runtime, ctx.owner_id or "", payload.photo_ids,
                                       payload.language, captions.progress_of(ctx))


@job("album.ask", payload=AskPayload, max_attempts=1)
def ask_job(ctx: JobContext, payload: AskPayload) -> dict[str, Any]:
    """Answer one question about one photo; the answer is the job's result and is kept nowhere else."""
    from boda.apps.album import captions

    with ctx.runtime.db.session() as session:
        return captions.ask_photo(session, ctx.runtime, Scope(user_id=ctx.owner_id), payload.photo_id,
                                  payload.question, payload.language)
