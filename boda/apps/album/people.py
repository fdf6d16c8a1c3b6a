"""People in an owner's photos: faces found at indexing, grouped into people the owner names,
merges and splits; and faces hidden from everyone else when the owner asks.

Faces and people belong to the photo's owner. A household member who sees a shared photo
does not see who its owner grouped or named in it: people are never reached through
visibility, only through `owner_id == caller`, so every person, face and face crop of
another user is a 404.

Grouping is incremental (`boda.ai.face_embed.assign_to_people`): each new face joins the
owner's nearest person (named or not) whose centroid is within SFace's same-person
threshold, else starts a new person; the person's centroid is then the normalised mean of
its faces. A rename changes no vector: search by a person's name is a literal match on
the owner's people (`photos_named`), so it works the moment the name is saved.

Hiding faces: a photo is shown with its faces blurred to anyone but its owner when the photo
itself has `hide_faces`, or when its owner put it in an album with `hide_faces` (whichever
way the viewer reached it: the rule is about the photo, so a second album or a direct share
cannot leak it). An album someone else filed it in shares it with nobody (see
`service._shared_by_owners`), so its `hide_faces` changes nothing for it. The owner always
gets the bytes as stored.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from sqlalchemy import Select, delete, func, select
from sqlalchemy.orm import Session

from boda.ai.face_embed import DIM, FaceEmbedding, assign_to_people, centroid
from boda.ai.faces import Face as DetectedFace
from boda.ai.faces import anonymize
from boda.apps.album import service
from boda.apps.album.models import Album, AlbumPhoto, Face, Person, Photo
from boda.core.auth import Scope
from boda.core.errors import BodaError, Conflict, NotFound
from boda.core.runtime import Runtime

log = logging.getLogger(__name__)
DETECTOR = "centerface"  # gives the five landmarks SFace aligns on (Haar does not)
CROP_SIDE = 160  # face crops on the People page
CROP_MARGIN = 0.3  # of the face box on every side: hair and chin, so a person is recognisable
MIN_NAME_IN_QUERY = 2  # "photos of Jo" finds Jo; a one-letter name does not match every query
HIDE_METHOD = "blur"
HIDE_STRENGTH = 1.5  # stronger than Vision's default: a thumbnail face of 40 px must not be recognisable


def upright_width(photo: Photo, image: Image.Image) -> int:
    """The width of the upright original: the stored width, or the height when EXIF turned it a quarter."""
    same = (image.width >= image.height) == (photo.width >= photo.height)
    return max(1, photo.width if same else photo.height)


def as_vector(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float32).reshape(DIM)


def as_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).reshape(DIM).tobytes()


# --- indexing ------------------------------------------------------------------


def detect_faces(runtime: Runtime, image: Image.Image) -> tuple[np.ndarray, list[DetectedFace]]:
    bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
    return bgr, runtime.ai.face_detector(DETECTOR).detect(bgr)


@dataclass(frozen=True)
class FoundFaces:
    """What the models saw in one photo, before anything is written: the faces' count and embeddings."""

    count: int
    embeddings: list[FaceEmbedding] = field(default_factory=list)
    embedder: str | None = None  # None: no face model here, the faces are only counted
    width: int = 1  # of the image the boxes are in


def find_faces(runtime: Runtime, image: Image.Image) -> FoundFaces:
    """Detect and embed the faces of `image` (the photo, upright, maybe scaled down); no database work.

    Indexing runs this for a whole batch *before* it writes anything: on SQLite a write holds the
    database's one write lock until the commit, and the models' seconds must not be spent holding it.
    """
    bgr, detected = detect_faces(runtime, image)
    try:
        embedder = runtime.ai.get("face_embedder")
        embeddings = embedder.embed(bgr, detected) if detected else []
    except BodaError as exc:  # no face model here: count the faces, group nobody
        log.warning("album: faces not grouped: %s", exc)
        return FoundFaces(len(detected), width=max(1, image.width))
    return FoundFaces(len(detected), list(embeddings), str(embedder.key), max(1, image.width))


