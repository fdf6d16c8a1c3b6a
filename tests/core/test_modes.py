"""The many-machine parts in use by the whole app: Azure Blob (Azurite), Redis queue."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from boda.web.app import create_app
from tests.conftest import FIXTURES, make_account, make_settings


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
