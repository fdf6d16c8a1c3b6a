"""Album's pages, rendered by the server: library, photo, albums, trash; no inline script or style."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.apps.album.images import encode, exif_jpeg, picture
from tests.conftest import PASSWORD, Account

API = "/api/v1/album"


def test_pages_render_for_the_owner_and_hide_from_others(client: TestClient, alice: Account, bob: Account) -> None:
    assert client.get("/album", follow_redirects=False).headers["location"] == "/login?next=/album"
    photos = alice.post(f"{API}/photos", files=[("files", ("cam.jpg", exif_jpeg())),
                                                ("files", ("b.png", encode(picture(8), "PNG")))]).json()
    album = alice.post(f"{API}/albums", json={"title": "Seoul <trip>"}).json()
    alice.post(f"{API}/albums/{album['id']}/photos", json={"photo_ids": [photos[0]["id"]]})
    alice.delete(f"{API}/photos/{photos[1]['id']}")
    client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})

    library = client.get("/album")
    assert library.status_code == 200
    assert f'href="/album/photos/{photos[0]["id"]}"' in library.text and photos[1]["id"] not in library.text
    assert 'id="album-drop"' in library.text and 'id="album-search"' in library.text
    page = client.get(f"/album/photos/{photos[0]['id']}").text
    assert "Canon EOS 5D" in page and "2021-05-05 22:08 UTC" in page and "Seoul &lt;trip&gt;" in page
    assert "Seoul &lt;trip&gt;" in client.get("/album/albums").text
    assert photos[0]["id"] in client.get(f"/album/albums/{album['id']}").text
    trash = client.get("/album/trash").text
    assert photos[1]["id"] in trash and 'data-action="restore"' in trash
    client.get("/lang/ko")
    ko = client.get("/album").text
    assert "보관함" in ko and "사진 올리기" not in library.text and "Library" not in ko
    client.get("/lang/en")
    for html in (library.text, page, trash):
        assert not re.search(r"<script(?![^>]*\bsrc=)", html) and " style=" not in html and "<style" not in html

    client.post("/logout")  # bob's browser: alice's photo and album are not found
    client.cookies.clear()
    client.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD})
    assert client.get(f"/album/photos/{photos[0]['id']}").status_code == 404
    assert client.get(f"/album/albums/{album['id']}").status_code == 404
    assert photos[0]["id"] not in client.get("/album").text


def test_home_card(client: TestClient) -> None:
    home = client.get("/").text
    assert 'href="/album"' in home and "Your photo library" in home


def test_the_search_filters_offer_the_callers_named_people(client: TestClient, alice: Account,
                                                            bob: Account) -> None:
    """A person menu in the filters: the caller's named people only (an unnamed group has nothing to show)."""
    from tests.apps.album.test_people import FACES

    photos = alice.post(f"{API}/photos", files=[("files", (f"{n}.jpg", (FACES / f"{n}.jpg").read_bytes()))
                                                for n in ("astronaut", "grace_hopper")]).json()
    people = alice.get(f"{API}/people").json()
    assert len(people) == 2 and all(p["name"] is None for p in people)
    eileen = next(p for p in people
                  if alice.get(f"{API}/people/{p['id']}/photos").json()["items"][0]["id"] == photos[0]["id"])
    other = next(p for p in people if p["id"] != eileen["id"])
    alice.patch(f"{API}/people/{eileen['id']}", json={"name": "Eileen <Collins>"})
    client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    library = client.get("/album").text
    menu = re.search(r'<select name="person_id">(.*?)</select>', library, re.S)
    assert menu is not None
    assert re.findall(r'<option value="([^"]*)">([^<]*)</option>', menu.group(1)) == [
        ("", "Anyone"), (eileen["id"], "Eileen &lt;Collins&gt;")]
    assert other["id"] not in library
    # The menu's value is the API's filter: only her photo.
    found = alice.get(f"{API}/photos", params={"person_id": eileen["id"]}).json()["items"]
    assert [p["id"] for p in found] == [photos[0]["id"]]
    client.get("/lang/ko")
    assert "누구나" in client.get("/album").text
    client.get("/lang/en")
    client.post("/logout")  # people are their owner's alone
    client.cookies.clear()
    client.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD})
    assert eileen["id"] not in client.get("/album").text and "Eileen" not in client.get("/album").text