def record_faces(session: Session, photo: Photo, image: Image.Image, found: FoundFaces) -> list[str]:
    """Replace the photo's faces by those found, grouped into the owner's people; sets `faces_count`.

    Answers the names of the named people found (indexing does not hand them to the embedder: see indexing.py).
    """
    photo.faces_count = found.count
    remove_faces(session, photo)
    if found.embedder is None:
        return []
    scale = upright_width(photo, image) / found.width  # boxes are stored in the upright original's pixels
    people = {p.id: p for p in session.scalars(select(Person).where(Person.owner_id == photo.owner_id))}
    centroids = {pid: as_vector(p.centroid) for pid, p in people.items()}
    touched: set[str] = set()
    for face in found.embeddings:
        match = assign_to_people(face.vector, centroids)
        if match is None:
            person = Person(owner_id=photo.owner_id, centroid=as_bytes(face.vector))
            session.add(person)
            session.flush()
            people[person.id] = person
        else:
            person = people[match[0]]
        x, y, w, h = (round(v * scale) for v in face.box)
        session.add(Face(photo_id=photo.id, owner_id=photo.owner_id, person_id=person.id, x=x, y=y, w=w, h=h,
                         score=float(face.score), embedder=found.embedder, vector=as_bytes(face.vector)))
        session.flush()
        refresh(session, person)
        centroids[person.id] = as_vector(person.centroid)
        touched.add(person.id)
    return sorted({people[pid].name for pid in touched if people[pid].name})


def index_faces(session: Session, runtime: Runtime, photo: Photo, image: Image.Image) -> list[str]:
    """Find, embed and group the faces of `image` (the photo, upright, maybe scaled down).

    Replaces the photo's faces (a re-index starts over); sets `faces_count`; answers the names
    of the named people found. Without a face embedder the faces are only counted.
    """
    return record_faces(session, photo, image, find_faces(runtime, image))


def remove_faces(session: Session, photo: Photo) -> None:
    """Forget the photo's faces; people left without faces and without a name go too."""
    before = set(session.scalars(select(Face.person_id).where(Face.photo_id == photo.id, Face.person_id.is_not(None))))
    session.execute(delete(Face).where(Face.photo_id == photo.id))
    session.flush()
    for person_id in before:
        person = session.get(Person, person_id)
        if person is not None:
            refresh(session, person)


def refresh(session: Session, person: Person) -> bool:
    """Recompute a person's centroid and cover from their faces; delete an empty unnamed person.

    Whether the person still exists. A named person without faces is kept (their name and
    last centroid wait for the next photo of them).
    """
    faces = session.scalars(select(Face).where(Face.person_id == person.id)).all()
    if not faces:
        if person.name is None:
            session.delete(person)
            session.flush()
            return False
        person.cover_face_id = None
        return True
    person.centroid = as_bytes(centroid([as_vector(f.vector) for f in faces]))
    person.cover_face_id = max(faces, key=lambda f: (f.score * min(f.w, f.h), f.id)).id
    session.flush()
    return True


# --- the owner's people --------------------------------------------------------


@dataclass(frozen=True)
class PersonSummary:
    person: Person
    photo_count: int
    face_count: int


def _visible_faces() -> object:
    return Face.photo_id.in_(select(Photo.id).where(Photo.trashed_at.is_(None)))


def list_people(session: Session, scope: Scope, *, named: bool | None = None) -> list[PersonSummary]:
    """The caller's people with faces in untrashed photos: named first (by name), then by photo count."""
    user_id = scope.require_user()
    counts = (select(Face.person_id, func.count(func.distinct(Face.photo_id)), func.count(Face.id))
              .where(Face.owner_id == user_id, Face.person_id.is_not(None), _visible_faces())
              .group_by(Face.person_id))
    numbers = {pid: (photos, faces) for pid, photos, faces in session.execute(counts)}
    query = select(Person).where(Person.owner_id == user_id, Person.id.in_(list(numbers)))
    if named is not None:
        query = query.where(Person.name.is_not(None) if named else Person.name.is_(None))
    rows = [PersonSummary(p, *numbers[p.id]) for p in session.scalars(query)]
    return sorted(rows, key=lambda s: (s.person.name is None, (s.person.name or "").casefold(), -s.photo_count,
                                       s.person.id))


