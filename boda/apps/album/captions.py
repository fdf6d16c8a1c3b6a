"""Captions and "ask this photo" through the shared chat model (boda.ai.llm), as jobs.

Indexing already gives every photo a plain caption made offline from what the concepts
backend recognised (`caption_source = "concepts"`). With a chat model configured, the owner
may ask for a better one: `album.caption` stores it with `caption_source = "llm:<model>"`,
and a later re-index keeps it. A question about a photo is answered by `album.ask`; the
answer lives in that job's result only (the asker may be a household member, not the owner).

Both jobs run once: the SDK already retries timeouts, 429 and 5xx (`llm.max_retries`), so a
job that still fails says why at once rather than after minutes of backoff.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from boda.ai.llm import ChatModel, Language, LlmUnavailable, ask_image, describe_image, run_sync
from boda.apps.album import service
from boda.apps.album.indexing import UNDERSTAND_SIDE
from boda.apps.album.models import Photo
from boda.core.auth import Scope
from boda.core.jobs import JobContext
from boda.core.models import Job
from boda.core.runtime import Runtime

CAPTION_SOURCE_OFFLINE = "concepts"


def llm_source(chat: ChatModel) -> str:
    """`llm:<model>`: the model that reads images (the vision model when one is set)."""
    model = getattr(chat, "vision_model", "") or chat.model or chat.name
    return f"llm:{model}"[:64]


def require_chat(runtime: Runtime) -> ChatModel:
    """The configured chat model, or the provider's own `LlmUnavailable` (503, its reason in en and ko).

    An unavailable model raises its error on any call without touching the network, so
    asking it once gives the exact reason and key (llm_off, llm_missing) the provider uses.
    """
    chat = runtime.ai.chat()
    if chat.available:
        return chat
    try:
        run_sync(chat.chat([{"role": "user", "content": "-"}]))
    except LlmUnavailable:
        raise
    except Exception as exc:  # a provider that fails otherwise still means "no chat model here"
        raise LlmUnavailable(chat.reason or str(exc), details={"reason": "missing"}, key="llm_missing") from exc
    raise LlmUnavailable(chat.reason or "The chat model is unavailable", details={"reason": "off"}, key="llm_off")


def ocr_words(photo: Photo) -> list[dict[str, Any]]:
    """The words read in the photo, each with its box as fractions (x, y, w, h) of the upright photo.

    Photos indexed before boxes were stored as fractions hold pixels of the photo scaled to
    UNDERSTAND_SIDE; those are converted from the photo's size (exact unless EXIF turned it).
    """
    words = []
    for concept in photo.concepts or []:
        if not isinstance(concept, dict) or concept.get("kind") != "ocr" or not concept.get("box"):
            continue
        box = [float(v) for v in concept["box"]][:4]
        if len(box) < 4:
            continue
        if max(box) > 1.0:
            scale = min(1.0, UNDERSTAND_SIDE / max(photo.width, photo.height, 1))
            from boda.apps.album.indexing import fraction_box

            box = fraction_box(box, (round(photo.width * scale), round(photo.height * scale)))
        words.append({"text": str(concept.get("label", "")), "box": box, "confidence": concept.get("weight")})
    return words


Progress = Callable[[int, int], None]


def caption_photos(session: Session, runtime: Runtime, owner_id: str, photo_ids: Sequence[str], language: str,
                   progress: Progress) -> dict[str, Any]:
    """Caption the owner's photos with the chat model, one commit per photo; gone or foreign ids are skipped."""
    chat = require_chat(runtime)
    source = llm_source(chat)
    rows = {p.id: p for p in session.scalars(select(Photo).where(Photo.id.in_(list(photo_ids)),
                                                                 Photo.owner_id == owner_id))}
    captions: dict[str, str] = {}
    for done, photo_id in enumerate(photo_ids, start=1):
        photo = rows.get(photo_id)
        if photo is not None:
            with runtime.image_work:
                data = runtime.store.read(photo.blob_key)
            caption = run_sync(describe_image(chat, data, language, max_side=UNDERSTAND_SIDE))
            if caption:
                photo.caption, photo.caption_source = caption[:2000], source
                captions[photo.id] = photo.caption
            session.commit()  # one photo at a time: what was captioned stays if a later one fails
        progress(done, len(photo_ids))
    return {"captioned": len(captions), "captions": captions, "source": source, "language": language}


def ask_photo(session: Session, runtime: Runtime, scope: Scope, photo_id: str, question: str, language: str
              ) -> dict[str, Any]:
    """The chat model's answer to a question about one photo (not stored anywhere but the job's result).

    Checked again when the job runs: a photo made private (or trashed) while the question waited
    in the queue is no longer the asker's to ask about.
    """
    photo = service.get_photo(session, scope, photo_id)
    chat = require_chat(runtime)
    with runtime.image_work:
        data = runtime.store.read(photo.blob_key)
    answer = run_sync(ask_image(chat, data, question, language, max_side=UNDERSTAND_SIDE))
    return {"photo_id": photo.id, "question": question, "answer": answer, "language": language,
            "source": llm_source(chat)}


def queue_caption(session: Session, runtime: Runtime, *, owner_id: str, photo_ids: list[str], language: Language
                  ) -> Job:
    from boda.apps.album.jobs import caption_job
    from boda.apps.album.schemas import CaptionPayload

    count = len(photo_ids)
    return runtime.queue.enqueue(session, caption_job, owner_id=owner_id,
                                 payload=CaptionPayload(photo_ids=photo_ids, language=language),
                                 title=f"Caption {count} photo{'s' if count != 1 else ''}",
                                 title_key="album.job.caption", title_args={"count": count})


def queue_ask(session: Session, runtime: Runtime, *, asker_id: str, photo_id: str, question: str,
              language: Language) -> Job:
    from boda.apps.album.jobs import ask_job
    from boda.apps.album.schemas import AskPayload

    return runtime.queue.enqueue(session, ask_job, owner_id=asker_id,
                                 payload=AskPayload(photo_id=photo_id, question=question, language=language),
                                 title="Ask about a photo", title_key="album.job.ask")


def progress_of(ctx: JobContext) -> Progress:
    def progress(done: int, total: int) -> None:
        ctx.progress(done / total, f"{done} of {total} photos", key="album.job.progress",
                     args={"done": done, "total": total})

    return progress
