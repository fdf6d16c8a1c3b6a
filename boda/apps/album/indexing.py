"""Completing and understanding stored photos, run by the `album.index` job.

First what an upload may have left out (EXIF facts, perceptual hash, thumbnails).
Then what search needs, in batches (CLIP runs a batch at once): the words written in
the photo (OCR), its faces (found, embedded and grouped into the owner's people,
boda.apps.album.people), an image-text embedding stored in the vector store under
the embedder's key, and (from the concepts backend) what was seen: a plain caption and
automatic tags. OCR boxes are stored as fractions (0..1) of the upright photo. Each batch
is committed on its own, so a retried job resumes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import numpy as np
from PIL import Image
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from boda.ai.concepts import readable_words
from boda.ai.embed import Concept, ImageTextEmbedder, PhotoFacts
from boda.apps.album import people, service
from boda.apps.album.models import Photo, PhotoTag, Tag
from boda.core import uploads
from boda.core.db import utcnow
from boda.core.errors import BodaError
from boda.core.runtime import Runtime

log = logging.getLogger(__name__)
BATCH = 8  # photos embedded at once: CLIP's batched inference is several times one-at-a-time
UNDERSTAND_SIDE = 1024  # the models see at most this (OCR reads signs fine at this size)
AUTO_TAG_KINDS = ("object", "class", "scene")
AUTO_TAG_MIN_WEIGHT = 0.35
AUTO_TAGS_PER_PHOTO = 5

Progress = Callable[[int, int], None]
"""progress(done, total): called after each photo (a job turns it into progress events)."""


def index_photos(session: Session, runtime: Runtime, photo_ids: Sequence[str], progress: Progress
                 ) -> dict[str, Any]:
    """Complete (and, once added, index) these photos; ids that no longer exist are skipped."""
    photos = {p.id: p for p in session.scalars(select(Photo).where(Photo.id.in_(list(photo_ids))))}
    embedder: ImageTextEmbedder = runtime.ai.get("image_text_embedder")
    completed = indexed = 0
    done = 0
    for start in range(0, len(photo_ids), BATCH):
        batch = [photos[i] for i in photo_ids[start:start + BATCH] if i in photos]
        for photo in batch:
            if complete_photo(session, runtime, photo):
                completed += 1
                session.commit()  # its thumbnails are written: the lock is not held over the next one's
        todo = [p for p in batch if p.trashed_at is None and p.index_key != embedder.key]
        if todo:
            indexed += understand_photos(session, runtime, embedder, todo)
            from boda.apps.album.classifying import apply_active

            apply_active(session, runtime, todo)  # the owners' own classifiers tag new photos too
        session.commit()  # one batch at a time: a retry keeps what was finished
        done = min(len(photo_ids), start + BATCH)
        progress(done, len(photo_ids))
    return {"photos": len(photo_ids), "found": len(photos), "completed": completed, "indexed": indexed,
            "backend": embedder.key}


def space_for(key: str) -> str:
    """The vector space of one embedder's photo vectors (another embedder, another space)."""
    return f"album.photos:{key}"


