"""The household's own classifier: each household teaches Boda its groceries by confirming recognitions.

When a member confirms a photo recognition, every box of a kept candidate (renamed or not) becomes an
example: the crop's embedding from the image classifier (`features`, EfficientNet-Lite0's centred
logits) and the name the member kept, as the household calls it. A linear head (boda.ai.heads, transfer
learning on the frozen embeddings) is trained per household on them, in the background when enough new
examples came in or when asked, and kept as numbered versions with their cross-validated accuracy. The
newest version is one more recogniser in `recognise.py` ("household").

Everything is the household's: examples, versions and the trainings are looked up by household, and
anyone not a member gets a 404.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from boda.ai import heads
from boda.apps.pantry.models import HouseholdClassifier, Item, RecognitionExample
from boda.apps.pantry.recognise import HouseholdHead, _crop
from boda.apps.pantry.settings import pantry_settings
from boda.core import households, uploads
from boda.core.auth import Scope
from boda.core.errors import Conflict, Unavailable
from boda.core.models import Job, JobStatus, StoredFile
from boda.core.runtime import Runtime

KIND = "pantry.train_classifier"
log = logging.getLogger(__name__)


def embedder_of(classifier: Any) -> str | None:
    """The key of the classifier's embeddings, or None when it gives none (another provider)."""
    return getattr(classifier, "features_key", None) if hasattr(classifier, "features") else None


# --- examples ----------------------------------------------------------------------

def _candidate_for(candidates: list[dict[str, Any]], chosen: dict[str, Any]) -> dict[str, Any] | None:
    """The candidate a confirmed line came from: by its index when the page sent one (renamed lines), else
    the candidate of the same name (kept as offered)."""
    index = chosen.get("candidate")
    if index is not None:
        return candidates[index] if 0 <= index < len(candidates) else None
    name = chosen["name"].strip().casefold()
    return next((c for c in candidates if name in {c["name_ko"].casefold(), c["name_en"].casefold()}), None)


def record_examples(session: Session, runtime: Runtime, recognition: Job, chosen: list[dict[str, Any]],
                    items: list[Item]) -> int:
    """The confirmed boxes of a photo recognition as examples of the household's labels; how many were kept.

    A receipt's boxes are lines of text and a candidate without a box (the whole photo, the chat model)
    says nothing about what a box looks like: neither teaches anything.
    """
    from boda.apps.pantry.recognitions import KIND as RECOGNISE

    classifier = runtime.ai.image_classifier()
    embedder = embedder_of(classifier)
    candidates = (recognition.result or {}).get("candidates", [])
    wanted, used = [], []
    for line, item in zip(chosen, items, strict=True):
        candidate = _candidate_for(candidates, line)
        if any(candidate is u for u in used):  # one candidate kept on two lines teaches once
            continue
        used.append(candidate)
        boxes = (candidate or {}).get("boxes") or ([candidate["box"]] if candidate and candidate.get("box") else [])
        wanted += [(item.name_ko or item.name.strip(), box) for box in boxes]
    file = session.get(StoredFile, recognition.payload["file_id"])
    if recognition.kind != RECOGNISE or embedder is None or not wanted or file is None:
        return 0
    with runtime.image_work:
        rgb = np.asarray(uploads.load_image(runtime.store, file).convert("RGB"))
        for label, box in wanted:
            crop = _crop(rgb, tuple(box))  # type: ignore[arg-type]
            if crop.size == 0:
                continue
            vector = classifier.features(np.ascontiguousarray(crop[:, :, ::-1]))
            session.add(RecognitionExample(household_id=recognition.payload["household_id"], label=label[:128],
                                           embedder=embedder, embedding=np.asarray(vector, np.float32).tobytes(),
                                           file_id=file.id, recognition_id=recognition.id, box=list(box)))
    session.flush()
    return len(wanted)


def learn(session: Session, runtime: Runtime, recognition: Job, chosen: list[dict[str, Any]], items: list[Item],
          user_id: str) -> int:
    """After a confirmation: record its examples and queue a training when enough came in; how many were kept.

    Learning is a side benefit of confirming: a classifier whose weights are missing or a queue that is down
    leaves the items made and teaches nothing this time (logged), rather than refusing the confirmation.
    """
    count = 0
    try:
        # The model loads before the first example is added, and the queue is checked before its job row:
        # what fails leaves nothing half-made (at worst examples kept whose training waits for the next one).
        count = record_examples(session, runtime, recognition, chosen, items)
        if count:
            maybe_train(session, runtime, recognition.payload["household_id"], user_id)
    except Unavailable as exc:
        log.warning("pantry: confirmed boxes not learnt from: %s", exc)
    return count


def _examples(session: Session, household_id: str, embedder: str) -> tuple[np.ndarray, list[str]]:
    rows = session.execute(select(RecognitionExample.embedding, RecognitionExample.label)
                           .where(RecognitionExample.household_id == household_id,
                                  RecognitionExample.embedder == embedder)
                           .order_by(RecognitionExample.created_at, RecognitionExample.id)).all()
    if not rows:
        return np.zeros((0, 0), np.float32), []
    return np.stack([np.frombuffer(e, np.float32) for e, _ in rows]), [label for _, label in rows]


def example_counts(session: Session, household_id: str, embedder: str | None) -> dict[str, int]:
    rows = session.execute(select(RecognitionExample.label, func.count())
                           .where(RecognitionExample.household_id == household_id,
                                  RecognitionExample.embedder == (embedder or ""))
                           .group_by(RecognitionExample.label))
    return {label: int(n) for label, n in sorted(rows)}


# --- versions ------------------------------------------------------------------------

