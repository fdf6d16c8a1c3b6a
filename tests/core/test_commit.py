"""A 2xx means saved: the request commits before it answers, and a lost lock is a 503 with nothing saved.

Another connection holds the write lock (SQLite `BEGIN IMMEDIATE`, PostgreSQL
`LOCK TABLE ... EXCLUSIVE`) while Boda tries to revoke a token or end a session.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from boda.web.app import create_app
from tests.conftest import PASSWORD, make_account, make_settings


@contextmanager
def write_lock(db_url: str) -> Iterator[None]:
    """Hold the database's write lock from a second connection, as another process would."""
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.split("///", 1)[1], isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    engine = create_engine(db_url)
    with engine.connect() as conn:
        conn.execute(text("LOCK TABLE api_tokens, web_sessions IN EXCLUSIVE MODE"))  # reads pass, writes wait
        try:
            yield
        finally:
            conn.rollback()
    engine.dispose()


@pytest.fixture
def locked_client(tmp_path: Path, db_url: str) -> Iterator[TestClient]:
    settings = make_settings(tmp_path, db_url, db={"url": db_url, "busy_timeout_ms": 300})
    with TestClient(create_app(settings)) as client:
        yield client


def _me(client: TestClient, **headers: str) -> int:
    return client.get("/api/v1/users/me", headers=headers).status_code


def test_revoking_a_token_under_a_lock(locked_client: TestClient, db_url: str) -> None:
    client = locked_client
    alice = make_account(client.app.state.runtime, client, "alice")  # type: ignore[attr-defined]
    made = alice.post("/api/v1/tokens", json={"name": "laptop"}).json()
    bearer = f"Bearer {made['token']}"
    assert _me(client, authorization=bearer) == 200  # first use recorded now, not under the lock

    with write_lock(db_url):
        refused = alice.delete(f"/api/v1/tokens/{made['id']}")
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "unavailable"
        assert "nothing was saved" in refused.json()["error"]["message"]
        assert refused.headers["retry-after"] == "1"
    assert _me(client, authorization=bearer) == 200  # the failed revoke left the token working

    assert alice.delete(f"/api/v1/tokens/{made['id']}").status_code == 204
    assert _me(client, authorization=bearer) == 401  # refused at once, right after the 204


def test_logging_out_under_a_lock(locked_client: TestClient, db_url: str) -> None:
    client = locked_client
    make_account(client.app.state.runtime, client, "alice")  # type: ignore[attr-defined]
    csrf = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}).json()["csrf_token"]
    cookie = client.cookies.get("boda_session")

    with write_lock(db_url):
        api = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        assert api.status_code == 503 and api.json()["error"]["code"] == "unavailable"
        assert "boda_session" not in api.headers.get("set-cookie", "")
        page = client.post("/logout", data={"csrf_token": csrf}, headers={"accept": "text/html"},
                           follow_redirects=False)
        assert page.status_code == 503 and "<html" in page.text  # not the redirect that says "done"
    client.cookies.set("boda_session", cookie)
    assert _me(client) == 200

    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    client.cookies.set("boda_session", cookie)  # a stolen copy of the cookie is dead too
    assert _me(client) == 401


def test_korean_busy_message(locked_client: TestClient, db_url: str) -> None:
    client = locked_client
    alice = make_account(client.app.state.runtime, client, "alice")  # type: ignore[attr-defined]
    with write_lock(db_url):
        refused = alice.post("/api/v1/tokens", json={"name": "x"}, headers={"accept-language": "ko"})
    assert refused.status_code == 503
    assert refused.json()["error"]["message"].startswith("데이터베이스가 바쁩니다")