def understand_photos(session: Session, runtime: Runtime, embedder: ImageTextEmbedder, photos: list[Photo]) -> int:
    """OCR, faces, embedding, caption and automatic tags for a batch; how many were indexed.

    The models run first, for the whole batch, and only then is anything written: on SQLite a
    write holds the database's one write lock until the batch's commit, and seconds of inference
    under it would make every other write (a rename, a login, a job's heartbeat) wait or fail.
    """
    images: list[Image.Image] = []
    facts: list[PhotoFacts] = []
    read: list[tuple[str, list[dict[str, Any]], people.FoundFaces]] = []
    for photo in photos:
        with runtime.image_work:
            image, _ = service.decode_upright(runtime.store.read(photo.blob_key), max_side=UNDERSTAND_SIDE)
            image.thumbnail((UNDERSTAND_SIDE, UNDERSTAND_SIDE))
        text, words = read_text(runtime, image)
        faces = people.find_faces(runtime, image)
        read.append((text, words, faces))
        images.append(image)
        # Names are NOT passed (PhotoFacts.people stays empty): the concepts backend would write them into
        # the caption and the photo's vector, which everyone who may see the photo reads and searches, and
        # a name is its owner's alone. The owner finds people by name through search._literal instead,
        # which also follows a rename at once (a vector would keep the old name until a re-index).
        facts.append(PhotoFacts(text=text, faces=faces.count))
    describe = getattr(embedder, "describe", None)
    described = None
    if describe is not None and hasattr(embedder, "embed_concepts"):
        # The concepts backend: describe once, embed the description (no second look at the photo).
        described = [describe(image, fact) for image, fact in zip(images, facts, strict=True)]
        vectors = embedder.embed_concepts([d.concepts for d in described])  # type: ignore[attr-defined]
    else:
        vectors = embedder.embed_images(images, facts)
    # Now the writes, quick ones.
    for photo, image, (text, words, faces) in zip(photos, images, read, strict=True):
        people.record_faces(session, photo, image, faces)  # replaces the photo's old faces
        photo.ocr_text = text
        photo.concepts = words
    if described is not None:
        for photo, description in zip(photos, described, strict=True):
            if not (photo.caption_source or "").startswith("llm:"):  # a chat model's caption outlives a re-index
                photo.caption, photo.caption_source = description.caption, "concepts"
            photo.concepts = (photo.concepts or []) + [_concept_json(c) for c in description.concepts]
            set_auto_tags(session, photo, description.concepts)
    runtime.vectors.upsert(space_for(embedder.key), [p.id for p in photos], np.asarray(vectors, np.float32))
    for old_key in {p.index_key for p in photos if p.index_key and p.index_key != embedder.key}:
        # A re-index by another backend: the old space's vector would outlive the photo (search reads
        # only the current space, so nothing else needs it).
        runtime.vectors.delete(space_for(old_key), [p.id for p in photos if p.index_key == old_key])
    now = utcnow()
    for photo in photos:
        photo.index_key, photo.indexed_at = embedder.key, now
    session.flush()
    return len(photos)


def _concept_json(concept: Concept) -> dict[str, Any]:
    data = asdict(concept)
    data["weight"] = round(float(concept.weight), 4)
    data["box"] = list(concept.box) if concept.box else None
    return data


def read_text(runtime: Runtime, image: Image.Image) -> tuple[str, list[dict[str, Any]]]:
    """The words written in the photo, and each word's box (kind "ocr"); nothing when OCR is unavailable."""
    reader = runtime.ai.get("ocr")
    if not reader.available():
        return "", []
    try:
        result = reader.read(image)
    except BodaError as exc:  # a time limit, a missing language: index the photo without its text
        log.warning("album: no text read from a photo: %s", exc)
        return "", []
    if not readable_words(result.text):  # texture read as "424" or "iby,": a photo without text
        return "", []
    words = [{"kind": "ocr", "label": w.text, "weight": round(float(w.confidence), 3),
              "box": fraction_box(w.box, image.size)} for w in result.words]
    return result.text.strip(), words


def fraction_box(box: Sequence[float], size: tuple[int, int]) -> list[float]:
    """A pixel box [x, y, w, h] of an image `size` as fractions of it, clamped to 0..1.

    The models see the photo scaled down (UNDERSTAND_SIDE); fractions hold for the original,
    every thumbnail and the page's picture alike, whatever their size.
    """
    width, height = max(1, size[0]), max(1, size[1])
    x, y = min(max(box[0] / width, 0.0), 1.0), min(max(box[1] / height, 0.0), 1.0)
    w, h = min(max(box[2] / width, 0.0), 1.0 - x), min(max(box[3] / height, 0.0), 1.0 - y)
    return [round(x, 5), round(y, 5), round(w, 5), round(h, 5)]


