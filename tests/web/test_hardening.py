"""Inputs that once gave unhandled 500s, security headers on every HTML answer, and /metrics access."""

from __future__ import annotations

import asyncio

import httpx
from fastapi.testclient import TestClient

from boda.core.runtime import Runtime
from tests.conftest import Account
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
        row = runtime.queue.enqueue(session, kind="core.selftest", owner_id=alice.id, payload={"seconds": 0})
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
