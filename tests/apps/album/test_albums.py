"""Albums: CRUD, membership, household sharing (members see, strangers do not), covers."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from boda.core import households
from boda.core.location import GPS_IFD
from boda.core.runtime import Runtime
from tests.apps.album.images import encode, exif_jpeg, picture
from tests.conftest import Account, make_account

API = "/api/v1/album"


def photo(account: Account, seed: int) -> str:
    response = account.post(f"{API}/photos", files=[("files", (f"{seed}.png", encode(picture(seed), "PNG")))])
    assert response.status_code == 201, response.text
    return response.json()[0]["id"]


def household_of(runtime: Runtime, owner: Account, *members: Account) -> str:
    with runtime.db.session() as session:
        home = households.create(session, user_id=owner.id, name="Home")
        for member in members:
            _, code = households.invite(session, household_id=home.id, user_id=owner.id, days=1)
            households.accept(session, code=code, user_id=member.id)
        return home.id


def test_album_crud_and_membership(alice: Account, bob: Account) -> None:
    first, second = photo(alice, 1), photo(alice, 2)
    album = alice.post(f"{API}/albums", json={"title": "Trip", "description": "Jeju"})
    assert album.status_code == 201
    album_id = album.json()["id"]
    added = alice.post(f"{API}/albums/{album_id}/photos", json={"photo_ids": [first, second, first]}).json()
    assert added["photo_count"] == 2 and added["cover_photo_id"] == first
    listed = alice.get(f"{API}/photos", params={"album_id": album_id}).json()
    assert {p["id"] for p in listed["items"]} == {first, second}
    assert alice.get(f"{API}/photos/{first}").json()["album_ids"] == [album_id]
    renamed = alice.patch(f"{API}/albums/{album_id}", json={"title": "Jeju 2026", "cover_photo_id": second}).json()
    assert renamed["title"] == "Jeju 2026" and renamed["cover_url"].endswith(f"/{second}/thumbnail")
    removed = alice.post(f"{API}/albums/{album_id}/photos/remove", json={"photo_ids": [second]}).json()
    assert removed["photo_count"] == 1 and removed["cover_photo_id"] == first
    # Trashing a photo hides it from the album's count; the album itself stays.
    alice.delete(f"{API}/photos/{first}")
    assert alice.get(f"{API}/albums/{album_id}").json()["photo_count"] == 0
    assert [a["id"] for a in alice.get(f"{API}/albums").json()["items"]] == [album_id]

    # Another user: not found, whatever they try; nor may they add their own photos to it.
    bobs = photo(bob, 3)
    assert bob.get(f"{API}/albums/{album_id}").status_code == 404
    assert bob.get(f"{API}/photos", params={"album_id": album_id}).status_code == 404
    assert bob.patch(f"{API}/albums/{album_id}", json={"title": "mine"}).status_code == 404
    assert bob.post(f"{API}/albums/{album_id}/photos", json={"photo_ids": [bobs]}).status_code == 404
    assert bob.delete(f"{API}/albums/{album_id}").status_code == 404
    # Nor may alice put bob's photo in her album: skipped, as an id that does not exist is.
    skipped = alice.post(f"{API}/albums/{album_id}/photos", json={"photo_ids": [bobs, "no-such-id"]})
    assert skipped.status_code == 200 and skipped.json()["photo_count"] == 0
    assert bob.get(f"{API}/albums").json()["total"] == 0

    assert alice.delete(f"{API}/albums/{album_id}").status_code == 204
    assert alice.get(f"{API}/albums/{album_id}").status_code == 404
    assert alice.post(f"{API}/photos/{first}/restore").status_code == 200  # photos outlive their album


def test_household_album_is_seen_by_members_not_strangers(client, alice: Account, bob: Account,  # noqa: ANN001
                                                          runtime: Runtime) -> None:
    carol = make_account(runtime, client, "carol")
    home = household_of(runtime, alice, bob)
    mine = photo(alice, 4)
    album_id = alice.post(f"{API}/albums", json={"title": "Family"}).json()["id"]
    alice.post(f"{API}/albums/{album_id}/photos", json={"photo_ids": [mine]})
    assert bob.get(f"{API}/albums/{album_id}").status_code == 404  # private until shared
    shared = alice.patch(f"{API}/albums/{album_id}", json={"visibility": "household", "household_id": home})
    assert shared.status_code == 200 and shared.json()["household_id"] == home

    # A member sees the album, its photos (also in the library), and may add their own.
    assert bob.get(f"{API}/albums/{album_id}").json()["title"] == "Family"
    assert [a["id"] for a in bob.get(f"{API}/albums").json()["items"]] == [album_id]
    assert [p["id"] for p in bob.get(f"{API}/photos").json()["items"]] == [mine]
    for path in ("", "/thumbnail", "/original"):
        assert bob.get(f"{API}/photos/{mine}{path}").status_code == 200
    bobs = photo(bob, 5)
    assert bob.post(f"{API}/albums/{album_id}/photos", json={"photo_ids": [bobs]}).json()["photo_count"] == 2
    assert {p["id"] for p in alice.get(f"{API}/photos", params={"album_id": album_id}).json()["items"]} == {
        mine, bobs}
    # ... but may not change or delete the album, nor alice's photo.
    assert bob.patch(f"{API}/albums/{album_id}", json={"title": "x"}).status_code == 404
    assert bob.delete(f"{API}/albums/{album_id}").status_code == 404
    assert bob.patch(f"{API}/photos/{mine}", json={"favorite": True}).status_code == 404

    # A stranger sees nothing of it.
    assert carol.get(f"{API}/albums/{album_id}").status_code == 404
    for path in ("", "/thumbnail", "/original"):
        assert carol.get(f"{API}/photos/{mine}{path}").status_code == 404
    assert carol.get(f"{API}/photos").json()["total"] == 0
    # A household carol is not in cannot be named.
    assert carol.patch(f"{API}/photos/{photo(carol, 6)}",
                       json={"visibility": "household", "household_id": home}).status_code == 409  # not her household

    # A trashed photo leaves the shared album for everyone but its owner.
    alice.delete(f"{API}/photos/{mine}")
    assert bob.get(f"{API}/photos/{mine}").status_code == 404

    # Leaving the household ends access at once.
    alice.post(f"{API}/photos/{mine}/restore")
    with runtime.db.session() as session:
        households.leave(session, household_id=home, user_id=bob.id)
    assert bob.get(f"{API}/albums/{album_id}").status_code == 404
    assert bob.get(f"{API}/photos/{mine}").status_code == 404


def test_a_photo_shared_with_the_household_directly(alice: Account, bob: Account, runtime: Runtime) -> None:
    home = household_of(runtime, alice, bob)
    mine = photo(alice, 7)
    out = alice.patch(f"{API}/photos/{mine}", json={"visibility": "household", "household_id": home})
    assert out.status_code == 200 and out.json()["visibility"] == "household"
    assert [p["id"] for p in bob.get(f"{API}/photos").json()["items"]] == [mine]
    assert alice.patch(f"{API}/photos/{mine}", json={"visibility": "private"}).status_code == 200
    assert bob.get(f"{API}/photos/{mine}").status_code == 404


def test_deleting_an_account_takes_its_photos_out_of_shared_albums(alice: Account, bob: Account,
                                                                  runtime: Runtime) -> None:
    from boda.core.accounts import delete_user
    from boda.core.models import User

    home = household_of(runtime, alice, bob)
    album_id = alice.post(f"{API}/albums", json={"title": "Family"}).json()["id"]
    alice.patch(f"{API}/albums/{album_id}", json={"visibility": "household", "household_id": home})
    bobs = photo(bob, 11)
    bob.post(f"{API}/albums/{album_id}/photos", json={"photo_ids": [bobs]})
    assert alice.get(f"{API}/albums/{album_id}").json()["cover_photo_id"] == bobs
    with runtime.db.session() as session:
        delete_user(session, user=session.get(User, bob.id))
    album = alice.get(f"{API}/albums/{album_id}").json()
    assert album["photo_count"] == 0 and album["cover_photo_id"] is None
    assert alice.get(f"{API}/photos/{bobs}").status_code == 404


def test_sharing_with_a_household_one_is_not_in_is_a_conflict(alice: Account, bob: Account) -> None:
    """The photo and album are there; only the household named is wrong: 409, and nothing changes."""
    theirs = bob.post("/api/v1/households", json={"name": "bob's"}).json()["id"]
    photo = alice.post(f"{API}/photos", files={"files": ("p.png", encode(picture(11), "PNG"))}).json()[0]
    album = alice.post(f"{API}/albums", json={"title": "trip"}).json()
    for url in (f"{API}/photos/{photo['id']}", f"{API}/albums/{album['id']}"):
        for household in (theirs, "0" * 36):
            refused = alice.patch(url, json={"visibility": "household", "household_id": household})
            assert refused.status_code == 409 and refused.json()["error"]["message"], refused.text
        assert alice.get(url).json()["visibility"] == "private"


def test_an_album_shares_only_what_each_photos_owner_put_in_it(client, alice: Account, bob: Account,  # noqa: ANN001
                                                                runtime: Runtime) -> None:
    """Seeing a photo is not the right to share it: bob may file alice's household photo in his own
    album, but making that album public shows it to nobody new; and a member who leaves takes their
    photos out of the household's albums (found by a review: all of these leaked before)."""
    carol, dave = make_account(runtime, client, "carol"), make_account(runtime, client, "dave")
    home = household_of(runtime, alice, bob, dave)
    hers = photo(alice, 21)
    alice.patch(f"{API}/photos/{hers}", json={"visibility": "household", "household_id": home})
    bobs_album = bob.post(f"{API}/albums", json={"title": "Picked"}).json()["id"]
    assert bob.post(f"{API}/albums/{bobs_album}/photos", json={"photo_ids": [hers]}).json()["photo_count"] == 1
    assert bob.patch(f"{API}/albums/{bobs_album}", json={"visibility": "public"}).status_code == 200
    seen = carol.get(f"{API}/albums/{bobs_album}").json()
    assert seen["photo_count"] == 0  # the album is public, her photo not
    assert seen["cover_photo_id"] is None and seen["cover_url"] is None  # nor its id as the cover
    assert bob.get(f"{API}/albums/{bobs_album}").json()["cover_photo_id"] == hers  # bob may see it
    for path in ("", "/thumbnail", "/original"):
        assert carol.get(f"{API}/photos/{hers}{path}").status_code == 404
        assert client.get(f"{API}/photos/{hers}{path}").status_code in (401, 404)  # nor to anyone logged out
    assert carol.get(f"{API}/photos", params={"album_id": bobs_album}).json()["items"] == []
    # Making it private again takes it from bob too, though it is still filed in his album.
    alice.patch(f"{API}/photos/{hers}", json={"visibility": "private"})
    assert bob.get(f"{API}/photos/{hers}").status_code == 404
    assert bob.get(f"{API}/photos", params={"album_id": bobs_album}).json()["items"] == []

    # Bob adds his own photo to the household's album, then leaves: it goes with him.
    family = alice.post(f"{API}/albums", json={"title": "Family"}).json()["id"]
    alice.patch(f"{API}/albums/{family}", json={"visibility": "household", "household_id": home})
    his = photo(bob, 22)
    assert bob.post(f"{API}/albums/{family}/photos", json={"photo_ids": [his]}).json()["photo_count"] == 1
    assert dave.get(f"{API}/photos/{his}/original").status_code == 200
    # Bob files another of alice's household photos in her own family album; she then makes it private:
    # it was bob who put it there, so the album does not keep sharing it.
    filed = photo(alice, 24)
    alice.patch(f"{API}/photos/{filed}", json={"visibility": "household", "household_id": home})
    assert bob.post(f"{API}/albums/{family}/photos", json={"photo_ids": [filed]}).json()["photo_count"] == 2
    alice.patch(f"{API}/photos/{filed}", json={"visibility": "private"})
    assert dave.get(f"{API}/photos/{filed}").status_code == 404
    assert alice.get(f"{API}/photos/{filed}").status_code == 200
    assert dave.get(f"{API}/albums/{family}").json()["photo_count"] == 1
    # When alice adds it herself, the entry becomes hers and the album shares it (it stayed bob's before).
    assert alice.post(f"{API}/albums/{family}/photos", json={"photo_ids": [filed]}).json()["photo_count"] == 2
    assert dave.get(f"{API}/photos/{filed}").status_code == 200
    alice.post(f"{API}/albums/{family}/photos/remove", json={"photo_ids": [filed]})
    with runtime.db.session() as session:
        households.leave(session, household_id=home, user_id=bob.id)
    for viewer in (alice, dave):
        assert viewer.get(f"{API}/photos/{his}/original").status_code == 404
        assert viewer.get(f"{API}/albums/{family}").json()["photo_count"] == 0
        assert his not in {p["id"] for p in viewer.get(f"{API}/photos", params={"album_id": family}).json()["items"]}
    assert bob.get(f"{API}/photos/{his}/original").status_code == 200  # still his own


