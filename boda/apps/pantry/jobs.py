"""Pantry's background work: recognising a photo's ingredients, training the household's classifier, the digest."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field

from boda.core.jobs import JobContext, Periodic, Queue, job

STEPS = {"detector": ("Looking for food", "pantry.job.detect"),
         "classifier": ("Naming what was found", "pantry.job.classify"),
         "llm": ("Asking the chat model", "pantry.job.llm"),
         "ocr": ("Reading the receipt", "pantry.job.ocr"),
         "done": ("Done", "pantry.job.done")}


class RecognisePayload(BaseModel):
    household_id: str = Field(max_length=36)
    file_id: str = Field(max_length=36)


@job("pantry.recognise", payload=RecognisePayload, queue=Queue.heavy, max_attempts=1)
def recognise_job(ctx: JobContext, payload: RecognisePayload) -> dict[str, Any]:
    """Photo → ingredient candidates (see recognise.py); runs once: a chat model's failure is in the result."""
    from boda.apps.pantry import recognitions

    def progress(fraction: float, step: str) -> None:
        message, key = STEPS[step]
        ctx.progress(fraction, message, key=key)

    with ctx.runtime.db.session() as session:
        return recognitions.run(session, ctx.runtime, payload.household_id, payload.file_id, progress)


@job("pantry.receipt", payload=RecognisePayload, queue=Queue.heavy, max_attempts=1)
def receipt_job(ctx: JobContext, payload: RecognisePayload) -> dict[str, Any]:
    """Receipt photo → ingredient candidates with amounts (see receipts.py), read like a recognition."""
    from boda.apps.pantry import recognitions

    def progress(fraction: float, step: str) -> None:
        message, key = STEPS[step]
        ctx.progress(fraction, message, key=key)

    with ctx.runtime.db.session() as session:
        return recognitions.run_receipt(session, ctx.runtime, payload.household_id, payload.file_id, progress)


class DigestPayload(BaseModel):
    user_id: str = Field(max_length=36)
    day: date


@job("pantry.digest_mail", payload=DigestPayload)
def digest_mail_job(ctx: JobContext, payload: DigestPayload) -> dict[str, Any]:
    """One person's daily digest e-mail (see digest.send_digest); a mail server that fails is retried."""
    from boda.apps.pantry import digest

    return digest.send_digest(ctx.runtime, payload.user_id, payload.day)


def periodic(settings: Any) -> list[Periodic]:
    """The digest check: every few minutes, queue the e-mails due (nothing while smtp.url is empty)."""
    from boda.apps.pantry import digest

    return [Periodic("pantry.digest", digest.CHECK_SECONDS, digest.queue_digests)]


class TrainPayload(BaseModel):
    household_id: str = Field(max_length=36)


@job("pantry.train_classifier", payload=TrainPayload, queue=Queue.heavy, max_attempts=1)
def train_classifier_job(ctx: JobContext, payload: TrainPayload) -> dict[str, Any]:
    """Train the household's own classifier on its confirmed boxes and keep it as a new version (household.py)."""
    from boda.apps.pantry import household

    ctx.progress(0.1, "Gathering the confirmed boxes", key="pantry.job.train_gather")
    with ctx.runtime.db.session() as session:
        row = household.train(session, ctx.runtime, payload.household_id)
        result = {"household_id": payload.household_id, "version": row.version, "accuracy": row.accuracy,
                  "folds": row.folds, "examples": row.examples}
        session.commit()
    percent = round(100 * result["accuracy"])
    ctx.progress(1.0, f"Version {result['version']}: {percent}% right", key="pantry.job.train_done",
                 args={"version": result["version"], "percent": percent})
    return result
