"""Background jobs: list, inspect, cancel, and follow their progress live."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.sse import EventSourceResponse, ServerSentEvent

from boda.core import jobs
from boda.core.errors import Unauthorized
from boda.core.events import stream
from boda.core.models import JobStatus
from boda.core.schemas import JobOut, Page, PageParams
from boda.web.deps import CurrentUser, DbSession, RuntimeDep, resolve_user
from boda.web.i18n import job_text
from boda.web.openapi import SIGNED_IN, errors

router = APIRouter(tags=["jobs"])


NOT_MODIFIED = {304: {"description": "Not modified: the list still has the ETag sent in `If-None-Match`."}}


@router.get("/jobs", response_model=Page[JobOut], responses=NOT_MODIFIED)
def list_jobs(request: Request, session: DbSession, user: CurrentUser, page: Annotated[PageParams, Depends()],
              status: Annotated[list[JobStatus] | None, Query()] = None,
              if_none_match: Annotated[str | None, Header(max_length=200)] = None) -> Response:
    """List the caller's jobs, newest first; with the ETag it answered, a poller gets a bodiless 304 until a change."""
    rows, total = jobs.list_jobs(session, user_id=user.id, status=status, limit=page.limit, offset=page.offset)
    text = job_text(request, user.locale)
    body = Page[JobOut](items=[JobOut.of(r, text) for r in rows], total=total, limit=page.limit,
                        offset=page.offset).model_dump_json().encode()
    etag = f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"etag": etag, "cache-control": "private, no-cache"}
    if if_none_match is not None and etag in (tag.strip() for tag in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get("/jobs/{job_id}")
def get_job(job_id: str, request: Request, session: DbSession, user: CurrentUser) -> JobOut:
    """Return one of the caller's jobs (title and message in the caller's language)."""
    return JobOut.of(jobs.get_job(session, job_id, user_id=user.id, is_admin=user.is_admin),
                     job_text(request, user.locale))


@router.post("/jobs/{job_id}/cancel", responses=errors(409))
def cancel_job(job_id: str, request: Request, session: DbSession, user: CurrentUser,
               runtime: RuntimeDep) -> JobOut:
    """Ask a queued or running job to stop."""
    row = jobs.get_job(session, job_id, user_id=user.id, is_admin=user.is_admin)
    return JobOut.of(runtime.queue.cancel(session, row), job_text(request, user.locale))


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
    text = job_text(request)
    async for event in stream(runtime.db, job_id, start, stop=request.app.state.draining):
        if await request.is_disconnected():
            return
        data = event.data
        if data and data.get("message_key"):  # the message in the watcher's language
            data = {**data, "message": text(data["message_key"], data.get("message_args"), data.get("message", ""))}
        yield ServerSentEvent(id=event.id, event=event.event, data=data, comment=event.comment, retry=event.retry)
