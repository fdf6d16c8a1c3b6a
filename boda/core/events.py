"""Job progress events, stored as rows and streamed as Server-Sent Events.

Events live in the database, not in process memory, so a browser connected to
any web process sees progress written by a worker on any machine, and a
reconnecting client resumes exactly after its Last-Event-ID.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from boda.core.db import Database
from boda.core.models import JobEvent

POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
MAX_STREAM_SECONDS = 600.0
RECONNECT_MS = 1000  # the `retry:` hint sent with `reconnect`: soon, but not in a tight loop


@dataclass(frozen=True)
class Event:
    """One message of a job's stream; `id` is what a client resumes after (Last-Event-ID)."""

    id: str | None = None
    event: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    comment: str | None = None
    retry: int | None = None


def reconnect(reason: str) -> Event:
    """The stream is not over: come back (with Last-Event-ID) and resume. No id, so the resume point stays."""
    return Event(event="reconnect", data={"reason": reason}, retry=RECONNECT_MS)


def publish(session: Session, job_id: str, type_: str, data: dict[str, Any]) -> None:
    session.add(JobEvent(job_id=job_id, type=type_, data=data))


def events_after(db: Database, job_id: str, after: int) -> list[JobEvent]:
    with db.session() as session:
        rows = session.scalars(
            select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.id > after).order_by(JobEvent.id)
        ).all()
        return list(rows)


async def stream(db: Database, job_id: str, last_event_id: int = 0, max_seconds: float = MAX_STREAM_SECONDS,
                 stop: threading.Event | None = None) -> AsyncIterator[Event]:
    """Yield the job's events after last_event_id until its final event.

    It also ends when the job is over and nothing is left to send (a client
    resuming past the end). After max_seconds, or as soon as `stop` is set (the
    server is shutting down), it ends with a `reconnect` event: browsers come
    back by themselves with Last-Event-ID, so no stream is held forever and a
    deploy need not wait for one.
    """
    after = last_event_id
    idle = 0.0
    deadline = time.monotonic() + max_seconds
    while True:
        if stop is not None and stop.is_set():
            yield reconnect("shutdown")
            return
        if time.monotonic() >= deadline:
            yield reconnect("timeout")
            return
        rows = await asyncio.to_thread(events_after, db, job_id, after)
        for row in rows:
            after = row.id
            yield Event(id=str(row.id), event=row.type, data=row.data)
            if row.type == "final":
                return
        if rows:
            idle = 0.0
            continue
        if await asyncio.to_thread(job_finished, db, job_id):
            return
        idle += POLL_SECONDS
        if idle >= KEEPALIVE_SECONDS:
            idle = 0.0
            yield Event(comment="keep-alive")
        await asyncio.sleep(POLL_SECONDS)


def job_finished(db: Database, job_id: str) -> bool:
    from boda.core.models import Job, JobStatus

    with db.session() as session:
        status = session.scalar(select(Job.status).where(Job.id == job_id))
    return status is None or JobStatus(status).finished
