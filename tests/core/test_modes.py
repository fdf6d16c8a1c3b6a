"""The many-machine parts in use by the whole app: Azure Blob (Azurite), Redis queue."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from boda.core.models import BlobOrphan, Job, StoredFile
from boda.core.uploads import sweep_orphans
from boda.web.app import create_app
from tests.conftest import FIXTURES, make_account, make_settings, png_bytes
from tests.services import redis_server


@pytest.mark.azure
def test_app_on_azure_blob_storage(tmp_path: Path, db_url: str, azurite: str) -> None:
    settings = make_settings(tmp_path, db_url, storage={"url": f"az://boda-{tmp_path.name[-8:].lower()}",
                                                        "options": {"connection_string": azurite}})
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        alice = make_account(runtime, client, "alice")
        photo = (FIXTURES / "faces" / "astronaut.jpg").read_bytes()
        made = alice.post("/api/v1/vision/anonymize", files={"file": ("a.jpg", photo, "image/jpeg")})
        assert made.status_code == 201, made.text
        original = alice.get(made.json()["original"]["url"])
        assert original.content == photo  # stored in and streamed back from Azurite, byte for byte
        assert not runtime.store.is_local
        assert runtime.store.exists(hashlib.sha256(photo).hexdigest())
        assert client.get("/readyz").json()["checks"]["storage"] == "ok"


@pytest.mark.azure
def test_ready_on_a_fresh_azure_container(tmp_path: Path, db_url: str, azurite: str) -> None:
    """Azure has no empty folders: a store with no blob yet is ready; a lost container is not."""
    container = f"fresh-{tmp_path.name[-8:].lower().replace('_', '-')}"
    settings = make_settings(tmp_path, db_url, storage={"url": f"az://{container}/boda/blobs",
                                                        "options": {"connection_string": azurite}})
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        assert runtime.store.fs.ls(container) == []  # nothing written yet
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"] == {"database": "ok", "storage": "ok", "queue": "ok"}
        runtime.store.fs.rm(container, recursive=True)
        lost = client.get("/readyz")
        assert lost.status_code == 503 and lost.json()["checks"]["storage"].startswith("error: ")
        assert lost.json()["checks"]["storage"].removeprefix("error: ").isidentifier()  # a kind, not the text


@pytest.mark.redis
def test_ready_checks_the_queue_and_a_refused_batch_leaves_nothing(tmp_path: Path, db_url: str) -> None:
    """With Redis stopped: /readyz says so, and a batch is refused with 503 leaving no row, job or blob."""
    with redis_server(tmp_path / "redis") as url:
        settings = make_settings(tmp_path, db_url, jobs={"url": url, "immediate": False, "in_process": False})
        client = TestClient(create_app(settings))
        client.__enter__()
        try:
            runtime = client.app.state.runtime  # type: ignore[attr-defined]
            alice = make_account(runtime, client, "alice")
            ready = client.get("/readyz")
            assert ready.status_code == 200 and ready.json()["checks"]["queue"] == "ok", ready.text
        except BaseException:
            client.__exit__(None, None, None)
            raise
    try:  # Redis is stopped now
        down = client.get("/readyz")
        assert down.status_code == 503 and down.json()["checks"]["queue"].startswith("error"), down.text
        assert "127.0.0.1" not in down.text and str(tmp_path) not in down.text  # anyone may ask /readyz
        assert down.json()["checks"]["database"] == "ok"
        photos = [png_bytes(color=(10, 20, i)) for i in range(3)]
        refused = alice.post("/api/v1/vision/anonymize/batch",
                             files=[("files", (f"{i}.png", p, "image/png")) for i, p in enumerate(photos)])
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "unavailable", refused.text
        keys = {hashlib.sha256(p).hexdigest() for p in photos}
        with runtime.db.session() as session:
            assert session.scalar(select(func.count()).select_from(StoredFile)) == 0
            assert session.scalar(select(func.count()).select_from(Job)) == 0
            # Blobs written before the refusal wait for the sweep (another upload may share them meanwhile).
            assert set(session.scalars(select(BlobOrphan.blob_key))) == keys
        assert sweep_orphans(runtime.db, runtime.store, grace_seconds=0) == 3
        assert not any(runtime.store.exists(key) for key in keys)
    finally:
        client.__exit__(None, None, None)


@pytest.mark.redis
def test_app_with_redis_queue_and_in_process_worker(tmp_path: Path, db_url: str, redis_url: str) -> None:
    settings = make_settings(tmp_path, db_url, jobs={"url": redis_url, "immediate": False, "in_process": True})
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        runtime.queue.huey.flush()
        alice = make_account(runtime, client, "alice")
        photo = (FIXTURES / "faces" / "astronaut.jpg").read_bytes()
        job = alice.post("/api/v1/vision/anonymize/batch",
                         files=[("files", ("a.jpg", photo, "image/jpeg")), ("files", ("b.jpg", photo, "image/jpeg"))])
        assert job.status_code == 202
        deadline = time.monotonic() + 60
        body = job.json()
        while body["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
            time.sleep(0.1)
            body = alice.get(f"/api/v1/jobs/{body['id']}").json()
        assert body["status"] == "succeeded" and body["result"]["photos"] == 2


def test_request_body_limit(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'b.db'}", max_request_mb=0.05)
    with TestClient(create_app(settings)) as client:
        alice = make_account(client.app.state.runtime, client, "alice")  # type: ignore[attr-defined]
        response = alice.post("/api/v1/vision/digits", files={"file": ("x.png", b"\0" * 100_000, "image/png")})
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"
        # Without a Content-Length the body is counted as it streams in.
        chunks = (b"x" * 10_000 for _ in range(20))
        streamed = client.post("/api/v1/auth/login", content=chunks, headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        assert streamed.json()["error"]["code"] == "payload_too_large"