def set_auto_tags(session: Session, photo: Photo, concepts: Sequence[Concept]) -> None:
    """Replace the photo's automatic tags by its strongest objects, classes and scenes (user tags stay)."""
    wanted: dict[str, float] = {}
    for concept in sorted(concepts, key=lambda c: -c.weight):
        if concept.kind in AUTO_TAG_KINDS and concept.weight >= AUTO_TAG_MIN_WEIGHT:
            name = service.normalize_tag(_tag_name(concept.label))
            if name and name not in wanted and len(wanted) < AUTO_TAGS_PER_PHOTO:
                wanted[name] = round(float(concept.weight), 3)
    links = session.scalars(select(PhotoTag).where(PhotoTag.photo_id == photo.id)).all()
    for link in links:
        if link.source == "auto" and link.tag.name not in wanted:
            session.delete(link)
    present = {link.tag.name for link in links}
    for name, weight in wanted.items():
        if name in present:
            continue
        tag = session.scalar(select(Tag).where(Tag.name == name))
        if tag is None:
            tag = Tag(name=name)
            session.add(tag)
            session.flush()
        session.add(PhotoTag(photo_id=photo.id, tag_id=tag.id, source="auto", score=weight))


def _tag_name(label: str) -> str:
    """"a red car" -> "red car"; "two cats" -> "cats": a tag is the thing, not the sentence."""
    words = label.split()
    while words and words[0].lower() in {"a", "an", "the", "some", "two", "three", "four", "five", "many"}:
        words = words[1:]
    return " ".join(words)


def complete_photo(session: Session, runtime: Runtime, photo: Photo) -> bool:
    """Fill missing thumbnails and hash from the original; whether anything was missing."""
    sizes = service.album_settings(runtime.settings).thumbnail_sizes
    missing = [s for s in sizes if str(s) not in photo.thumbnails]
    if not missing and photo.phash:
        return False
    with runtime.image_work:
        upright, facts = service.decode_upright(runtime.store.read(photo.blob_key), max_side=max(sizes))
        if not photo.phash:
            photo.phash = service.phash_hex(upright)
        for key, value in facts.items():
            if value is not None and key != "taken_at" and getattr(photo, key) is None:
                setattr(photo, key, value)
        made = dict(photo.thumbnails)
        stem = photo.filename.rsplit(".", 1)[0] or "photo"
        for size, image in service.thumbnail_images(upright, missing).items():
            row = uploads.save_derived_image(session, runtime.store, owner_id=photo.owner_id, image=image,
                                             filename=f"{stem}_{size}.webp", app=service.APP,
                                             derived_from_id=photo.file_id, format="WEBP")
            made[str(size)] = row.id
        photo.thumbnails = made
    session.flush()
    return True


STALE_BATCH = 200


def queue_stale(session: Session, runtime: Runtime, *, owner_id: str | None = None, limit: int = 10_000) -> int:
    """Queue `album.index` jobs for photos not indexed by the current backend (new, or a changed setting).

    Search keeps working meanwhile: photos still on an old backend are found by their words,
    and join the ranking as soon as their batch is done.
    """
    from boda.apps.album.models import Photo as PhotoRow

    key = runtime.ai.get("image_text_embedder").key
    query = (select(PhotoRow.owner_id, PhotoRow.id)
             .where(PhotoRow.trashed_at.is_(None), or_(PhotoRow.index_key.is_(None), PhotoRow.index_key != key))
             .order_by(PhotoRow.owner_id, PhotoRow.id).limit(limit))
    if owner_id is not None:
        query = query.where(PhotoRow.owner_id == owner_id)
    by_owner: dict[str, list[str]] = {}
    for owner, photo_id in session.execute(query):
        by_owner.setdefault(owner, []).append(photo_id)
    if not by_owner or _indexing_queued(session):
        return 0
    for owner, ids in by_owner.items():
        for start in range(0, len(ids), STALE_BATCH):
            service.queue_index(session, runtime, owner_id=owner, photo_ids=ids[start:start + STALE_BATCH])
    session.commit()
    return sum(map(len, by_owner.values()))


def _indexing_queued(session: Session) -> bool:
    """Whether index jobs are already waiting or running (the periodic check must not pile them up)."""
    from boda.core.models import Job

    return session.scalar(select(Job.id).where(Job.kind == "album.index",
                                               Job.status.in_(["queued", "running"])).limit(1)) is not None


def reindex_stale(runtime: Runtime) -> int:
    """The periodic task: pick up photos a changed backend has not indexed yet."""
    with runtime.db.session() as session:
        return queue_stale(session, runtime)
