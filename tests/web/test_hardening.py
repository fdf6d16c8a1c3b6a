"""Inputs that once gave unhandled 500s, security headers on every HTML answer, and /metrics access."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from boda.core.runtime import Runtime
from boda.core.selftest import selftest
from boda.web.app import create_app
from boda.web.middleware import CONTENT_SECURITY_POLICY
from tests.conftest import Account, make_settings
from tests.core.test_jobs import sse_events, wait_for


def _raw_get(client: TestClient, url: str, headers: list[tuple[bytes, bytes]]) -> httpx.Response:
    """A GET with header bytes exactly as given (TestClient re-encodes them as UTF-8)."""
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as raw:
            return await raw.get(url, headers=headers)

    return asyncio.run(go())


def test_non_ascii_digits_in_last_event_id(client: TestClient, runtime: Runtime, alice: Account) -> None:
    with runtime.db.session() as session:
        row = runtime.queue.enqueue(session, selftest, owner_id=alice.id, payload={"seconds": 0})
    wait_for(runtime, row.id, {"succeeded"})
    everything = sse_events(client, row.id, alice.headers)
    auth = (b"authorization", alice.headers["Authorization"].encode())
    for odd in (b"\xb2", b"1\xb2", "\u0663".encode(), b"-1", b""):  # "\xb2" is "²": isdigit() yet not int()
        response = _raw_get(client, f"/api/v1/jobs/{row.id}/events", [auth, (b"last-event-id", odd)])
        assert response.status_code == 200, (odd, response.text)
        ids = [int(line[3:]) for line in response.text.splitlines() if line.startswith("id:")]
        assert ids == [e["id"] for e in everything]  # ignored: from the start


def test_language_switch_with_odd_hosts_and_referers(client: TestClient) -> None:
    cases = [
        ({"host": ""}, "/"),
        ({"host": "", "referer": "http://testserver/vision?tab=mnist"}, "/"),
        ({"referer": "http://testserver/vision?tab=mnist"}, "/vision?tab=mnist"),
        ({"referer": "https://evil.example/vision"}, "/"),
        ({"referer": "http://[broken/"}, "/"),
        ({"referer": "http://testserver//evil.example"}, "/"),
    ]
    for headers, back in cases:
        response = client.get("/lang/ko", headers=headers, follow_redirects=False)
        assert response.status_code == 303, (headers, response.text)
        assert response.headers["location"] == back, headers


HTML = {"accept": "text/html"}


def _secured(response: httpx.Response) -> None:
    csp = response.headers.get("content-security-policy", "")
    assert csp == CONTENT_SECURITY_POLICY, response.request.url
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["permissions-policy"].startswith("camera=()")
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert response.headers["x-frame-options"] == "DENY"


def test_every_html_answer_has_the_security_headers(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url, max_request_mb=0.001)
    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        for path in ("/", "/login", "/about", "/docs", "/nope"):
            response = client.get(path, headers=HTML)
            _secured(response)
            assert "<script>" not in response.text and " onclick=" not in response.text
        crashed = client.get("/boom", headers=HTML)
        assert crashed.status_code == 500 and "<html" in crashed.text
        _secured(crashed)
        too_big = client.post("/login", content=b"x" * 5000, headers=HTML)
        assert too_big.status_code == 413
        _secured(too_big)
        _secured(client.get("/api/v1/users/me"))  # JSON too: harmless there, and one rule is simpler


def test_templates_have_no_inline_script_or_style() -> None:
    import re

    root = Path(__file__).resolve().parents[2] / "boda"
    for template in [*root.glob("web/templates/**/*.html"), *root.glob("apps/*/templates/**/*.html")]:
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template  # only <script src=...>
        assert not re.search(r"\son[a-z]+\s*=", text), template  # no onclick= and the like
        assert not re.search(r"\sstyle\s*=|<style", text), template  # style-src 'self' refuses them


@pytest.mark.parametrize("mode", ["off", "local", "token"])
def test_metrics_access(tmp_path: Path, db_url: str, mode: str) -> None:
    token = "m" * 24
    settings = make_settings(tmp_path, db_url, metrics=mode, metrics_token=token if mode == "token" else "")
    app = create_app(settings)
    with TestClient(app, client=("127.0.0.1", 5000)) as local, TestClient(app, client=("192.0.2.8", 1)) as remote:
        local.get("/healthz")
        answers = {
            "local": local.get("/metrics").status_code,
            "local via a proxy": local.get("/metrics", headers={"x-forwarded-for": "192.0.2.8"}).status_code,
            "remote": remote.get("/metrics").status_code,
            "remote with token": remote.get("/metrics", headers={"authorization": f"Bearer {token}"}).status_code,
            "remote, wrong token": remote.get("/metrics", headers={"authorization": "Bearer nope"}).status_code,
        }
        expected = {
            "off": dict.fromkeys(answers, 404),
            "local": {**dict.fromkeys(answers, 404), "local": 200},
            "token": {**dict.fromkeys(answers, 401), "remote with token": 200},
        }[mode]
        assert answers == expected
        if mode == "local":
            assert "boda_http_requests_total" in local.get("/metrics").text


def test_metrics_token_must_be_set(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="metrics_token"):
        make_settings(tmp_path, "sqlite://", metrics="token")


def test_validation_errors_speak_korean_and_name_the_fields(client: TestClient, alice: Account) -> None:
    answer = alice.post("/api/v1/vision/mnist-sample", json={"index": "many"}, headers={"accept-language": "ko"})
    assert answer.status_code == 422
    body = answer.json()["error"]
    assert body["message"] == "요청 값이 올바르지 않습니다: index" and body["details"]["errors"][0]["field"] == "index"
    english = alice.post("/api/v1/vision/mnist-sample", json={"index": "many"}).json()["error"]["message"]
    assert english.startswith("index: ")  # pydantic's own words, for English readers and scripts


def test_schema_names_are_unique_across_apps(client: TestClient) -> None:
    """Two apps' models with one name would be renamed `boda__apps__…` in the contract (and clients)."""
    names = client.get("/openapi.json").json()["components"]["schemas"]
    assert not [name for name in names if "__" in name]


def test_a_nul_character_is_a_clear_400_where_the_database_refuses_it(client: TestClient, alice: Account,
                                                                     runtime: Runtime) -> None:
    """PostgreSQL refuses NUL in text (psycopg's DataError): in a login name, a title or a query parameter that
    was a 500 on about twenty endpoints. SQLite stores it, so there it is simply not an error."""
    answers = [client.post("/api/v1/auth/login", json={"username": "a\x00b", "password": "x" * 12}),
               alice.post("/api/v1/album/albums", json={"title": "a\x00b"}),
               alice.get("/api/v1/album/photos", params={"camera": "a\x00b"})]
    if runtime.db.engine.dialect.name == "postgresql":
        for answer in answers:
            assert answer.status_code == 400, answer.text
            assert answer.json()["error"]["details"]["reason"] == "nul_character"
            assert "NUL" in answer.json()["error"]["message"]
    else:
        assert [a.status_code for a in answers] == [401, 201, 200]


def test_a_file_part_without_a_file_name_is_asked_for_in_words(alice: Account) -> None:
    """Starlette hands such a part over as text: pydantic said "Expected UploadFile, received: <class 'str'>"."""
    sent = alice.client.post("/api/v1/vision/anonymize", headers=alice.headers,
                             files=[("file", ("", b"\x89PNG not really", "image/png"))])
    assert sent.status_code == 422
    assert sent.json()["error"]["details"]["errors"] == [
        {"field": "file", "message": "a file is required here (the part was sent without a file name)"}]
