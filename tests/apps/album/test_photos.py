"""Album's photo API: upload of every format, EXIF, duplicates, refusals, access, trash, filters."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from boda.apps.album.models import Photo
from boda.core.models import Job, StoredFile
from boda.core.runtime import Runtime
from tests.apps.album.images import encode, exif_jpeg, picture
from tests.conftest import Account

API = "/api/v1/album"


def upload(account: Account, *files: tuple[str, bytes], status: int = 201) -> list[dict]:
    response = account.post(f"{API}/photos", files=[("files", (name, data)) for name, data in files])
    assert response.status_code == status, response.text
    return response.json()


def counts(runtime: Runtime) -> tuple[int, int]:
    """Photos and core files in the database."""
    with runtime.db.session() as session:
        return (session.scalar(select(func.count()).select_from(Photo)) or 0,
                session.scalar(select(func.count()).select_from(StoredFile)) or 0)


def blobs(runtime: Runtime) -> int:
    from boda.core.uploads import sweep_orphans

    sweep_orphans(runtime.db, runtime.store, grace_seconds=0)
    return sum(1 for p in Path(runtime.store.root).rglob("*") if p.is_file())


@pytest.mark.parametrize(("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp"),
                                           ("HEIF", "image/heic"), ("GIF", "image/gif")])
def test_upload_each_format_makes_thumbnails_and_an_index_job(alice: Account, runtime: Runtime, fmt: str,
                                                                mime: str) -> None:
    data = encode(picture(3, (640, 400)), fmt)
    [photo] = upload(alice, (f"p.{fmt.lower()}", data))
    assert photo["mime"] == mime and (photo["width"], photo["height"]) == (640, 400)
    assert photo["thumbnail_sizes"] == [256, 1024] and len(photo["phash"]) == 16 and photo["duplicate_of"] is None
    small = alice.get(photo["thumbnail_url"], params={"size": 200})
    assert small.headers["content-type"] == "image/webp"
    assert Image.open(io.BytesIO(small.content)).size == (256, 160)
    big = Image.open(io.BytesIO(alice.get(photo["thumbnail_url"], params={"size": 2000}).content))
    assert big.size == (640, 400)  # never enlarged
    original = alice.get(photo["original_url"])
    assert original.status_code == 200 and original.content == data
    with runtime.db.session() as session:
        job = session.scalar(select(Job).where(Job.kind == "album.index"))
        assert job is not None and job.payload == {"photo_ids": [photo["id"]]}
        assert job.status == "succeeded"
        assert job.result == {"photos": 1, "found": 1, "completed": 0, "indexed": 1,
                              "backend": runtime.ai.get("image_text_embedder").key}


def test_gif_uses_its_first_frame(alice: Account) -> None:
    frames = [Image.new("RGB", (40, 30), color) for color in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    [photo] = upload(alice, ("anim.gif", buffer.getvalue()))
    thumb = Image.open(io.BytesIO(alice.get(photo["thumbnail_url"]).content)).convert("RGB")
    red, _, blue = thumb.getpixel((20, 15))
    assert red > 200 and blue < 50


def test_exif_date_camera_gps_and_orientation(alice: Account) -> None:
    [photo] = upload(alice, ("cam.jpg", exif_jpeg(orientation=6)))
    assert photo["taken_at"].startswith("2021-05-05T22:08:09")  # 07:08:09 at +09:00, in UTC
    assert (photo["camera_make"], photo["camera_model"]) == ("Canon", "EOS 5D")
    assert photo["gps_lat"] == pytest.approx(37.5) and photo["gps_lon"] == pytest.approx(-122.26)
    assert (photo["width"], photo["height"]) == (64, 96)  # a quarter turn: upright is portrait
    thumb = Image.open(io.BytesIO(alice.get(photo["thumbnail_url"]).content))
    assert thumb.size == (64, 96)
    [plain] = upload(alice, ("plain.png", encode(picture(9), "PNG")))
    assert plain["camera_make"] is None and plain["gps_lat"] is None
    taken = datetime.fromisoformat(plain["taken_at"])
    assert abs(taken - datetime.now(UTC)) < timedelta(minutes=1)  # no EXIF date: the upload time


def test_exact_duplicate_is_stored_once_and_near_duplicates_are_shown(alice: Account, bob: Account,
                                                                      runtime: Runtime) -> None:
    data = encode(picture(5, (320, 240)), "JPEG", quality=95)
    [first] = upload(alice, ("a.jpg", data))
    before = counts(runtime)
    again = upload(alice, ("copy.jpg", data), ("same.jpg", data))
    assert [p["id"] for p in again] == [first["id"]] * 2 and all(p["duplicate_of"] == first["id"] for p in again)
    assert counts(runtime) == before
    [other] = upload(bob, ("a.jpg", data))  # another user's library has its own copy
    assert other["duplicate_of"] is None and other["id"] != first["id"]

    [near] = upload(alice, ("near.png", encode(picture(5, (320, 240)).resize((300, 225)), "PNG")))
    [far] = upload(alice, ("far.jpg", encode(picture(77, (320, 240)), "JPEG")))
    detail = alice.get(f"{API}/photos/{first['id']}").json()
    assert detail["near_duplicates"] == [near["id"]]  # not bob's copy (not visible), not the other picture
    assert far["id"] not in detail["near_duplicates"]


@pytest.mark.parametrize(("name", "data", "status"), [
    ("broken.jpg", encode(picture(1), "JPEG")[:300], 400),
    ("notes.jpg", b"just some text, not an image" * 10, 415),
    ("../../etc/passwd", b"\x00" * 100, 415),
    ("empty.png", b"", 400),
])
def test_refused_files_store_nothing(alice: Account, runtime: Runtime, name: str, data: bytes, status: int) -> None:
    response = alice.post(f"{API}/photos", files=[("files", ("good.png", encode(picture(2), "PNG"))),
                                                   ("files", (name, data))])
    assert response.status_code == status, response.text
    assert response.json()["error"]["details"]["filename"] == name.rsplit("/", 1)[-1]
    assert counts(runtime) == (0, 0) and blobs(runtime) == 0


def test_a_path_in_the_file_name_is_only_a_display_name(alice: Account, runtime: Runtime) -> None:
    [photo] = upload(alice, ("../../../etc/cron.d/x.png", encode(picture(4), "PNG")))
    assert photo["filename"] == "x.png"
    assert not any(".." in str(p) or "cron" in str(p) for p in Path(runtime.store.root).rglob("*"))


def test_other_users_photos_are_not_found(alice: Account, bob: Account, client) -> None:  # noqa: ANN001
    [photo] = upload(alice, ("a.jpg", exif_jpeg()))
    for path in ("", "/thumbnail", "/original"):
        assert bob.get(f"{API}/photos/{photo['id']}{path}").status_code == 404
        assert client.get(f"{API}/photos/{photo['id']}{path}").status_code == 404  # anonymous
    assert bob.patch(f"{API}/photos/{photo['id']}", json={"favorite": True}).status_code == 404
    assert bob.delete(f"{API}/photos/{photo['id']}").status_code == 404
    assert bob.post(f"{API}/photos/{photo['id']}/tags", json={"name": "x"}).status_code == 404
    assert bob.get(f"{API}/photos").json()["total"] == 0
    # Unlisted: the link works for anyone, the id still does not list it.
    shared = alice.patch(f"{API}/photos/{photo['id']}", json={"visibility": "unlisted"}).json()
    assert client.get(shared["share_url"]).status_code == 200
    assert client.get(shared["share_url"].replace("/original", "/thumbnail")).status_code == 200
    assert bob.get(f"{API}/photos").json()["total"] == 0
    alice.patch(f"{API}/photos/{photo['id']}", json={"visibility": "private"})
    assert client.get(shared["share_url"]).status_code == 404


def test_trash_restore_empty_and_purge(alice: Account, runtime: Runtime) -> None:
    from boda.apps.album.jobs import purge_trash

    ids = [p["id"] for p in upload(alice, *[(f"{i}.png", encode(picture(10 + i), "PNG")) for i in range(3)])]
    assert alice.delete(f"{API}/photos/{ids[0]}").status_code == 204
    assert alice.get(f"{API}/photos").json()["total"] == 2
    trash = alice.get(f"{API}/photos", params={"trashed": "true"}).json()
    assert [p["id"] for p in trash["items"]] == [ids[0]] and trash["items"][0]["trashed_at"]
    # Gone from its address as a deleted photo would be; its thumbnail still shows in the owner's trash.
    assert alice.get(f"{API}/photos/{ids[0]}").status_code == 404
    assert alice.patch(f"{API}/photos/{ids[0]}", json={"favorite": True}).status_code == 404
    assert alice.get(f"{API}/photos/{ids[0]}/thumbnail").status_code == 200
    assert alice.post(f"{API}/photos/{ids[0]}/restore").json()["trashed_at"] is None
    assert alice.get(f"{API}/photos").json()["total"] == 3

    alice.delete(f"{API}/photos/{ids[1]}")
    assert alice.delete(f"{API}/trash").json() == {"deleted": 1}
    assert alice.get(f"{API}/photos/{ids[1]}").status_code == 404
    assert counts(runtime) == (2, 6)  # two photos, each an original and two thumbnails

    alice.delete(f"{API}/photos/{ids[2]}")
    with runtime.db.session() as session:  # trashed 31 days ago: past album.trash_days (30)
        session.get(Photo, ids[2]).trashed_at = datetime.now(UTC) - timedelta(days=31)
    assert purge_trash(runtime) == 1
    # Blobs are shared by content: a small photo's two thumbnails are the same bytes.
    assert counts(runtime) == (1, 3) and blobs(runtime) == 2
    alice.delete(f"{API}/photos/{ids[0]}")  # trashed just now: kept
    assert purge_trash(runtime) == 0
    assert alice.post(f"{API}/photos/{ids[0]}/restore").status_code == 200


def test_purged_photos_leave_the_vector_store(alice: Account, runtime: Runtime) -> None:
    """Emptying the trash and the periodic purge delete the photos' vectors, from every space that may hold them."""
    from boda.apps.album.classifying import current_key
    from boda.apps.album.indexing import space_for
    from boda.apps.album.jobs import purge_trash
    from boda.apps.album.models import Classifier, ClassifierVersion

    ids = [p["id"] for p in upload(alice, *[(f"{i}.png", encode(picture(20 + i), "PNG")) for i in range(3)])]
    space, old = space_for(current_key(runtime)), space_for("clip:old")
    vectors = {pid: runtime.vectors.get(space, pid) for pid in ids}
    assert all(v is not None for v in vectors.values())
    # A classifier trained on another backend read vectors from that backend's space: it may hold them too.
    runtime.vectors.upsert(old, ids, np.stack([vectors[pid] for pid in ids]))
    with runtime.db.session() as session:
        classifier = Classifier(owner_id=alice.id, name="old", classes=["a", "b"])
        session.add(classifier)
        session.flush()
        session.add(ClassifierVersion(classifier_id=classifier.id, number=1, head={}, embedder_key="clip:old",
                                      accuracy=1.0, folds=2, confusion=[], counts={}))
        session.commit()

    def found(space_name: str, pid: str) -> list[str]:
        return [hit for hit, _ in runtime.vectors.search(space_name, vectors[pid], k=10)]

    assert found(space, ids[0])[0] == ids[0] and found(old, ids[0])[0] == ids[0]
    alice.delete(f"{API}/photos/{ids[0]}")
    assert runtime.vectors.get(space, ids[0]) is not None  # the trash keeps them: a restore finds it again
    assert alice.delete(f"{API}/trash").json() == {"deleted": 1}
    for name in (space, old):
        assert ids[0] not in found(name, ids[0]) and runtime.vectors.get(name, ids[0]) is None
        assert runtime.vectors.count(name) == 2
    alice.delete(f"{API}/photos/{ids[1]}")
    with runtime.db.session() as session:  # trashed 31 days ago: the periodic purge takes it
        session.get(Photo, ids[1]).trashed_at = datetime.now(UTC) - timedelta(days=31)
        session.commit()
    assert purge_trash(runtime) == 1
    assert [runtime.vectors.count(name) for name in (space, old)] == [1, 1]
    assert found(space, ids[1]) == [ids[2]] and found(old, ids[1]) == [ids[2]]
    # Search through the API ranks what the store holds: the purged photos are not there.
    hits = alice.get(f"{API}/search", params={"q": "a photo"}).json()["items"]
    assert [h["photo"]["id"] for h in hits] == [ids[2]]