def latest(session: Session, household_id: str, embedder: str | None) -> HouseholdClassifier | None:
    """The newest version trained on the embeddings the classifier gives now (older embedders' are stale)."""
    return session.scalar(select(HouseholdClassifier).where(HouseholdClassifier.household_id == household_id,
                                                            HouseholdClassifier.embedder == (embedder or ""))
                          .order_by(HouseholdClassifier.version.desc()).limit(1))


def head_for(session: Session, household_id: str, classifier: Any) -> HouseholdHead | None:
    """What recognition asks, or None while the household has trained nothing for this embedder."""
    row = latest(session, household_id, embedder_of(classifier))
    if row is None:
        return None
    return HouseholdHead(heads.LinearHead.from_json(row.head), heads.Prototypes.from_json(row.prototypes),
                         row.version)


def training_job(session: Session, household_id: str) -> Job | None:
    return session.scalar(select(Job).where(Job.kind == KIND,
                                            Job.payload["household_id"].as_string() == household_id)
                          .order_by(Job.created_at.desc()).limit(1))


# --- training --------------------------------------------------------------------------

def _refuse(exc: heads.TrainingDataError) -> Conflict:
    """409, not 400: the request is right, the household has not confirmed enough yet (as Album does)."""
    if exc.reason == "too_few_classes":
        return Conflict("Confirm photos of at least two different groceries before training",
                        key="pantry_classifier_too_few_labels", details=exc.details)
    short = ", ".join(exc.details.get("classes", []))
    return Conflict(f"Confirm at least {exc.details.get('needed', heads.MIN_PER_CLASS)} boxes of each grocery "
                    f"before training (too few: {short})", key="pantry_classifier_too_few_examples",
                    details={**exc.details, "short": short})


def check_ready(session: Session, household_id: str, embedder: str | None) -> None:
    labels = [label for label, n in example_counts(session, household_id, embedder).items() for _ in range(n)]
    try:
        heads.check_training_data(labels)
    except heads.TrainingDataError as exc:
        raise _refuse(exc) from exc


def _enqueue(session: Session, runtime: Runtime, household_id: str, owner_id: str | None) -> Job:
    from boda.apps.pantry.jobs import TrainPayload, train_classifier_job

    return runtime.queue.enqueue(session, train_classifier_job, owner_id=owner_id,
                                 payload=TrainPayload(household_id=household_id),
                                 title="Train the household's grocery classifier", title_key="pantry.job.train")


def start_training(session: Session, runtime: Runtime, scope: Scope, household_id: str) -> Job:
    """Queue a training of the caller's household (404 when not a member; 409 with the reason when the
    examples cannot train one yet)."""
    user_id = scope.require_user()
    households.membership(session, household_id=household_id, user_id=user_id)
    check_ready(session, household_id, embedder_of(runtime.ai.image_classifier()))
    return _enqueue(session, runtime, household_id, user_id)


def maybe_train(session: Session, runtime: Runtime, household_id: str, owner_id: str | None) -> Job | None:
    """After a confirmation: queue a training when enough examples came in since the last one, every label
    has enough, and none is waiting already."""
    embedder = embedder_of(runtime.ai.image_classifier())
    counts = example_counts(session, household_id, embedder)
    current = latest(session, household_id, embedder)
    new = sum(counts.values()) - (current.examples if current else 0)
    if new < pantry_settings(runtime.settings).classifier_retrain_examples:
        return None
    try:
        heads.check_training_data([label for label, n in counts.items() for _ in range(n)])
    except heads.TrainingDataError:
        return None
    pending = training_job(session, household_id)
    if pending is not None and pending.status in (JobStatus.queued, JobStatus.running):
        return None
    return _enqueue(session, runtime, household_id, owner_id)


def train(session: Session, runtime: Runtime, household_id: str) -> HouseholdClassifier:
    """Fit a new version on every example of the household (for the current embedder) and keep it."""
    embedder = embedder_of(runtime.ai.image_classifier())
    vectors, labels = _examples(session, household_id, embedder or "")
    try:
        report = heads.train(vectors, labels)
    except heads.TrainingDataError as exc:  # examples gone since the request was accepted
        raise _refuse(exc) from exc
    number = (session.scalar(select(func.max(HouseholdClassifier.version))
                             .where(HouseholdClassifier.household_id == household_id)) or 0) + 1
    row = HouseholdClassifier(household_id=household_id, version=number, embedder=embedder or "",
                              head=report.head.to_json(), prototypes=heads.Prototypes.fit(vectors, labels).to_json(),
                              accuracy=round(report.accuracy, 4), folds=report.folds, counts=report.counts,
                              examples=len(labels))
    session.add(row)
    session.flush()
    return row


def state(session: Session, runtime: Runtime, scope: Scope, household_id: str) -> dict[str, Any]:
    """What the household has taught and what it trained: examples per label, the newest version, the training."""
    user_id = scope.require_user()
    households.membership(session, household_id=household_id, user_id=user_id)
    embedder = embedder_of(runtime.ai.image_classifier())
    counts = example_counts(session, household_id, embedder)
    current = latest(session, household_id, embedder)
    job = training_job(session, household_id)
    try:
        heads.check_training_data(list(Counter(counts).elements()))
        ready, reason = True, None
    except heads.TrainingDataError as exc:
        ready, reason = False, exc.reason
    return {"household_id": household_id, "embedder": embedder, "examples": counts,
            "new_examples": sum(counts.values()) - (current.examples if current else 0),
            "ready": ready, "not_ready_reason": reason,
            "version": None if current is None else {
                "version": current.version, "classes": current.head["classes"], "accuracy": current.accuracy,
                "folds": current.folds, "counts": current.counts, "examples": current.examples,
                "created_at": current.created_at},
            "training": None if job is None else {"id": job.id, "status": str(job.status)}}
