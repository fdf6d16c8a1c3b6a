"""Background jobs: list, inspect, cancel, and follow their progress live."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.sse import EventSourceResponse, ServerSentEvent

from boda.core import jobs
from boda.core.errors import Unauthorized
from boda.core.events import stream
from boda.core.models import JobStatus
from boda.core.schemas import JobOut, Page, PageParams
from boda.web.deps import CurrentUser, DbSession, RuntimeDep, resolve_user
from boda.web.openapi import SIGNED_IN, errors

router = APIRouter(tags=["jobs"])


@router.get("/jobs")
def list_jobs(session: DbSession, user: CurrentUser, page: Annotated[PageParams, Depends()],
              status: Annotated[list[JobStatus] | None, Query()] = None) -> Page[JobOut]:
    """List the caller's jobs, newest first."""
    rows, total = jobs.list_jobs(session, user_id=user.id, status=status, limit=page.limit, offset=page.offset)
    return Page(items=[JobOut.of(r) for r in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/jobs/{job_id}")
def get_job(job_id: str, session: DbSession, user: CurrentUser) -> JobOut:
    """Return one of the caller's jobs."""
    return JobOut.of(jobs.get_job(session, job_id, user_id=user.id, is_admin=user.is_admin))


@router.post("/jobs/{job_id}/cancel", responses=errors(409))
def cancel_job(job_id: str, session: DbSession, user: CurrentUser, runtime: RuntimeDep) -> JobOut:
    """Ask a queued or running job to stop."""
    row = jobs.get_job(session, job_id, user_id=user.id, is_admin=user.is_admin)
    return JobOut.of(runtime.queue.cancel(session, row))


def _watchable_job(job_id: str, request: Request, runtime: RuntimeDep) -> str:
    # Checked before the stream starts (a stranger gets a plain 404), in a session of
    # its own: a request-scoped one would hold a pooled connection for the whole stream.
    with runtime.db.session() as session:
        user = resolve_user(request, session)
        if user is None:
            raise Unauthorized("Log in or send an API token (Authorization: Bearer ...)", key="login_required")
        return jobs.get_job(session, job_id, user_id=user.id, is_admin=user.is_admin).id


@router.get("/jobs/{job_id}/events", response_class=EventSourceResponse, responses=errors(401),
            openapi_extra={"security": SIGNED_IN})
async def job_events(job_id: Annotated[str, Depends(_watchable_job)], request: Request, runtime: RuntimeDep,
                     last_event_id: Annotated[str | None, Header()] = None,
                     after: Annotated[int, Query(ge=0, le=2**62)] = 0) -> AsyncIterator[ServerSentEvent]:
    """Stream the job's progress as Server-Sent Events; resumes after Last-Event-ID.

    Events: `status`, `progress`, `final` (the last one), and `reconnect` when the
    server ends the stream before the job is over (a restart, or after 10 minutes):
    connect again with the last id seen as Last-Event-ID (browsers do it by themselves).
    """
    # ASCII digits only: "²".isdigit() is True, and int() refuses it.
    resumable = last_event_id and last_event_id.isascii() and last_event_id.isdigit() and len(last_event_id) < 18
    start = int(last_event_id) if resumable else after
    async for event in stream(runtime.db, job_id, start, stop=request.app.state.draining):
        if await request.is_disconnected():
            return
        yield ServerSentEvent(id=event.id, event=event.event, data=event.data, comment=event.comment,
                              retry=event.retry)
