"""Album's web pages: library, photo, albums, people, trash, classifiers (actions go through static/album.js)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from markupsafe import Markup

from boda.ai.heads import confusion_svg
from boda.apps.album import captions, classifying, people, service
from boda.apps.album.routes import (
    albums_out,
    classifier_detail,
    classifier_out,
    face_out,
    person_out,
    photos_out,
)
from boda.apps.album.service import PhotoFilters
from boda.apps.album.settings import album_settings
from boda.core import households
from boda.core.auth import Scope
from boda.web.deps import DbSession, RuntimeDep
from boda.web.pages import Page, require_login

router = APIRouter(include_in_schema=False)
PER_PAGE = 60


def _offset(page: int) -> int:
    return (max(1, min(page, 100_000)) - 1) * PER_PAGE


@router.get("/album")
def library_page(page: Page, session: DbSession, p: int = 1, favorites: bool = False) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    scope = Scope.of(page.user)
    listed = service.list_photos(session, scope, PhotoFilters(favorite=True if favorites else None),
                                 limit=PER_PAGE, offset=_offset(p))
    albums = service.list_albums(session, scope, limit=200, offset=0).items  # the search filters' album menu
    named = [s.person for s in people.list_people(session, scope, named=True)]  # and its person menu
    return page.render("album/library.html", photos=photos_out(session, scope, listed.items), total=listed.total,
                       page_no=max(1, p), per_page=PER_PAGE, tab="favorites" if favorites else "library",
                       album=None, query="?favorites=true&" if favorites else "?", albums=albums, people=named)


@router.get("/album/albums")
def albums_page(page: Page, session: DbSession) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    scope = Scope.of(page.user)
    listed = service.list_albums(session, scope, limit=200, offset=0)
    return page.render("album/albums.html", albums=albums_out(session, scope, listed.items), tab="albums")


@router.get("/album/albums/{album_id}")
def album_page(album_id: str, page: Page, session: DbSession, p: int = 1) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    scope = Scope.of(page.user)
    album = service.get_album(session, scope, album_id)
    listed = service.list_photos(session, scope, PhotoFilters(album_id=album.id), limit=PER_PAGE,
                                 offset=_offset(p))
    mine = households.list_mine(session, user_id=page.user.id) if page.user else []
    return page.render("album/library.html", photos=photos_out(session, scope, listed.items), total=listed.total,
                       page_no=max(1, p), per_page=PER_PAGE, tab="albums",
                       album=albums_out(session, scope, [album])[0], query="?", households=mine,
                       is_owner=page.user is not None and album.owner_id == page.user.id)


@router.get("/album/trash")
def trash_page(page: Page, session: DbSession, runtime: RuntimeDep, p: int = 1) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    scope = Scope.of(page.user)
    listed = service.list_photos(session, scope, PhotoFilters(trashed=True), limit=PER_PAGE, offset=_offset(p))
    return page.render("album/trash.html", photos=photos_out(session, scope, listed.items), total=listed.total,
                       page_no=max(1, p), per_page=PER_PAGE, tab="trash", query="?",
                       days=album_settings(runtime.settings).trash_days)


@router.get("/album/photos/{photo_id}")
def photo_page(photo_id: str, page: Page, session: DbSession, runtime: RuntimeDep) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    scope = Scope.of(page.user)
    photo = service.get_photo(session, scope, photo_id)
    distance = album_settings(runtime.settings).near_duplicate_distance
    near = service.near_duplicates(session, scope, photo, distance=distance)[:12]
    in_albums = service.albums_of(session, scope, photo.id)
    listed = service.list_albums(session, scope, limit=200, offset=0)
    albums = {a.id: a for a in listed.items}
    return page.render("album/photo.html", photo=photos_out(session, scope, [photo])[0], near=near,
                       ocr_words=captions.ocr_words(photo), llm_available=runtime.ai.chat().available,
                       in_albums=[albums[a] for a in in_albums if a in albums],
                       albums=listed.items, is_owner=page.user is not None and photo.owner_id == page.user.id,
                       tab="library")


# --- classifiers ---------------------------------------------------------------

@router.get("/album/classifiers")
def classifiers_page(page: Page, session: DbSession, runtime: RuntimeDep) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    rows = classifying.list_for(session, owner_id=page.user.id)
    return page.render("album/classifiers.html", classifiers=[classifier_out(session, runtime, c) for c in rows],
                       tab="classifiers")


@router.get("/album/classifiers/{classifier_id}")
def classifier_page(classifier_id: str, page: Page, session: DbSession, runtime: RuntimeDep, p: int = 1) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    row = classifying.get(session, owner_id=page.user.id, classifier_id=classifier_id)
    detail = classifier_detail(session, runtime, row)
    active = next((v for v in detail.versions if v.active), None)
    # confusion_svg escapes every class name and the title (xml.sax.saxutils.escape), so the markup is safe inline.
    picture = Markup(confusion_svg(active.classes, active.confusion)) if active else None
    listed = classifying.pickable_photos(session, owner_id=page.user.id, limit=PER_PAGE, offset=_offset(p))
    labels = {e.photo_id: e.label for e in detail.labelled}
    job = classifying.training_job(session, row.id)
    return page.render("album/classifier.html", c=detail, active=active, picture=picture,
                       photos=photos_out(session, Scope.of(page.user), listed.items), labels=labels, total=listed.total,
                       page_no=max(1, p), per_page=PER_PAGE, query="?", tab="classifiers",
                       job=job if job is not None and job.status in ("queued", "running") else None)


@router.get("/album/people")
def people_page(page: Page, session: DbSession) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    found = people.list_people(session, Scope.of(page.user))
    return page.render("album/people.html", people=[person_out(p) for p in found], tab="people")


@router.get("/album/people/{person_id}")
def person_page(person_id: str, page: Page, session: DbSession, p: int = 1) -> Response:
    if (redirect := require_login(page)) is not None:
        return redirect
    scope = Scope.of(page.user)
    person = people.get_person(session, scope, person_id)
    listed = service.list_photos(session, scope, PhotoFilters(person_id=person.id), limit=PER_PAGE,
                                 offset=_offset(p))
    faces = people.faces_of_person(session, person)
    return page.render("album/person.html", person=person_out(people.summary(session, person)),
                       faces=[face_out(f) for f in faces], photos=photos_out(session, scope, listed.items),
                       total=listed.total, page_no=max(1, p), per_page=PER_PAGE, tab="people")