def test_the_purge_is_a_periodic_task_of_the_worker(runtime: Runtime) -> None:
    names = [task.name for task in runtime.queue.maintenance.tasks]
    assert "album.purge_trash" in names and "sweep_blobs" in names


def test_filters(alice: Account, runtime: Runtime) -> None:
    [cam] = upload(alice, ("cam.jpg", exif_jpeg(seed=21)))
    [plain] = upload(alice, ("plain.png", encode(picture(22), "PNG")))
    with runtime.db.session() as session:
        session.get(Photo, plain["id"]).ocr_text = "RECEIPT 12,000"

    def ids(**params: object) -> list[str]:
        response = alice.get(f"{API}/photos", params=params)
        assert response.status_code == 200, response.text
        return [p["id"] for p in response.json()["items"]]

    assert ids() == [plain["id"], cam["id"]]  # newest taken first
    assert ids(oldest_first="true") == [cam["id"], plain["id"]]
    assert ids(date_to="2022-01-01T00:00:00Z") == [cam["id"]]
    assert ids(date_from="2022-01-01T00:00:00Z") == [plain["id"]]
    for bad in ("0.5", "2022-01-01", "2022-01-01T00:00:00"):  # only RFC 3339 with a zone, as the schema says
        assert alice.get(f"{API}/photos", params={"date_from": bad}).status_code == 422
    assert ids(camera="eos") == [cam["id"]] and ids(camera="nikon") == []
    assert ids(min_lat=37, max_lat=38, min_lon=-123, max_lon=-122) == [cam["id"]]
    assert ids(min_lat=0, max_lat=10) == []
    assert ids(has_text="true") == [plain["id"]] and ids(has_text="false") == [cam["id"]]
    alice.patch(f"{API}/photos/{cam['id']}", json={"favorite": True})
    assert ids(favorite="true") == [cam["id"]]
    tagged = alice.post(f"{API}/photos/{plain['id']}/tags", json={"name": "  Receipts "}).json()
    assert tagged["tags"] == [{"name": "receipts", "source": "user", "score": None}]
    assert ids(tag="RECEIPTS") == [plain["id"]]
    assert alice.delete(f"{API}/photos/{plain['id']}/tags/receipts").status_code == 204
    assert ids(tag="receipts") == []
    assert alice.delete(f"{API}/photos/{plain['id']}/tags/receipts").status_code == 404
    moved = alice.patch(f"{API}/photos/{plain['id']}", json={"taken_at": "2000-01-01T09:00:00+09:00"}).json()
    assert moved["taken_at"].startswith("2000-01-01T00:00:00")
    assert ids() == [cam["id"], plain["id"]]
    page = alice.get(f"{API}/photos", params={"limit": 1, "offset": 1}).json()
    assert page["total"] == 2 and [p["id"] for p in page["items"]] == [plain["id"]]


def test_filter_query_is_a_pure_select() -> None:
    from sqlalchemy import Select

    from boda.apps.album.service import PhotoFilters, photo_filter_query
    from boda.core.auth import Scope

    query = photo_filter_query(Scope(user_id="u1"), PhotoFilters(camera="x", has_text=True, min_lat=1))
    assert isinstance(query, Select)
    assert "album_photos" in str(query) and "ocr_text" in str(query)
