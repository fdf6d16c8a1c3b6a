"""People in Album on real faces: grouping, naming, search by name, merge and split, privacy,
and faces hidden from everyone but the owner when an album is shared.

Photos: tests/fixtures/faces (README there): Eileen Collins alone (astronaut.jpg), Grace
Hopper alone (grace_hopper.jpg), and group.jpg, where both appear with the cameraman and a
second, small Eileen Collins. Indexing runs CenterFace + SFace as a user's server does.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from boda.core.runtime import Runtime
from boda.web.app import create_app
from tests.apps.album.test_albums import household_of
from tests.conftest import PASSWORD, Account, make_account, make_settings

API = "/api/v1/album"
FACES = Path(__file__).parents[2] / "fixtures/faces"
ASTRONAUT_FACE = (174, 68, 100, 112)  # x, y, w, h in astronaut.jpg (512x512), measured by eye (README)


@pytest.fixture(scope="module")
def album(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, Runtime, Account, Account, dict[str, str]]:
    """One server for the module: alice's three photos indexed once."""
    tmp = tmp_path_factory.mktemp("album-people")
    settings = make_settings(tmp, f"sqlite:///{tmp / 'boda.db'}", ai={
        "models_dir": tmp / "models", "threads": 1, "downloads": False, "text_encoder": "use-m"})
    with TestClient(create_app(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        alice, bob = make_account(runtime, client, "alice"), make_account(runtime, client, "bob")
        names = ("astronaut", "grace_hopper", "group")
        response = alice.post(f"{API}/photos", files=[
            ("files", (f"{n}.jpg", (FACES / f"{n}.jpg").read_bytes())) for n in names])
        assert response.status_code == 201, response.text
        ids = {name: photo["id"] for name, photo in zip(names, response.json(), strict=True)}
        yield client, runtime, alice, bob, ids


def people_of(account: Account) -> list[dict]:
    response = account.get(f"{API}/people")
    assert response.status_code == 200, response.text
    return response.json()


def person_with(account: Account, photo_ids: set[str]) -> dict:
    """The one person whose photos are exactly these."""
    found = []
    for person in people_of(account):
        photos = account.get(f"{API}/people/{person['id']}/photos").json()["items"]
        if {p["id"] for p in photos} == photo_ids:
            found.append(person)
    assert len(found) == 1, found
    return found[0]


def search_ids(account: Account, query: str) -> list[str]:
    response = account.get(f"{API}/search", params={"q": query})
    assert response.status_code == 200, response.text
    return [item["photo"]["id"] for item in response.json()["items"] if "text" in item["matched"]]


def test_the_same_person_in_two_photos_is_one_person(album) -> None:  # noqa: ANN001
    _, _, alice, _, ids = album
    assert alice.get(f"{API}/photos/{ids['group']}").json()["faces_count"] == 4
    people = people_of(alice)
    # Eileen Collins (twice in the group), Grace Hopper, the cameraman: three people.
    assert len(people) == 3, people
    eileen = person_with(alice, {ids["astronaut"], ids["group"]})
    assert eileen["face_count"] == 3 and eileen["photo_count"] == 2 and eileen["name"] is None
    grace = person_with(alice, {ids["grace_hopper"], ids["group"]})
    assert grace["face_count"] == 2
    faces = alice.get(f"{API}/photos/{ids['astronaut']}/faces").json()
    assert len(faces) == 1 and faces[0]["person_id"] == eileen["id"]
    x, y, w, h = faces[0]["box"]  # stored in the original's pixels, near the measured box
    assert abs(x - ASTRONAUT_FACE[0]) < 30 and abs(y - ASTRONAUT_FACE[1]) < 40 and 60 < w < 160
    crop = alice.get(eileen["cover_url"])
    assert crop.status_code == 200 and crop.headers["content-type"] == "image/webp"
    assert max(Image.open(io.BytesIO(crop.content)).size) <= 160


def test_naming_a_person_finds_their_photos_for_the_owner_only(album) -> None:  # noqa: ANN001
    _, _, alice, bob, ids = album
    eileen = person_with(alice, {ids["astronaut"], ids["group"]})
    assert search_ids(alice, "Eileen") == []
    renamed = alice.patch(f"{API}/people/{eileen['id']}", json={"name": "Eileen Collins"})
    assert renamed.status_code == 200 and renamed.json()["name"] == "Eileen Collins"
    assert set(search_ids(alice, "eileen")) == {ids["astronaut"], ids["group"]}
    assert set(search_ids(alice, "photos of Eileen Collins")) == {ids["astronaut"], ids["group"]}
    # Names are the owner's: Bob, searching the same name, finds nothing.
    assert bob.get(f"{API}/search", params={"q": "Eileen Collins"}).json()["items"] == []
    assert people_of(alice)[0]["name"] == "Eileen Collins"  # named first


def test_merge_and_detach(album) -> None:  # noqa: ANN001
    _, _, alice, _, ids = album
    grace = person_with(alice, {ids["grace_hopper"], ids["group"]})
    faces = alice.get(f"{API}/people/{grace['id']}/faces").json()
    assert len(faces) == 2
    in_group = next(f for f in faces if f["photo_id"] == ids["group"])
    split = alice.post(f"{API}/faces/{in_group['id']}/detach")
    assert split.status_code == 200, split.text
    loner = split.json()
    assert loner["id"] != grace["id"] and loner["face_count"] == 1 and loner["name"] is None
    assert alice.get(f"{API}/people/{grace['id']}").json()["face_count"] == 1
    # Its only face cannot be split off again.
    assert alice.post(f"{API}/faces/{in_group['id']}/detach").status_code == 409
    alice.patch(f"{API}/people/{grace['id']}", json={"name": "Grace Hopper"})
    assert alice.post(f"{API}/people/{grace['id']}/merge", json={"into": grace["id"]}).status_code == 409
    merged = alice.post(f"{API}/people/{loner['id']}/merge", json={"into": grace["id"]})
    assert merged.status_code == 200, merged.text
    assert merged.json()["name"] == "Grace Hopper" and merged.json()["photo_count"] == 2
    assert alice.get(f"{API}/people/{loner['id']}").status_code == 404
    assert set(search_ids(alice, "grace hopper")) == {ids["grace_hopper"], ids["group"]}


def test_reindexing_a_photo_replaces_its_faces_and_keeps_its_person(album) -> None:  # noqa: ANN001
    from boda.apps.album import people as album_people
    from boda.apps.album.indexing import UNDERSTAND_SIDE
    from boda.apps.album.models import Photo
    from boda.apps.album.service import decode_upright

    _, runtime, alice, _, ids = album
    before = alice.get(f"{API}/photos/{ids['astronaut']}/faces").json()
    with runtime.db.session() as session:
        photo = session.get(Photo, ids["astronaut"])
        image, _ = decode_upright(runtime.store.read(photo.blob_key), max_side=UNDERSTAND_SIDE)
        assert album_people.index_faces(session, runtime, photo, image) == ["Eileen Collins"]
        session.commit()
    after = alice.get(f"{API}/photos/{ids['astronaut']}/faces").json()
    assert len(after) == 1 and after[0]["id"] != before[0]["id"] and after[0]["person_id"] == before[0]["person_id"]
    assert after[0]["box"] == before[0]["box"]


def test_other_users_get_404_on_people_faces_and_crops(album) -> None:  # noqa: ANN001
    _, _, alice, bob, ids = album
    person = people_of(alice)[0]
    face = alice.get(f"{API}/people/{person['id']}/faces").json()[0]
    assert people_of(bob) == []
    for response in (bob.get(f"{API}/people/{person['id']}"), bob.get(f"{API}/people/{person['id']}/photos"),
                     bob.patch(f"{API}/people/{person['id']}", json={"name": "x"}),
                     bob.post(f"{API}/people/{person['id']}/merge", json={"into": person["id"]}),
                     bob.get(f"{API}/faces/{face['id']}/crop"), bob.post(f"{API}/faces/{face['id']}/detach"),
                     bob.get(f"{API}/photos/{ids['astronaut']}/faces")):
        assert response.status_code == 404, response.text
    assert bob.get(f"{API}/photos", params={"person_id": person["id"]}).json()["total"] == 0


def test_a_hide_faces_album_blurs_faces_for_household_members_only(album) -> None:  # noqa: ANN001
    client, runtime, alice, _, ids = album
    carol = make_account(runtime, client, "carol")
    home = household_of(runtime, alice, carol)
    album_id = alice.post(f"{API}/albums", json={"title": "Trip"}).json()["id"]
    alice.post(f"{API}/albums/{album_id}/photos", json={"photo_ids": [ids["astronaut"]]})
    shared = alice.patch(f"{API}/albums/{album_id}", json={"visibility": "household", "household_id": home,
                                                           "hide_faces": True})
    assert shared.status_code == 200 and shared.json()["hide_faces"] is True
    thumb_url, original_url = (f"{API}/photos/{ids['astronaut']}/{kind}" for kind in ("thumbnail", "original"))
    mine, theirs = alice.get(thumb_url, params={"size": 512}), carol.get(thumb_url, params={"size": 512})
    assert mine.status_code == theirs.status_code == 200
    a, b = (np.asarray(Image.open(io.BytesIO(r.content)).convert("L"), np.float64) for r in (mine, theirs))
    assert a.shape == b.shape
    x, y, w, h = ASTRONAUT_FACE
    face_diff = np.abs(a[y:y + h, x:x + w] - b[y:y + h, x:x + w]).mean()
    outside = np.abs(a[400:, :100] - b[400:, :100]).mean()  # a corner far from the face
    assert face_diff > 8 and outside < 3, (face_diff, outside)
    # Carol sees the photo but not Alice's names: searching the name finds nothing, caption included.
    assert "Eileen" not in (carol.get(f"{API}/photos/{ids['astronaut']}").json()["caption"] or "")
    assert ids["astronaut"] not in [i["photo"]["id"] for i in carol.get(
        f"{API}/search", params={"q": "Eileen Collins"}).json()["items"] if "text" in i["matched"]]
    # The owner's original is the bytes uploaded; carol's is a re-encoding without EXIF.
    assert alice.get(original_url).content == (FACES / "astronaut.jpg").read_bytes()
    other = carol.get(original_url)
    assert other.status_code == 200 and other.headers["content-type"] == "image/webp"
    # Hiding off: carol gets the stored thumbnail again.
    alice.patch(f"{API}/albums/{album_id}", json={"hide_faces": False})
    assert carol.get(thumb_url, params={"size": 512}).content == mine.content
    # An album someone else filed the photo in shares it with nobody, so its hiding does not blur it either.
    own = carol.post(f"{API}/albums", json={"title": "Carol's"}).json()
    assert carol.patch(f"{API}/albums/{own['id']}", json={"hide_faces": True}).json()["hide_faces"] is True
    filed = carol.post(f"{API}/albums/{own['id']}/photos", json={"photo_ids": [ids["astronaut"]]})
    assert filed.status_code < 300 and filed.json()["photo_count"] == 1, filed.text
    assert carol.get(thumb_url, params={"size": 512}).content == mine.content


def test_people_pages_for_the_owner_only(album) -> None:  # noqa: ANN001
    import re

    client, _, alice, bob, ids = album
    people = people_of(alice)
    named = next(p for p in people if p["name"])
    client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    try:
        page = client.get("/album/people")
        assert page.status_code == 200 and 'data-testid="people-grid"' in page.text
        assert named["name"] in page.text and named["cover_url"] in page.text and 'class="person-merge' in page.text
        person = client.get(f"/album/people/{named['id']}")
        photos = {p["id"] for p in alice.get(named["photos_url"]).json()["items"]}
        assert person.status_code == 200 and photos and all(pid in person.text for pid in photos)
        assert photos <= {ids["astronaut"], ids["grace_hopper"], ids["group"]}
        assert 'data-action="detach-face"' in person.text
        album_id = alice.post(f"{API}/albums", json={"title": "Faces"}).json()["id"]
        album_page = client.get(f"/album/albums/{album_id}").text
        assert 'id="album-hide-faces"' in album_page
        client.get("/lang/ko")
        ko = client.get("/album/people").text
        assert "인물" in ko and "Merge" not in ko
        client.get("/lang/en")
        for html in (page.text, person.text, album_page):
            assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html and "<style" not in html
    finally:
        client.post("/api/v1/auth/logout")
    assert bob.get(f"/album/people/{named['id']}").status_code == 404


def test_trashed_and_purged_photos_leave_their_people(album) -> None:  # noqa: ANN001
    _, _, alice, _, ids = album
    eileen = person_with(alice, {ids["astronaut"], ids["group"]})  # named or not: runs alone (-k) too
    assert eileen["photo_count"] == 2
    assert alice.delete(f"{API}/photos/{ids['group']}").status_code == 204
    assert alice.get(f"{API}/people/{eileen['id']}").json()["photo_count"] == 1
    assert alice.delete(f"{API}/trash").json() == {"deleted": 1}
    after = alice.get(f"{API}/people/{eileen['id']}").json()
    assert after["photo_count"] == 1 and after["face_count"] == 1
    assert len(people_of(alice)) == 2  # the cameraman was only in the group photo
