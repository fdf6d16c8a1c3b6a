"""Files: deletion, shared blobs, the orphan sweep, missing blobs, and schema drift."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.exc import OperationalError

from boda.core import households, uploads
from boda.core.apps import load_models
from boda.core.db import Base, schema_filter
from boda.core.runtime import Runtime
from boda.core.uploads import sweep_orphans
from tests.apps.album.images import encode, exif_jpeg, picture
from tests.conftest import FIXTURES, Account

PHOTO = (FIXTURES / "faces" / "astronaut.jpg").read_bytes()


def encode_heic(exif: Image.Exif) -> bytes:
    return encode(picture(22, (120, 90)), "HEIF", exif=exif.tobytes())


def _upload(account: Account) -> dict:
    response = account.post("/api/v1/vision/anonymize", files={"file": ("a.jpg", PHOTO, "image/jpeg")})
    assert response.status_code == 201, response.text
    return response.json()


def test_same_bytes_from_two_users_survive_one_delete(client: TestClient, runtime: Runtime, alice: Account,
                                                      bob: Account) -> None:
    mine, theirs = _upload(alice), _upload(bob)
    assert alice.delete(f"/api/v1/files/{mine['original']['id']}").status_code == 204
    assert alice.get(mine["original"]["url"]).status_code == 404
    assert alice.get(mine["anonymized"]["url"]).status_code == 404  # made from it, gone with it
    assert sweep_orphans(runtime.db, runtime.store, grace_seconds=0) == 0  # bob still uses both blobs
    assert bob.get(theirs["original"]["url"]).content == PHOTO


def test_sweep_waits_for_the_grace_period(client: TestClient, runtime: Runtime, alice: Account) -> None:
    made = _upload(alice)
    assert alice.delete(f"/api/v1/vision/anonymizations/{made['id']}").status_code == 204
    key_dir = Path(runtime.store.root)
    assert sweep_orphans(runtime.db, runtime.store, grace_seconds=3600) == 0
    assert any(p.is_file() for p in key_dir.rglob("*"))  # an upload of the same bytes may be in flight
    assert sweep_orphans(runtime.db, runtime.store, grace_seconds=0) == 2
    assert not any(p.is_file() for p in key_dir.rglob("*"))


def test_only_owners_delete_files(client: TestClient, alice: Account, bob: Account) -> None:
    made = _upload(alice)
    assert bob.delete(f"/api/v1/files/{made['original']['id']}").status_code == 404
    assert alice.get(made["original"]["url"]).status_code == 200


def test_missing_blob_is_a_404_not_an_empty_200(client: TestClient, runtime: Runtime, alice: Account) -> None:
    made = _upload(alice)
    for path in Path(runtime.store.root).rglob("*"):
        if path.is_file():
            path.unlink()
    response = alice.get(made["original"]["url"])
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_share_link_is_given_to_the_owner(client: TestClient, alice: Account) -> None:
    made = _upload(alice)
    shared = alice.patch(f"/api/v1/files/{made['anonymized']['id']}", json={"visibility": "unlisted"}).json()
    assert shared["share_url"].startswith("/api/v1/shared/")
    assert client.get(shared["share_url"]).content[:3] == b"\xff\xd8\xff"


def test_migrations_match_the_models(runtime: Runtime) -> None:
    load_models()
    with runtime.db.engine.connect() as connection:
        only_ours = schema_filter(connection.dialect.name)  # as env.py: another engine's own indexes are not asked for
        context = MigrationContext.configure(connection, opts={"include_object": only_ours})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_unlisting_again_issues_a_fresh_link(client: TestClient, alice: Account) -> None:
    copy_id = _upload(alice)["anonymized"]["id"]
    first = alice.patch(f"/api/v1/files/{copy_id}", json={"visibility": "unlisted"}).json()["share_url"]
    same = alice.patch(f"/api/v1/files/{copy_id}", json={"visibility": "unlisted"}).json()["share_url"]
    assert same == first  # still unlisted: the link stays
    for detour in ("public", "private"):
        alice.patch(f"/api/v1/files/{copy_id}", json={"visibility": detour})
        again = alice.patch(f"/api/v1/files/{copy_id}", json={"visibility": "unlisted"}).json()["share_url"]
        assert again != first and client.get(again).status_code == 200
        assert client.get(first).status_code == 404  # the old link died
        first = again


def test_downloads_take_the_extension_of_the_bytes(client: TestClient, alice: Account) -> None:
    made = alice.post("/api/v1/vision/anonymize", files={"file": ("page.html", PHOTO, "text/html")}).json()
    original = made["original"]
    assert original["filename"] == "page.html" and original["content_type"] == "image/jpeg"
    for download in ("true", "false"):
        response = alice.get(original["url"], params={"download": download})
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["content-disposition"].endswith("filename*=UTF-8''page.jpg")
    named = alice.post("/api/v1/vision/anonymize", files={"file": ("사진", PHOTO, "image/jpeg")}).json()
    disposition = alice.get(named["original"]["url"], params={"download": "true"}).headers["content-disposition"]
    assert disposition == "attachment; filename*=UTF-8''%EC%82%AC%EC%A7%84.jpg"


def test_a_file_recorded_by_work_that_rolls_back_leaves_its_blob_to_the_sweep(
        runtime: Runtime, alice: Account, caplog: pytest.LogCaptureFixture) -> None:
    """3D Studio's and Vision's jobs store what they made, then record it; an error after that rolls back."""
    made = uploads.prepare_bytes(runtime.store, b"a converted model", filename="m.obj", content_type="model/obj")
    kept = uploads.prepare_bytes(runtime.store, b"a converted model", filename="m.obj", content_type="model/obj")
    assert made.created and not kept.created  # the second store found the bytes there: not its to take away
    with pytest.raises(RuntimeError, match="after the file"), runtime.db.session() as session:
        uploads.record(session, made, owner_id=alice.id, app="studio")
        raise RuntimeError("after the file")
    assert sweep_orphans(runtime.db, runtime.store, grace_seconds=0) == 1
    assert not runtime.store.exists(made.blob_key)

    # The mark is a cleanup: when it fails too, the error that rolled the work back is the one raised.
    again = uploads.prepare_bytes(runtime.store, b"another model", filename="n.obj", content_type="model/obj")
    locked = OperationalError("INSERT", {}, Exception("database is locked"))
    with (pytest.raises(RuntimeError, match="the real error"), caplog.at_level(logging.WARNING, "boda.core.uploads"),
          patch.object(uploads, "mark_orphans", side_effect=locked), runtime.db.session() as session):
        uploads.record(session, again, owner_id=alice.id, app="studio")
        raise RuntimeError("the real error")
    assert "could not mark 1 stored blob" in caplog.text and runtime.store.exists(again.blob_key)


def test_a_shared_image_reaches_strangers_without_where_it_was_taken(client: TestClient, runtime: Runtime,
                                                                      alice: Account, bob: Account) -> None:
    """Any app's file, made public or shared by link: the owner's household may know the place, nobody else."""
    taken = exif_jpeg(21)
    made = alice.post("/api/v1/vision/anonymize", files={"file": ("home.jpg", taken, "image/jpeg")}).json()
    original = made["original"]
    alice.patch(f"/api/v1/files/{original['id']}", json={"visibility": "public"})
    link = alice.patch(f"/api/v1/files/{original['id']}", json={"visibility": "unlisted"}).json()["share_url"]
    alice.patch(f"/api/v1/files/{original['id']}", json={"visibility": "public"})

    assert alice.get(original["url"]).content == taken
    for answer in (bob.get(original["url"]), client.get(original["url"]), client.get(link)):
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
        assert 0x8825 not in Image.open(io.BytesIO(answer.content)).getexif()
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(answer.content))),
                              np.asarray(Image.open(io.BytesIO(taken))))

    # Not a JPEG: re-encoded, and named for what it now is.
    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "N", 2: (37.0, 30.0, 0.0)})
    heic = alice.post("/api/v1/vision/anonymize", files={"file": ("home.heic", encode_heic(exif), "image/heic")})
    heic_original = heic.json()["original"]
    alice.patch(f"/api/v1/files/{heic_original['id']}", json={"visibility": "public"})
    seen = bob.get(heic_original["url"], params={"download": True})
    assert seen.headers["content-type"] == "image/jpeg" and "home.jpg" in seen.headers["content-disposition"]
    assert not Image.open(io.BytesIO(seen.content)).getexif()

    with runtime.db.session() as session:  # in a household with alice, bob may know her places
        home = households.create(session, user_id=alice.id, name="Home")
        _, code = households.invite(session, household_id=home.id, user_id=alice.id, days=1)
        households.accept(session, code=code, user_id=bob.id)
    assert bob.get(original["url"]).content == taken
    assert bob.get(heic_original["url"]).headers["content-type"] == "image/heic"