def summary(session: Session, person: Person) -> PersonSummary:
    photos, faces = session.execute(
        select(func.count(func.distinct(Face.photo_id)), func.count(Face.id))
        .where(Face.person_id == person.id, _visible_faces())).one()
    return PersonSummary(person, photos, faces)


def get_person(session: Session, scope: Scope, person_id: str) -> Person:
    row = session.scalar(select(Person).where(Person.id == person_id, Person.owner_id == scope.require_user()))
    if row is None:
        raise NotFound(f"No person with id {person_id}", key="person_not_found")
    return row


def get_face(session: Session, scope: Scope, face_id: str) -> Face:
    row = session.scalar(select(Face).where(Face.id == face_id, Face.owner_id == scope.require_user()))
    if row is None:
        raise NotFound(f"No face with id {face_id}", key="face_not_found")
    return row


def rename(session: Session, scope: Scope, person_id: str, name: str | None) -> Person:
    """Name (or, with an empty name, unname) one of the caller's people. No vector changes:
    search matches the name literally."""
    person = get_person(session, scope, person_id)
    person.name = " ".join((name or "").split()) or None
    session.flush()
    return person


def merge(session: Session, scope: Scope, person_id: str, into_id: str) -> Person:
    """Move every face of one person to another (same owner) and delete the first; the
    survivor keeps its name, or takes the merged one's when it had none."""
    person, into = get_person(session, scope, person_id), get_person(session, scope, into_id)
    if person.id == into.id:
        raise Conflict("A person cannot be merged into themselves", key="person_merge_self")
    for face in session.scalars(select(Face).where(Face.person_id == person.id)):
        face.person_id = into.id
    if into.name is None:
        into.name = person.name
    session.flush()
    session.delete(person)
    session.flush()
    refresh(session, into)
    return into


def detach(session: Session, scope: Scope, face_id: str) -> Person:
    """Take a face away from its person (a wrong match) into a new unnamed person of its own."""
    face = get_face(session, scope, face_id)
    old = session.get(Person, face.person_id) if face.person_id else None
    if old is not None and session.scalar(select(func.count(Face.id)).where(Face.person_id == old.id)) == 1:
        raise Conflict("This face is already the only one of its person", key="face_already_alone")
    person = Person(owner_id=face.owner_id, centroid=face.vector)
    session.add(person)
    session.flush()
    face.person_id = person.id
    session.flush()
    refresh(session, person)
    if old is not None:
        refresh(session, old)
    return person


def faces_of(session: Session, scope: Scope, photo_id: str) -> list[Face]:
    """The faces in one of the caller's own photos (others' photos: 404)."""
    photo = service.get_photo(session, scope, photo_id, write=True)
    return list(session.scalars(select(Face).where(Face.photo_id == photo.id).order_by(Face.x, Face.id)))


def faces_of_person(session: Session, person: Person) -> list[Face]:
    return list(session.scalars(select(Face).where(Face.person_id == person.id).order_by(Face.photo_id, Face.id)))


def photos_named(session: Session, user_id: str | None, text: str) -> Select[tuple[str]] | None:
    """The photos with faces of the caller's people whose name matches the query, as a statement
    (search narrows it to what the caller may see in SQL): the query is in the name ("kim" finds
    "Kim Minji") or the name is in the query ("photos of minji"). None when no name matches."""
    if user_id is None or not text:
        return None
    query = text.casefold()
    ids = [p.id for p in session.scalars(select(Person).where(Person.owner_id == user_id,
                                                              Person.name.is_not(None)))
           if query in (name := (p.name or "").casefold()) or (len(name) >= MIN_NAME_IN_QUERY and name in query)]
    if not ids:
        return None
    return select(Face.photo_id).where(Face.person_id.in_(ids))


def person_photo_ids(person_id: str) -> object:
    return select(Face.photo_id).where(Face.person_id == person_id)


# --- crops and hidden faces ----------------------------------------------------


