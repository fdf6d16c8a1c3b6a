"""Files: deletion, shared blobs, the orphan sweep, missing blobs, and schema drift."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient

from boda.core.apps import load_models
from boda.core.db import Base, schema_filter
from boda.core.runtime import Runtime
from boda.core.uploads import sweep_orphans
from tests.conftest import FIXTURES, Account

PHOTO = (FIXTURES / "faces" / "astronaut.jpg").read_bytes()


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