def test_searching_within_an_album_one_may_not_see_is_a_404(client, alice: Account, runtime: Runtime,  # noqa: ANN001
                                                             ) -> None:
    """Not an empty answer either: hits or counts would tell which photos are in the private album."""
    carol = make_account(runtime, client, "carol")
    public = photo(alice, 23)
    alice.patch(f"{API}/photos/{public}", json={"visibility": "public"})
    secret = alice.post(f"{API}/albums", json={"title": "Secret"}).json()["id"]
    alice.post(f"{API}/albums/{secret}/photos", json={"photo_ids": [public]})
    assert alice.get(f"{API}/search", params={"q": "colours", "album_id": secret}).status_code == 200
    for path, params in ((f"{API}/search", {"q": "colours"}), (f"{API}/photos/{public}/similar", {})):
        refused = carol.get(path, params={**params, "album_id": secret})
        assert refused.status_code == 404, (path, refused.text)
        assert refused.json()["error"]["code"] == "not_found"


def test_where_a_photo_was_taken_is_told_to_its_owner_and_households_not_to_strangers(
        client, alice: Account, bob: Account, runtime: Runtime) -> None:  # noqa: ANN001
    carol = make_account(runtime, client, "carol")
    home = household_of(runtime, alice, bob)
    original = exif_jpeg(11, orientation=6)
    uploaded = alice.post(f"{API}/photos", files=[("files", ("jeju.jpg", original))]).json()[0]
    mine, here = uploaded["id"], {"min_lat": 37, "max_lat": 38, "min_lon": -123, "max_lon": -122}
    album_id = alice.post(f"{API}/albums", json={"title": "Trip"}).json()["id"]
    alice.post(f"{API}/albums/{album_id}/photos", json={"photo_ids": [mine]})
    alice.patch(f"{API}/albums/{album_id}", json={"visibility": "public"})
    shared = alice.patch(f"{API}/photos/{mine}", json={"visibility": "unlisted"}).json()

    def place(reader) -> tuple[float | None, bytes]:  # noqa: ANN001
        detail, original_file = reader.get(f"{API}/photos/{mine}"), reader.get(f"{API}/photos/{mine}/original")
        assert detail.status_code == original_file.status_code == 200
        return detail.json()["gps_lat"], original_file.content

    # The owner and a member of her household: the position, and the file as uploaded.
    for reader in (alice, bob):
        lat, data = place(reader)
        assert lat == pytest.approx(37.5) and data == original
        listed = reader.get(f"{API}/photos", params={"album_id": album_id, **here}).json()["items"]
        assert [p["id"] for p in listed] == [mine]

    # A stranger and a link: the photo, but not where it was taken.
    strangers = [(carol, f"{API}/photos/{mine}/original"), (client, shared["share_url"])]
    for reader, url in strangers:
        answer = reader.get(url, params={"download": True})
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
        kept = Image.open(io.BytesIO(answer.content))
        exif = kept.getexif()
        assert GPS_IFD not in exif and not exif.get_ifd(GPS_IFD)
        assert exif[0x0112] == 6 and exif.get_ifd(0x8769)[0x9003] == "2021:05:06 07:08:09"  # the rest stays
        assert np.array_equal(np.asarray(kept), np.asarray(Image.open(io.BytesIO(original))))  # not re-encoded
        assert "jeju.jpg" in answer.headers["content-disposition"]
    assert place(carol)[0] is None and carol.get(f"{API}/photos/{mine}").json()["gps_lon"] is None
    thumbnail = Image.open(io.BytesIO(carol.get(f"{API}/photos/{mine}/thumbnail", params={"size": 1024}).content))
    assert thumbnail.format == "WEBP" and not thumbnail.getexif()
    assert [p["gps_lat"] for p in carol.get(f"{API}/photos", params={"album_id": album_id}).json()["items"]] == [None]
    # ... nor by asking for photos within a box around it.
    assert carol.get(f"{API}/photos", params={"album_id": album_id, **here}).json()["items"] == []

    # Leaving the household makes bob a stranger at once.
    with runtime.db.session() as session:
        households.leave(session, household_id=home, user_id=bob.id)
    assert place(bob)[0] is None and place(bob)[1] != original
