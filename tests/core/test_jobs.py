"""Jobs: rows, progress events over SSE, retries, cancel, and killed workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import select

from boda.core.config import Settings
from boda.core.db import utcnow
from boda.core.jobs import JobContext, Queue, job, reap_stale
from boda.core.models import Job, JobStatus
from boda.core.runtime import Runtime
from boda.core.selftest import selftest
from boda.web.app import create_app
from tests.conftest import Account, make_account, make_settings

FLAKY_FAILURES: dict[str, int] = {}


class Flaky(BaseModel):
    fail: int


@job("test.flaky", payload=Flaky)
def flaky(ctx: JobContext, payload: Flaky) -> dict[str, Any]:
    """Fails its first `fail` attempts, then succeeds."""
    seen = FLAKY_FAILURES.get(ctx.job_id, 0)
    if seen < payload.fail:
        FLAKY_FAILURES[ctx.job_id] = seen + 1
        raise RuntimeError(f"planned failure {seen + 1}")
    return {"after_failures": seen}


def wait_for(runtime: Runtime, job_id: str, statuses: set[str], timeout: float = 30.0) -> Job:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with runtime.db.session() as session:
            row = session.get(Job, job_id)
            assert row is not None
            if row.status in statuses:
                return row
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {statuses}; last: {row.status} {row.message}")


def sse_events(client: TestClient, job_id: str, headers: dict[str, str], **extra: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    with client.stream("GET", f"/api/v1/jobs/{job_id}/events", headers={**headers, **extra}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        current: dict[str, Any] = {}
        for line in response.iter_lines():
            if line.startswith("id:"):
                current["id"] = int(line[3:].strip())
            elif line.startswith("event:"):
                current["event"] = line[6:].strip()
            elif line.startswith("data:"):
                current["data"] = json.loads(line[5:].strip())
            elif line == "" and current:
                events.append(current)
                current = {}
    return events


def test_job_runs_and_streams_events(client: TestClient, runtime: Runtime, alice: Account) -> None:
    with runtime.db.session() as session:
        row = runtime.queue.enqueue(session, selftest, owner_id=alice.id,
                                    payload={"seconds": 0, "steps": 4}, title="selftest")
    done = wait_for(runtime, row.id, {"succeeded"})
    assert done.progress == 100 and done.result and done.result["steps"] == 4 and done.attempts == 1
    events = sse_events(client, row.id, alice.headers)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "status" and kinds[-1] == "final" and kinds.count("progress") == 4
    assert [e["data"]["progress"] for e in events if e["event"] == "progress"] == [0, 25, 50, 75]
    assert events[-1]["data"]["status"] == "succeeded"
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    # Resuming after an event id gives only what came after it.
    resumed = sse_events(client, row.id, alice.headers, **{"Last-Event-ID": str(events[2]["id"])})
    assert [e["id"] for e in resumed] == [e["id"] for e in events[3:]]
    listed = alice.get("/api/v1/jobs").json()
    assert listed["total"] == 1 and listed["items"][0]["status"] == "succeeded"


def test_other_users_jobs_are_404(client: TestClient, runtime: Runtime, alice: Account, bob: Account) -> None:
    with runtime.db.session() as session:
        row = runtime.queue.enqueue(session, selftest, owner_id=alice.id, payload={"seconds": 0})
    for path in (f"/api/v1/jobs/{row.id}", f"/api/v1/jobs/{row.id}/events"):
        assert bob.get(path).status_code == 404
    assert bob.post(f"/api/v1/jobs/{row.id}/cancel").status_code == 404
    assert bob.get("/api/v1/jobs").json()["total"] == 0


@pytest.fixture
def live(tmp_path: Path, db_url: str) -> Any:
    """A server with a real consumer thread on a SQLite queue (not immediate)."""
    settings = make_settings(tmp_path, db_url, jobs={"immediate": False, "in_process": True, "workers": 2,
                                                     "retry_delay": 0.1, "retries": 2,
                                                     "heartbeat_seconds": 0.2})
    with TestClient(create_app(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        yield client, runtime, make_account(runtime, client, "alice")


def test_retries_with_backoff_then_succeeds(live: Any) -> None:
    client, runtime, alice = live
    with runtime.db.session() as session:
        row = runtime.queue.enqueue(session, flaky, owner_id=alice.id, payload={"fail": 2})
    done = wait_for(runtime, row.id, {"succeeded", "failed"})
    assert done.status == "succeeded" and done.attempts == 3 and done.result == {"after_failures": 2}
    messages = [e["data"].get("message", "") for e in sse_events(client, row.id, alice.headers)]
    assert any("retrying in 0.1 s" in m for m in messages) and any("retrying in 0.2 s" in m for m in messages)


def test_fails_for_good_after_last_attempt(live: Any) -> None:
    client, runtime, alice = live
    with runtime.db.session() as session:
        row = runtime.queue.enqueue(session, flaky, owner_id=alice.id, payload={"fail": 10})
    done = wait_for(runtime, row.id, {"succeeded", "failed"})
    assert done.status == "failed" and done.attempts == 3 and "planned failure 3" in (done.error or "")
    assert done.finished_at is not None


def test_cancel_running_and_queued(live: Any) -> None:
    client, runtime, alice = live
    with runtime.db.session() as session:
        row = runtime.queue.enqueue(session, selftest, owner_id=alice.id,
                                    payload={"seconds": 20, "steps": 200})
    wait_for(runtime, row.id, {"running"})
    assert alice.post(f"/api/v1/jobs/{row.id}/cancel").status_code == 200
    assert wait_for(runtime, row.id, {"canceled", "succeeded"}, timeout=10).status == "canceled"
    again = alice.post(f"/api/v1/jobs/{row.id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


def test_reaper_requeues_or_fails_silent_jobs(client: TestClient, runtime: Runtime, alice: Account) -> None:
    old = utcnow().replace(year=2000)
    with runtime.db.session() as session:
        lost = Job(kind="core.selftest", owner_id=alice.id, payload={"seconds": 0, "steps": 1},
                   status=JobStatus.running, attempts=1, max_attempts=3, heartbeat_at=old, worker="gone:1")
        spent = Job(kind="core.selftest", owner_id=alice.id, payload={}, status=JobStatus.running,
                    attempts=3, max_attempts=3, heartbeat_at=old, worker="gone:2")
        fresh = Job(kind="core.selftest", owner_id=alice.id, payload={}, status=JobStatus.running,
                    attempts=1, max_attempts=3, heartbeat_at=utcnow(), worker="alive:3")
        session.add_all([lost, spent, fresh])
    assert reap_stale(runtime) == 2
    assert wait_for(runtime, lost.id, {"succeeded"}).attempts == 2  # immediate queue ran it again
    failed = wait_for(runtime, spent.id, {"failed"})
    assert "stopped during attempt 3" in (failed.error or "")
    with runtime.db.session() as session:
        assert session.get(Job, fresh.id).status == "running"  # type: ignore[union-attr]


def _start_worker(settings: Settings, tmp_path: Path, name: str, **jobs: str) -> subprocess.Popen[bytes]:
    jobs = {"HEARTBEAT_SECONDS": "0.2", "STALE_AFTER_SECONDS": "1.5", **jobs}
    env = {**os.environ, "BODA_DATA_DIR": str(settings.data_dir), "BODA_DB__URL": settings.database_url,
           "BODA_JOBS__URL": settings.jobs.url, "BODA_CONFIG": "",
           **{f"BODA_JOBS__{key}": value for key, value in jobs.items() if value}}
    log = open(tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - the process owns it
    return subprocess.Popen([sys.executable, "-m", "boda", "worker", "--workers", "1"], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


@pytest.mark.redis
@pytest.mark.parametrize("attempts,outcome", [(3, "succeeded"), (1, "failed")])
def test_killed_worker_job_finishes_or_fails(tmp_path: Path, db_url: str, redis_url: str,
                                             attempts: int, outcome: str) -> None:
    """Kill `boda worker` mid-job; after a restart the job finishes, or fails with a reason."""
    settings = make_settings(tmp_path, db_url, jobs={"url": redis_url, "in_process": False,
                                                     "immediate": False, "retries": attempts - 1})
    runtime = Runtime(settings)
    runtime.db.migrate()
    runtime.queue.huey.flush()
    with runtime.db.session() as session:
        row = runtime.queue.enqueue(session, selftest, owner_id=None,
                                    payload={"seconds": 3, "steps": 30})
    first = _start_worker(settings, tmp_path, "worker1")
    second = None
    try:
        running = wait_for(runtime, row.id, {"running"}, timeout=60)
        deadline = time.monotonic() + 30
        while running.progress < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
            running = wait_for(runtime, row.id, {"running"})
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        assert wait_for(runtime, row.id, {"running"}).status == "running"  # the row still says so
        time.sleep(1.6)  # the heartbeat goes silent past stale_after
        second = _start_worker(settings, tmp_path, "worker2")
        done = wait_for(runtime, row.id, {"succeeded", "failed"}, timeout=60)
        assert done.status == outcome, (tmp_path / "worker2.log").read_text()
        if outcome == "succeeded":
            assert done.attempts == 2 and done.result and done.result["steps"] == 30
        else:
            assert "stopped during attempt 1" in (done.error or "")
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(10)
        runtime.close()


def test_streams_hold_no_connection_and_end(client: TestClient, runtime: Runtime, alice: Account) -> None:
    """Many open streams must not exhaust the pool; a resume past the end returns at once."""
    with runtime.db.session() as session:
        row = runtime.queue.enqueue(session, selftest, owner_id=alice.id, payload={"seconds": 0})
    wait_for(runtime, row.id, {"succeeded"})
    start = time.monotonic()
    for _ in range(40):  # more than the pool's 15 connections
        assert sse_events(client, row.id, alice.headers, **{"Last-Event-ID": "99999999"}) == []
    assert time.monotonic() - start < 20
    assert runtime.db.engine.pool.checkedout() == 0


def test_stream_ends_by_itself(runtime: Runtime) -> None:
    import asyncio

    from boda.core.events import reconnect, stream

    with runtime.db.session() as session:
        row = Job(kind="core.selftest", payload={}, status=JobStatus.queued)  # never picked up
        session.add(row)

    async def collect() -> list[Any]:
        return [event async for event in stream(runtime.db, row.id, 0, max_seconds=0.6)]

    started = time.monotonic()
    assert asyncio.run(collect()) == [reconnect("timeout")]  # not over: come back with Last-Event-ID
    assert time.monotonic() - started < 3


def test_stream_ends_when_the_server_stops(runtime: Runtime) -> None:
    import asyncio
    import threading

    from boda.core.events import publish, reconnect, stream

    with runtime.db.session() as session:
        row = Job(kind="core.selftest", payload={}, status=JobStatus.running)  # runs on (elsewhere)
        session.add(row)
        session.flush()
        publish(session, row.id, "status", {"status": "running"})
    stop = threading.Event()

    async def collect() -> list[Any]:
        seen = []
        async for event in stream(runtime.db, row.id, 0, stop=stop):
            seen.append(event)
            stop.set()  # after the first event, the server begins to shut down
        return seen

    events = asyncio.run(collect())
    assert [e.event for e in events] == ["status", "reconnect"] and events[-1] == reconnect("shutdown")
    assert events[-1].id is None and events[-1].retry == 1000  # no id: the client's resume point stays


def test_reaper_resends_a_job_whose_message_was_lost(client: TestClient, runtime: Runtime, alice: Account) -> None:
    with runtime.db.session() as session:
        lost = Job(kind="core.selftest", owner_id=alice.id, payload={"seconds": 0, "steps": 1},
                   status=JobStatus.queued, heartbeat_at=utcnow().replace(year=2000))
        session.add(lost)
    assert reap_stale(runtime) == 1
    assert wait_for(runtime, lost.id, {"succeeded"}).attempts == 1


def test_a_superseded_attempt_stops_and_writes_nothing(client: TestClient, runtime: Runtime, alice: Account) -> None:
    from boda.core.jobs import JobSuperseded

    with runtime.db.session() as session:
        row = Job(kind="core.selftest", owner_id=alice.id, payload={}, status=JobStatus.running, attempts=2,
                  progress=40.0, heartbeat_at=utcnow())
        session.add(row)
    old_attempt = JobContext(runtime, row.id, alice.id, attempt=1)  # a late worker of attempt 1
    with pytest.raises(JobSuperseded):
        old_attempt.progress(0.9, "late")
    with runtime.db.session() as session:
        assert session.get(Job, row.id).progress == 40.0  # type: ignore[union-attr]


def test_enqueue_when_the_queue_is_down(tmp_path: Path) -> None:
    from boda.core.errors import Unavailable
    from tests.services import free_port

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'q.db'}",
                             jobs={"url": f"redis://127.0.0.1:{free_port()}/0", "immediate": False,
                                   "in_process": False})
    runtime = Runtime(settings)
    runtime.db.migrate()
    with runtime.db.session() as session, pytest.raises(Unavailable):
        runtime.queue.enqueue(session, selftest, owner_id=None, payload={})
    with runtime.db.session() as session:
        assert session.query(Job).count() == 0  # refused before anything was recorded
    runtime.close()


def test_payloads_are_checked_when_enqueued(runtime: Runtime) -> None:
    from boda.core.errors import InvalidInput

    with runtime.db.session() as session, pytest.raises(InvalidInput, match="greater than or equal to 1"):
        runtime.queue.enqueue(session, selftest, owner_id=None, payload={"steps": 0})
    with runtime.db.session() as session:
        assert session.query(Job).count() == 0


@pytest.fixture
def idle(tmp_path: Path) -> Any:
    """A runtime whose queue holds messages: no worker anywhere, nothing runs inline."""
    runtime = Runtime(make_settings(tmp_path, f"sqlite:///{tmp_path / 'idle.db'}",
                                    jobs={"immediate": False, "in_process": False}))
    runtime.db.migrate()
    yield runtime
    runtime.close()


def test_the_message_leaves_only_after_the_commit(idle: Runtime) -> None:
    """A rolled-back transaction sends nothing; a committed one sends its job."""
    with pytest.raises(RuntimeError), idle.db.session() as session:
        idle.queue.enqueue(session, selftest, owner_id=None, payload={"seconds": 0})
        assert idle.queue.huey.pending_count() == 0  # not before the commit
        raise RuntimeError("the request failed after enqueueing")
    assert idle.queue.huey.pending_count() == 0
    with idle.db.session() as session:
        assert session.query(Job).count() == 0
        row = idle.queue.enqueue(session, selftest, owner_id=None, payload={"seconds": 0})
        assert idle.queue.huey.pending_count() == 0
    assert idle.queue.huey.pending_count() == 1
    heavy = idle.queue.hueys[Queue.heavy]
    assert heavy.pending_count() == 0 and row.kind == "core.selftest"


def test_heavy_jobs_wait_in_their_own_queue(idle: Runtime) -> None:
    from boda.apps.vision.jobs import anonymize_batch

    with idle.db.session() as session:
        idle.queue.enqueue(session, anonymize_batch, owner_id=None, payload={"file_ids": ["x"], "options": {}})
    assert idle.queue.hueys[Queue.heavy].pending_count() == 1
    assert idle.queue.huey.pending_count() == 0


def test_progress_writes_are_throttled(runtime: Runtime, alice: Account) -> None:
    from sqlalchemy import func, select

    from boda.core.models import JobEvent

    with runtime.db.session() as session:
        row = Job(kind="core.selftest", owner_id=alice.id, payload={}, status=JobStatus.running, attempts=1,
                  heartbeat_at=utcnow())
        session.add(row)
    runtime.settings.jobs.progress_interval = 0.25
    context = JobContext(runtime, row.id, alice.id, attempt=1)
    for i in range(1000):
        context.progress(i / 1000, f"{i}")
    context.progress(1.0, "done")
    with runtime.db.session() as session:
        writes = session.scalar(select(func.count()).select_from(JobEvent).where(JobEvent.job_id == row.id))
        assert session.get(Job, row.id).progress == 100.0  # type: ignore[union-attr]
    assert 2 <= (writes or 0) < 100


def _wait_for_log(path: Path, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        assert time.monotonic() < deadline, path.read_text(errors="replace")[-3000:]
        time.sleep(0.1)


@pytest.mark.redis
def test_a_killed_workers_job_resumes_elsewhere_within_15_s(tmp_path: Path, db_url: str, redis_url: str) -> None:
    """Default timings: a second worker takes the job over within 15 s, says so, and goes on from where it was."""
    from boda.core.models import JobEvent

    settings = make_settings(tmp_path, db_url, jobs={"url": redis_url, "in_process": False, "immediate": False})
    runtime = Runtime(settings)
    runtime.db.migrate()
    runtime.queue.huey.flush()
    defaults = {"HEARTBEAT_SECONDS": "", "STALE_AFTER_SECONDS": ""}  # the shipped defaults (2 s, 8 s)
    with runtime.db.session() as session:
        row = runtime.queue.enqueue(session, selftest, owner_id=None, payload={"seconds": 40, "steps": 80})
    first = _start_worker(settings, tmp_path, "worker1", **defaults)
    second = None
    try:
        wait_for(runtime, row.id, {"running"}, timeout=60)
        second = _start_worker(settings, tmp_path, "worker2", **defaults)
        _wait_for_log(tmp_path / "worker2.log", "Boda worker on")
        while (running := wait_for(runtime, row.id, {"running"})).progress < 10:
            time.sleep(0.05)
        os.killpg(first.pid, signal.SIGKILL)
        killed_at, reached = time.monotonic(), running.progress
        first.wait(10)
        deadline = killed_at + 30
        while (current := wait_for(runtime, row.id, {"running", "queued"})).attempts < 2:
            assert time.monotonic() < deadline, "never resumed"
            time.sleep(0.05)
        resumed_after = time.monotonic() - killed_at
        assert resumed_after < 15, f"resumed after {resumed_after:.1f} s"
        while wait_for(runtime, row.id, {"running"}).progress <= current.progress:  # it goes on reporting
            time.sleep(0.1)
        with runtime.db.session() as session:
            session.get(Job, row.id).cancel_requested = True  # type: ignore[union-attr]
        wait_for(runtime, row.id, {"canceled"}, timeout=20)
        with runtime.db.session() as session:
            events = session.scalars(select(JobEvent).where(JobEvent.job_id == row.id).order_by(JobEvent.id)).all()
        messages = [e.data.get("message", "") for e in events]
        lost = next(i for i, m in enumerate(messages) if "stopped during attempt 1" in m)
        resumed = next(i for i, m in enumerate(messages) if "stopped; resumed on" in m)
        assert lost < resumed and events[lost].data["status"] == "queued"
        later = [e.data["progress"] for e in events[resumed:] if e.type == "progress"]
        assert later and min(later) >= reached - 1.25  # one step of 80 at most: never back to 0 %
        assert "queued again" in (tmp_path / "worker2.log").read_text()  # logged by whoever reaped it
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(20)
        runtime.close()


def test_a_lost_message_is_sent_again_and_a_waiting_one_is_not(tmp_path: Path) -> None:
    from boda.core.models import JobEvent

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'l.db'}",
                             jobs={"immediate": False, "in_process": False, "stale_after_seconds": 1})
    runtime = Runtime(settings)
    runtime.db.migrate()
    huey = runtime.queue.huey
    try:
        with runtime.db.session() as session:
            row = runtime.queue.enqueue(session, selftest, owner_id=None, payload={"seconds": 0})
        with runtime.db.session() as session:
            session.get(Job, row.id).heartbeat_at = utcnow().replace(year=2000)  # type: ignore[union-attr]
        assert reap_stale(runtime) == 0 and huey.pending_count() == 1  # its message waits: no duplicate
        huey.flush()  # the queue restarted empty
        assert reap_stale(runtime) == 1 and huey.pending_count() == 1
        assert reap_stale(runtime) == 0  # sent again: it waits again
        with runtime.db.session() as session:
            events = session.scalars(select(JobEvent).where(JobEvent.job_id == row.id)).all()
            messages = [e.data.get("message") for e in events]
        assert "The queue lost this job's message; sent again" in messages
    finally:
        runtime.close()


def test_one_round_per_schedule_however_many_claim(runtime: Runtime) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from boda.core.jobs import claim_round

    def claim(owner: int) -> bool:
        return claim_round(runtime.db, "test.round", 0.5, owner=f"w{owner}")

    with ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(claim, range(8))) == 1  # the first round ever, inserted once
        assert sum(pool.map(claim, range(8))) == 0  # not due yet
        time.sleep(0.6)
        assert sum(pool.map(claim, range(8))) == 1


def test_the_reaper_does_not_wait_behind_long_jobs(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url, jobs={"immediate": False, "in_process": True, "workers": 1,
                                                     "heavy_workers": 0, "maintenance_seconds": 0.2,
                                                     "stale_after_seconds": 1, "heartbeat_seconds": 0.2})
    with TestClient(create_app(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        with runtime.db.session() as session:
            long = runtime.queue.enqueue(session, selftest, owner_id=None, payload={"seconds": 60, "steps": 600})
        wait_for(runtime, long.id, {"running"})  # the only worker thread is busy for a minute
        with runtime.db.session() as session:
            lost = Job(kind="core.selftest", payload={}, status=JobStatus.running, attempts=1, max_attempts=1,
                       heartbeat_at=utcnow().replace(year=2000), worker="gone:1")
            session.add(lost)
        failed = wait_for(runtime, lost.id, {"failed"}, timeout=5)
        assert "gone:1 stopped during attempt 1" in (failed.error or "")
        assert wait_for(runtime, long.id, {"running"}).status == "running"
        with runtime.db.session() as session:
            session.get(Job, long.id).cancel_requested = True  # type: ignore[union-attr]
        wait_for(runtime, long.id, {"canceled"}, timeout=10)


def test_a_stopping_server_hands_its_running_job_back(live: Any) -> None:
    """A deploy does not wait for a long job: it is queued again, and its late writes are refused."""
    client, runtime, alice = live
    with runtime.db.session() as session:
        row = runtime.queue.enqueue(session, selftest, owner_id=alice.id, payload={"seconds": 30, "steps": 300})
    wait_for(runtime, row.id, {"running"})
    started = time.monotonic()
    runtime.queue.stop_consumer(wait=0.3)
    assert time.monotonic() - started < 3
    back = wait_for(runtime, row.id, {"queued"})
    assert "server stopped during attempt 1" in back.message


STEPS_SEEN: dict[str, int] = {}


class Steps(BaseModel):
    steps: int
    pause: float


@job("test.waits", payload=Steps)
def waits(ctx: JobContext, payload: Steps) -> dict[str, Any]:
    """Waits `steps` times (as a job polling a remote task would), then succeeds."""
    seen = STEPS_SEEN.get(ctx.job_id, 0)
    if seen < payload.steps:
        STEPS_SEEN[ctx.job_id] = seen + 1
        ctx.progress((seen + 1) / (payload.steps + 1), f"step {seen + 1}")
        ctx.wait(payload.pause)
    return {"steps": seen, "attempt": ctx.attempt}


def test_a_waiting_job_runs_again_without_spending_attempts(runtime: Runtime, alice: Account) -> None:
    with runtime.db.session() as session:
        row = runtime.queue.enqueue(session, waits, owner_id=alice.id, payload={"steps": 3, "pause": 0.01})
    done = wait_for(runtime, row.id, {"succeeded", "failed"})
    assert done.status == "succeeded" and done.result == {"steps": 3, "attempt": 1} and done.attempts == 1


def test_waiting_jobs_hold_no_worker_thread(live: Any) -> None:
    """20 jobs each waiting 4 × 0.3 s on 2 workers: about 1.2 s together, not 20 × 1.2 / 2 = 12 s."""
    client, runtime, alice = live
    started = time.monotonic()
    with runtime.db.session() as session:
        rows = [runtime.queue.enqueue(session, waits, owner_id=alice.id, payload={"steps": 4, "pause": 0.3})
                for _ in range(20)]
    for row in rows:
        assert wait_for(runtime, row.id, {"succeeded", "failed"}).status == "succeeded"
    assert time.monotonic() - started < 6.0


def test_a_waiting_job_can_be_canceled(live: Any) -> None:
    client, runtime, alice = live
    with runtime.db.session() as session:
        row = runtime.queue.enqueue(session, waits, owner_id=alice.id, payload={"steps": 50, "pause": 0.2})
    deadline = time.monotonic() + 10
    while STEPS_SEEN.get(row.id, 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert alice.post(f"/api/v1/jobs/{row.id}/cancel").status_code == 200
    assert wait_for(runtime, row.id, {"canceled", "succeeded"}).status == "canceled"
    steps = STEPS_SEEN[row.id]
    time.sleep(0.6)
    assert STEPS_SEEN[row.id] <= steps + 1  # no step after the cancel was seen
