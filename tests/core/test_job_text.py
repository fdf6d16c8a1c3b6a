"""Job titles and messages are stored as keys and values and shown in each viewer's language."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from boda.core.models import Job
from boda.core.runtime import Runtime
from tests.conftest import PASSWORD, Account, png_bytes

KO = {"accept-language": "ko"}


def test_a_batch_job_reads_in_each_viewers_language(client: TestClient, runtime: Runtime, alice: Account) -> None:
    files = [("files", (f"p{i}.png", png_bytes(color=(i * 40, 90, 90)), "image/png")) for i in range(2)]
    made = alice.post("/api/v1/vision/anonymize/batch", files=files, headers=KO)
    assert made.status_code == 202, made.text
    job_id = made.json()["id"]
    assert made.json()["title"] == "사진 2장 익명화"
    with runtime.db.session() as session:
        row = session.get(Job, job_id)
        assert row is not None and row.status == "succeeded"
        assert (row.title_key, row.title_args) == ("vision.job.anonymize_batch", {"count": 2})
        assert row.title == "Anonymise 2 photos" and row.message == "2 of 2 photos"  # English for logs and CLI
    english = alice.get(f"/api/v1/jobs/{job_id}").json()
    assert (english["title"], english["message"]) == ("Anonymise 2 photo(s)", "2 of 2 photos")
    korean = alice.get(f"/api/v1/jobs/{job_id}", headers=KO).json()
    assert (korean["title"], korean["message"]) == ("사진 2장 익명화", "사진 2장 중 2장")
    listed = alice.get("/api/v1/jobs", headers=KO).json()["items"][0]
    assert listed["title"] == "사진 2장 익명화"
    with client.stream("GET", f"/api/v1/jobs/{job_id}/events", headers={**alice.headers, **KO}) as events:
        data = [json.loads(line[5:]) for line in events.iter_lines() if line.startswith("data:")]
    messages = [d["message"] for d in data if d.get("message_key")]
    assert messages and messages[-1] == "사진 2장 중 2장" and "사진 2장 중 0장" in messages

    client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    client.cookies.set("boda_lang", "ko")
    page = client.get("/jobs")
    assert "사진 2장 익명화" in page.text and "사진 2장 중 2장" in page.text


def test_jobs_without_keys_keep_their_text(client: TestClient, runtime: Runtime, alice: Account) -> None:
    from boda.core.selftest import selftest

    with runtime.db.session() as session:
        row = runtime.queue.enqueue(session, selftest, owner_id=alice.id, payload={"seconds": 0, "steps": 2},
                                    title="plain title")
    shown = alice.get(f"/api/v1/jobs/{row.id}", headers=KO).json()
    assert shown["title"] == "plain title" and shown["message"] == "step 2 of 2"


def test_the_queues_own_messages_read_in_korean_too(client: TestClient, runtime: Runtime, alice: Account) -> None:
    """A worker lost, a job queued again: the reaper's words follow the viewer's language as well."""
    from boda.core.db import utcnow
    from boda.core.jobs import reap_stale
    from boda.core.models import JobStatus

    with runtime.db.session() as session:
        row = Job(kind="core.selftest", owner_id=alice.id, payload={"seconds": 0, "steps": 1},
                  status=JobStatus.running, attempts=1, max_attempts=3, worker="gone:1",
                  heartbeat_at=utcnow().replace(year=2000))
        session.add(row)
    reap_stale(runtime)  # queued again, and (immediate queue) run again at once
    with client.stream("GET", f"/api/v1/jobs/{row.id}/events", headers={**alice.headers, **KO}) as events:
        data = [json.loads(line[5:]) for line in events.iter_lines() if line.startswith("data:")]
    lost = [d["message"] for d in data if d.get("message_key") == "job.worker_lost"]
    assert lost and lost[0].startswith("작업자 gone:1가 1번째 시도 중 멈췄습니다")
    resumed = [d["message"] for d in data if d.get("message_key") == "job.resumed"]
    assert resumed and "에서 이어서 합니다" in resumed[0]
