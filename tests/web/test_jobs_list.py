"""The jobs list is cheap to poll: an ETag, and a bodiless 304 while nothing changed."""

from __future__ import annotations

from tests.apps.vision.test_api import ASTRONAUT
from tests.conftest import Account


def test_the_list_answers_304_until_a_job_changes(alice: Account, bob: Account) -> None:
    first = alice.get("/api/v1/jobs")
    assert first.status_code == 200 and first.json()["total"] == 0
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = alice.get("/api/v1/jobs", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert alice.get("/api/v1/jobs", headers={"If-None-Match": f'"other", {etag}'}).status_code == 304

    files = [("files", ("a.jpg", ASTRONAUT.read_bytes(), "image/jpeg"))] * 2
    assert alice.post("/api/v1/vision/anonymize/batch", files=files).status_code == 202
    changed = alice.get("/api/v1/jobs", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["total"] == 1 and changed.headers["etag"] != etag
    # Another user's list is their own, whatever tag they send.
    assert bob.get("/api/v1/jobs", headers={"If-None-Match": changed.headers["etag"]}).status_code == 200
