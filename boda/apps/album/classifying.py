"""Users' own classifiers as stored things: classes, labelled photos, trained versions, tags they apply.

The learning itself is pure (boda.ai.heads); this module gathers the labelled
photos' embeddings from the vector store, keeps each training as a version, and applies the
active version as tags (source "classifier", score = probability) on the owner's photos.
A classifier is its owner's alone: every lookup is by owner, and anyone else gets a 404.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from boda.ai import heads as classifiers
from boda.apps.album import service
from boda.apps.album.indexing import space_for
from boda.apps.album.models import Classifier, ClassifierExample, ClassifierVersion, Photo, PhotoTag, Tag
from boda.apps.album.settings import album_settings
from boda.core.errors import Conflict, NotFound
from boda.core.listing import Listed, paginate
from boda.core.models import Job
from boda.core.runtime import Runtime

TAG_SOURCE = "classifier"


def current_key(runtime: Runtime) -> str:
    return str(runtime.ai.get("image_text_embedder").key)


# --- classifiers -------------------------------------------------------------

def create(session: Session, *, owner_id: str, name: str, classes: Sequence[str]) -> Classifier:
    """Classes are kept as tag names (trimmed, case-folded), in the order given, without repeats."""
    names = list(dict.fromkeys(n for n in (service.normalize_tag(c) for c in classes) if n))
    if len(names) < classifiers.MIN_CLASSES:  # e.g. "Cat" and "cat ": one tag, so one class
        raise Conflict("A classifier needs at least two different classes (as tags, case and spaces aside)",
                       key="classifier_classes", details={"needed": classifiers.MIN_CLASSES})
    row = Classifier(owner_id=owner_id, name=name.strip() or name, classes=names)
    session.add(row)
    session.flush()
    return row


def get(session: Session, *, owner_id: str, classifier_id: str) -> Classifier:
    row = session.scalar(select(Classifier).where(Classifier.id == classifier_id, Classifier.owner_id == owner_id))
    if row is None:
        raise NotFound(f"No classifier with id {classifier_id}", key="classifier_not_found")
    return row


def list_for(session: Session, *, owner_id: str) -> list[Classifier]:
    return list(session.scalars(select(Classifier).where(Classifier.owner_id == owner_id)
                                .order_by(Classifier.created_at.desc(), Classifier.id)))


def remove(session: Session, *, owner_id: str, classifier_id: str) -> None:
    """The classifier, its examples and versions go, and so do the tags it applied (users' own tags stay)."""
    row = get(session, owner_id=owner_id, classifier_id=classifier_id)
    clear_tags(session, row)
    session.execute(delete(ClassifierExample).where(ClassifierExample.classifier_id == row.id))
    session.execute(delete(ClassifierVersion).where(ClassifierVersion.classifier_id == row.id))
    session.delete(row)
    session.flush()


def versions(session: Session, classifier_id: str) -> list[ClassifierVersion]:
    return list(session.scalars(select(ClassifierVersion).where(ClassifierVersion.classifier_id == classifier_id)
                                .order_by(ClassifierVersion.number.desc())))


def get_version(session: Session, classifier: Classifier, number: int) -> ClassifierVersion:
    row = session.scalar(select(ClassifierVersion).where(ClassifierVersion.classifier_id == classifier.id,
                                                         ClassifierVersion.number == number))
    if row is None:
        raise NotFound(f"No version {number} of this classifier", key="classifier_version_not_found")
    return row


def example_counts(session: Session, classifier_id: str) -> dict[str, int]:
    rows = session.execute(select(ClassifierExample.label, func.count()).where(
        ClassifierExample.classifier_id == classifier_id).group_by(ClassifierExample.label))
    return {label: int(n) for label, n in rows}


def examples(session: Session, classifier_id: str) -> list[ClassifierExample]:
    return list(session.scalars(select(ClassifierExample).where(ClassifierExample.classifier_id == classifier_id)
                                .order_by(ClassifierExample.label, ClassifierExample.photo_id)))


def training_job(session: Session, classifier_id: str) -> Job | None:
    """The newest training of this classifier, if any (the page shows its progress)."""
    return session.scalar(select(Job).where(Job.kind == "album.train_classifier",
                                            Job.payload["classifier_id"].as_string() == classifier_id)
                          .order_by(Job.created_at.desc()).limit(1))


# --- labelling ---------------------------------------------------------------

def pickable_photos(session: Session, *, owner_id: str, limit: int, offset: int) -> Listed[Photo]:
    """What may be labelled: the owner's own indexed photos (not a household's), newest taken first."""
    query = (select(Photo).where(Photo.owner_id == owner_id, Photo.trashed_at.is_(None), Photo.index_key.is_not(None))
             .order_by(Photo.taken_at.desc(), Photo.id.desc()))
    return paginate(session, query, limit=limit, offset=offset)


def add_examples(session: Session, *, owner_id: str, classifier_id: str, photo_ids: Sequence[str],
                 label: str) -> Classifier:
    """Label the caller's own indexed photos; other ids (someone else's, trashed, not indexed) are skipped.

    A photo has one label per classifier: labelling it again moves it to the new class.
    """
    row = get(session, owner_id=owner_id, classifier_id=classifier_id)
    name = service.normalize_tag(label)
    if name not in row.classes:
        raise Conflict(f"{label!r} is not one of this classifier's classes", key="classifier_label_unknown",
                       details={"classes": row.classes})
    found = set(session.scalars(select(Photo.id).where(Photo.id.in_(list(photo_ids)), Photo.owner_id == owner_id,
                                                       Photo.trashed_at.is_(None), Photo.index_key.is_not(None))))
    present = {e.photo_id: e for e in session.scalars(select(ClassifierExample).where(
        ClassifierExample.classifier_id == row.id, ClassifierExample.photo_id.in_(list(found))))}
    for photo_id in dict.fromkeys(p for p in photo_ids if p in found):
        if photo_id in present:
            present[photo_id].label = name
        else:
            session.add(ClassifierExample(classifier_id=row.id, photo_id=photo_id, label=name))
    session.flush()
    return row


def remove_examples(session: Session, *, owner_id: str, classifier_id: str, photo_ids: Sequence[str]) -> Classifier:
    row = get(session, owner_id=owner_id, classifier_id=classifier_id)
    session.execute(delete(ClassifierExample).where(ClassifierExample.classifier_id == row.id,
                                                    ClassifierExample.photo_id.in_(list(photo_ids))))
    session.flush()
    return row


# --- training ----------------------------------------------------------------

def _training_set(session: Session, runtime: Runtime, classifier: Classifier
                  ) -> tuple[list[str], np.ndarray, list[str]]:
    """The labelled photos that have an embedding from the current embedder: ids, vectors, labels."""
    key = current_key(runtime)
    space = space_for(key)
    rows = session.execute(select(ClassifierExample.photo_id, ClassifierExample.label)
                           .join(Photo, Photo.id == ClassifierExample.photo_id)
                           .where(ClassifierExample.classifier_id == classifier.id, Photo.trashed_at.is_(None),
                                  Photo.index_key == key).order_by(ClassifierExample.photo_id)).all()
    ids, vectors, labels = [], [], []
    for photo_id, label in rows:
        vector = runtime.vectors.get(space, photo_id)
        if vector is not None:
            ids.append(photo_id)
            vectors.append(vector)
            labels.append(label)
    matrix = np.asarray(vectors, np.float32) if vectors else np.zeros((0, 0), np.float32)
    return ids, matrix, labels


def refuse_reason(reason: str, details: dict[str, Any]) -> Conflict:
    """A TrainingDataError as the API's answer, with text in the caller's language.

    409, not 400: the request is right, the classifier's labelled photos are not enough yet
    (the OpenAPI contract has every schema-valid request accepted or refused for the state it meets).
    """
    if reason == "too_few_classes":
        return Conflict("Label photos in at least two classes before training", key="classifier_too_few_classes",
                            details=details)
    short = ", ".join(details.get("classes", []))
    return Conflict(f"Label at least {details.get('needed', classifiers.MIN_PER_CLASS)} indexed photos in "
                        f"each class before training (too few: {short})", key="classifier_too_few_photos",
                        details={**details, "short": short})


def check_ready(session: Session, runtime: Runtime, classifier: Classifier) -> None:
    """Refuse a training that cannot succeed before queuing it (409 with the reason)."""
    _, _, labels = _training_set(session, runtime, classifier)
    try:
        classifiers.check_training_data(labels)
    except classifiers.TrainingDataError as exc:
        raise refuse_reason(exc.reason, exc.details) from exc


def start_training(session: Session, runtime: Runtime, *, owner_id: str, classifier_id: str) -> Job:
    from boda.apps.album.jobs import train_classifier_job
    from boda.apps.album.schemas import TrainPayload

    row = get(session, owner_id=owner_id, classifier_id=classifier_id)
    check_ready(session, runtime, row)
    return runtime.queue.enqueue(session, train_classifier_job, owner_id=owner_id,
                                 payload=TrainPayload(classifier_id=row.id), title=f"Train {row.name}",
                                 title_key="album.job.train", title_args={"name": row.name})


def train(session: Session, runtime: Runtime, classifier: Classifier) -> ClassifierVersion:
    """Fit a new version on the labelled photos' embeddings, make it active, and apply it."""
    _, vectors, labels = _training_set(session, runtime, classifier)
    try:
        report = classifiers.train(vectors, labels)
    except classifiers.TrainingDataError as exc:  # examples removed after the request was accepted
        raise refuse_reason(exc.reason, exc.details) from exc
    number = (session.scalar(select(func.max(ClassifierVersion.number))
                             .where(ClassifierVersion.classifier_id == classifier.id)) or 0) + 1
    version = ClassifierVersion(classifier_id=classifier.id, number=number, head=report.head.to_json(),
                                embedder_key=current_key(runtime), accuracy=round(report.accuracy, 4),
                                folds=report.folds, confusion=report.confusion, counts=report.counts)
    session.add(version)
    session.flush()
    activate(session, runtime, classifier, version)
    return version


# --- applying ----------------------------------------------------------------

def is_stale(runtime: Runtime, version: ClassifierVersion) -> bool:
    """Trained on another embedder's vectors than the photos have now: its weights mean nothing there."""
    return version.embedder_key != current_key(runtime)


def clear_tags(session: Session, classifier: Classifier, photo_ids: Sequence[str] | None = None) -> None:
    """Remove the tags this classifier applied (source "classifier", its class names, its owner's photos).

    Tags carry no classifier id: two classifiers of one owner that share a class name share its tags.
    """
    tag_ids = select(Tag.id).where(Tag.name.in_(classifier.classes))
    owned = select(Photo.id).where(Photo.owner_id == classifier.owner_id)
    if photo_ids is not None:
        owned = owned.where(Photo.id.in_(list(photo_ids)))
    session.execute(delete(PhotoTag).where(PhotoTag.source == TAG_SOURCE, PhotoTag.tag_id.in_(tag_ids),
                                           PhotoTag.photo_id.in_(owned)))


def activate(session: Session, runtime: Runtime, classifier: Classifier, version: ClassifierVersion) -> int:
    """Make this version the classifier's own and re-apply its tags; how many photos it tagged.

    A stale version (another embedder) cannot be applied: 409, retrain instead.
    """
    if is_stale(runtime, version):
        raise Conflict("This version was trained for another search backend; train the classifier again",
                       key="classifier_version_stale", details={"embedder_key": version.embedder_key})
    photo_ids = list(session.scalars(select(Photo.id).where(Photo.owner_id == classifier.owner_id,
                                                            Photo.trashed_at.is_(None),
                                                            Photo.index_key == version.embedder_key)))
    clear_tags(session, classifier)
    tagged = apply(session, runtime, version, photo_ids)
    classifier.active_version_id = version.id
    session.flush()
    return tagged


def apply_active(session: Session, runtime: Runtime, photos: Sequence[Photo]) -> int:
    """Tag photos just indexed with their owners' active classifiers (those not stale); how many tags."""
    key = current_key(runtime)
    by_owner: dict[str, list[str]] = {}
    for photo in photos:
        if photo.index_key == key and photo.trashed_at is None:
            by_owner.setdefault(photo.owner_id, []).append(photo.id)
    tagged = 0
    for owner_id, ids in by_owner.items():
        rows = session.execute(select(Classifier, ClassifierVersion).join(
            ClassifierVersion, ClassifierVersion.id == Classifier.active_version_id).where(
            Classifier.owner_id == owner_id, ClassifierVersion.embedder_key == key)).all()
        for classifier, version in rows:
            clear_tags(session, classifier, ids)
            tagged += apply(session, runtime, version, ids)
    session.flush()
    return tagged


def apply(session: Session, runtime: Runtime, version: ClassifierVersion, photo_ids: Sequence[str]) -> int:
    """Tag these photos with the version's most likely class where it is sure enough; how many it tagged."""
    head = classifiers.LinearHead.from_json(version.head)
    threshold = album_settings(runtime.settings).classifier_threshold
    space = space_for(version.embedder_key)
    photo_ids = list(photo_ids)
    tags = _tags(session, head.classes)
    # A user's own tag of the same name stays theirs; an automatic one gives way (the user's model
    # knows their photos better), and comes back when the photo is indexed again.
    existing = {(link.photo_id, link.tag_id): link for link in session.scalars(select(PhotoTag).where(
        PhotoTag.tag_id.in_([t.id for t in tags.values()]), PhotoTag.photo_id.in_(photo_ids)))}
    tagged = 0
    for start in range(0, len(photo_ids), 512):
        chunk, vectors = [], []
        for photo_id in photo_ids[start:start + 512]:
            vector = runtime.vectors.get(space, photo_id)
            if vector is not None:
                chunk.append(photo_id)
                vectors.append(vector)
        if not chunk:
            continue
        for photo_id, (label, probability) in zip(chunk, head.predict(np.asarray(vectors)), strict=True):
            tag = tags[label]
            if probability < threshold:
                continue
            link = existing.get((photo_id, tag.id))
            if link is None:
                session.add(PhotoTag(photo_id=photo_id, tag_id=tag.id, source=TAG_SOURCE,
                                     score=round(probability, 4)))
            elif link.source == "auto":
                link.source, link.score = TAG_SOURCE, round(probability, 4)
            else:
                continue
            tagged += 1
    session.flush()
    return tagged


def _tags(session: Session, names: Sequence[str]) -> dict[str, Tag]:
    found = {t.name: t for t in session.scalars(select(Tag).where(Tag.name.in_(list(names))))}
    for name in names:
        if name not in found:
            found[name] = Tag(name=name)
            session.add(found[name])
    session.flush()
    return found