def _webp(image: Image.Image, quality: int = 80) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "WEBP", quality=quality)
    return buffer.getvalue()


def _source(session: Session, runtime: Runtime, photo: Photo, want: int) -> Image.Image:
    """The photo upright, at least `want` px on its long side where a thumbnail that large exists."""
    sizes = sorted(int(s) for s in photo.thumbnails)
    if sizes and (sizes[-1] >= want or sizes[-1] >= max(photo.width, photo.height)):
        row = service.thumbnail_file(session, photo, want)
        with runtime.image_work:
            image = Image.open(io.BytesIO(runtime.store.read(row.blob_key)))
            image.load()
        return image.convert("RGB")
    with runtime.image_work:
        image, _ = service.decode_upright(runtime.store.read(photo.blob_key))
    return image.convert("RGB")


def face_crop(session: Session, runtime: Runtime, scope: Scope, face_id: str) -> bytes:
    """A square-ish WebP of one of the caller's faces, with some margin, CROP_SIDE px across."""
    face = get_face(session, scope, face_id)
    photo = session.get(Photo, face.photo_id)
    if photo is None:
        raise NotFound(f"No face with id {face_id}", key="face_not_found")
    # Pick a source where the face is at least CROP_SIDE px wide.
    want = round(max(photo.width, photo.height) * CROP_SIDE / max(1, face.w * (1 + 2 * CROP_MARGIN)))
    image = _source(session, runtime, photo, min(want, max(photo.width, photo.height)))
    scale = image.width / upright_width(photo, image)
    side = max(face.w, face.h) * (1 + 2 * CROP_MARGIN)
    cx, cy = (face.x + face.w / 2) * scale, (face.y + face.h / 2) * scale
    half = side * scale / 2
    box = (max(0, round(cx - half)), max(0, round(cy - half)), min(image.width, round(cx + half)),
           min(image.height, round(cy + half)))
    crop = image.crop(box)
    crop.thumbnail((CROP_SIDE, CROP_SIDE))
    return _webp(crop)


def faces_hidden(session: Session, photo: Photo, viewer_id: str | None) -> bool:
    """Whether this viewer gets the photo with faces blurred (see the module docstring)."""
    if viewer_id is not None and viewer_id == photo.owner_id:
        return False
    if photo.hide_faces:
        return True
    return session.scalar(select(AlbumPhoto.photo_id).join(Album, Album.id == AlbumPhoto.album_id)
                          .where(AlbumPhoto.photo_id == photo.id, AlbumPhoto.added_by == photo.owner_id,
                                 Album.hide_faces.is_(True)).limit(1)) is not None


def _boxes(session: Session, runtime: Runtime, photo: Photo, image: Image.Image) -> list[DetectedFace]:
    """The photo's faces in `image`'s pixels: the stored ones, or (not indexed yet) found now."""
    if photo.faces_count is None:
        return detect_faces(runtime, image)[1]
    scale = image.width / upright_width(photo, image)
    return [DetectedFace(box=(round(f.x * scale), round(f.y * scale), max(1, round(f.w * scale)),
                              max(1, round(f.h * scale))), score=f.score)
            for f in session.scalars(select(Face).where(Face.photo_id == photo.id))]


def hidden_image(session: Session, runtime: Runtime, photo: Photo, *, size: int | None) -> bytes:
    """The thumbnail (`size`) or the original (None) with every face blurred, as WebP.

    The original is re-encoded, so its EXIF (GPS included) does not reach the viewer either.
    """
    if size is None:
        with runtime.image_work:
            image, _ = service.decode_upright(runtime.store.read(photo.blob_key))
        image = image.convert("RGB")
    else:
        image = _source(session, runtime, photo, size)
    bgr = np.ascontiguousarray(np.asarray(image)[:, :, ::-1])
    faces = _boxes(session, runtime, photo, image)
    covered = anonymize(bgr, faces, method=HIDE_METHOD, strength=HIDE_STRENGTH, margin=0.15)
    return _webp(Image.fromarray(np.ascontiguousarray(covered[:, :, ::-1])), quality=85 if size else 92)
