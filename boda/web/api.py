"""The core API: sessions, tokens, users, households, files and jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from boda.core import auth, jobs
from boda.core.auth import AdminUser, CurrentUser, MaybeUser, Scope
from boda.core.db import DbSession
from boda.core.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from boda.core.events import stream
from boda.core.models import ApiToken, Household, HouseholdMember, JobStatus, Role, StoredFile, Visibility
from boda.core.runtime import RuntimeDep
from boda.core.schemas import FileOut, JobOut, Page, PageParams, UserOut
from boda.web.clients import client_address

router = APIRouter(prefix="/api/v1")


# --- sessions and tokens ---------------------------------------------------

class LoginIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str


@router.post("/auth/login", tags=["auth"])
def login(body: LoginIn, request: Request, response: Response, session: DbSession,
          runtime: RuntimeDep) -> SessionOut:
    """Log in with a password; sets the session cookie for the web UI."""
    user = auth.login(session, runtime.login_throttle, address=client_address(request), username=body.username,
                      password=body.password)
    web, secret = auth.create_web_session(session, user=user, days=runtime.settings.session_days)
    response.set_cookie(auth.SESSION_COOKIE, secret, max_age=runtime.settings.session_days * 86400,
                        httponly=True, samesite="lax", secure=runtime.settings.cookie_secure)
    return SessionOut(user=UserOut.model_validate(user), csrf_token=web.csrf_token)


@router.post("/auth/logout", tags=["auth"], status_code=204)
def logout(request: Request, response: Response, session: DbSession, user: CurrentUser) -> None:
    """End the browser session."""
    cookie = request.cookies.get(auth.SESSION_COOKIE)
    if cookie:
        auth.end_web_session(session, cookie)
    response.delete_cookie(auth.SESSION_COOKIE)


@router.get("/users/me", tags=["users"])
def me(user: CurrentUser) -> UserOut:
    """Return the caller."""
    return UserOut.model_validate(user)


class UserIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)
    role: Role = Role.user


@router.post("/users", tags=["users"], status_code=201)
def create_user(body: UserIn, session: DbSession, admin: AdminUser) -> UserOut:
    """Create an account (administrators)."""
    return UserOut.model_validate(auth.create_user(session, username=body.username, password=body.password,
                                                   role=body.role))


class TokenIn(BaseModel):
    name: str = Field(default="token", max_length=128)


class TokenOut(BaseModel):
    id: str
    name: str
    prefix: str
    token: str | None = None


@router.post("/tokens", tags=["auth"], status_code=201)
def create_token(body: TokenIn, session: DbSession, user: CurrentUser) -> TokenOut:
    """Create an API token; its secret is shown only in this answer."""
    row, secret = auth.create_api_token(session, user=user, name=body.name)
    return TokenOut(id=row.id, name=row.name, prefix=row.prefix, token=secret)


@router.get("/tokens", tags=["auth"])
def list_tokens(session: DbSession, user: CurrentUser) -> list[TokenOut]:
    """List the caller's API tokens (without secrets)."""
    rows = session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)).all()
    return [TokenOut(id=r.id, name=r.name, prefix=r.prefix) for r in rows]


@router.delete("/tokens/{token_id}", tags=["auth"], status_code=204)
def revoke_token(token_id: str, session: DbSession, user: CurrentUser) -> None:
    """Revoke one of the caller's API tokens."""
    row = session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    if row is None:
        raise NotFound(f"No token with id {token_id}")
    session.delete(row)


# --- households --------------------------------------------------------------

class HouseholdIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)


class MemberIn(BaseModel):
    username: str


class HouseholdOut(BaseModel):
    id: str
    name: str
    members: list[str]


def _household_out(session: DbSession, row: Household) -> HouseholdOut:
    from boda.core.models import User

    ids = [m.user_id for m in row.members]
    names = session.scalars(select(User.username).where(User.id.in_(ids)).order_by(User.username)).all()
    return HouseholdOut(id=row.id, name=row.name, members=list(names))


def _my_household(session: DbSession, household_id: str, user_id: str) -> Household:
    row = session.scalar(select(Household).join(HouseholdMember).where(
        Household.id == household_id, HouseholdMember.user_id == user_id))
    if row is None:
        raise NotFound(f"No household with id {household_id}")
    return row


@router.post("/households", tags=["households"], status_code=201)
def create_household(body: HouseholdIn, session: DbSession, user: CurrentUser) -> HouseholdOut:
    """Create a household with the caller as its owner."""
    row = Household(name=body.name, members=[HouseholdMember(user_id=user.id, role="owner")])
    session.add(row)
    session.flush()
    return _household_out(session, row)


@router.get("/households", tags=["households"])
def list_households(session: DbSession, user: CurrentUser) -> list[HouseholdOut]:
    """List the households the caller belongs to."""
    rows = session.scalars(select(Household).join(HouseholdMember).where(HouseholdMember.user_id == user.id)
                           .order_by(Household.id)).all()
    return [_household_out(session, r) for r in rows]


@router.post("/households/{household_id}/members", tags=["households"], status_code=201)
def add_member(household_id: str, body: MemberIn, session: DbSession, user: CurrentUser) -> HouseholdOut:
    """Add a user to a household the caller owns."""
    from boda.core.models import User

    row = _my_household(session, household_id, user.id)
    if all(m.user_id != user.id or m.role != "owner" for m in row.members):
        raise Forbidden("Only the household's owner adds members")
    new = session.scalar(select(User).where(User.username == body.username))
    if new is None:  # the same answer as for any refusal: usernames are not listed to strangers
        raise InvalidInput("That user cannot be added")
    if all(m.user_id != new.id for m in row.members):
        row.members.append(HouseholdMember(user_id=new.id))
    session.flush()
    return _household_out(session, row)


# --- files -------------------------------------------------------------------

class VisibilityIn(BaseModel):
    visibility: Visibility


@router.get("/files/{file_id}", tags=["files"])
def get_file(file_id: str, session: DbSession, user: MaybeUser) -> FileOut:
    """Describe a stored file the caller may see."""
    return FileOut.of(auth.get_visible(session, StoredFile, file_id, Scope.of(user)))


@router.get("/files/{file_id}/content", tags=["files"], response_class=StreamingResponse)
def file_content(file_id: str, session: DbSession, user: MaybeUser, runtime: RuntimeDep,
                 download: bool = False) -> StreamingResponse:
    """Stream a stored file's bytes, after checking who may see it."""
    row = auth.get_visible(session, StoredFile, file_id, Scope.of(user))
    return _stream_file(runtime, row, download)


@router.get("/shared/{share_token}", tags=["files"], response_class=StreamingResponse)
def shared_content(share_token: str, session: DbSession, runtime: RuntimeDep) -> StreamingResponse:
    """Stream a file shared by an unlisted link."""
    return _stream_file(runtime, auth.get_shared(session, StoredFile, share_token), False)


def _stream_file(runtime: RuntimeDep, row: StoredFile, download: bool) -> StreamingResponse:
    from urllib.parse import quote

    from boda.core.uploads import download_name

    blob = runtime.store.open(row.blob_key)  # before the answer starts: a missing blob is a 404

    def chunks() -> Iterator[bytes]:
        with blob:
            while block := blob.read(1024 * 1024):
                yield block

    disposition = "attachment" if download else "inline"
    name = quote(download_name(row.filename, row.content_type))
    headers = {
        "content-disposition": f"{disposition}; filename*=UTF-8''{name}",
        "content-length": str(row.size),
        "cache-control": "private, max-age=3600",
        "x-content-type-options": "nosniff",
        "etag": f'"{row.blob_key}"',
    }
    return StreamingResponse(chunks(), media_type=row.content_type, headers=headers)


@router.delete("/files/{file_id}", tags=["files"], status_code=204)
def delete_file(file_id: str, session: DbSession, user: CurrentUser) -> None:
    """Delete one of the caller's files, and the files made from it."""
    from boda.core.uploads import delete_file as delete

    delete(session, auth.get_visible(session, StoredFile, file_id, Scope.of(user), write=True))


@router.patch("/files/{file_id}", tags=["files"])
def share_file(file_id: str, body: VisibilityIn, session: DbSession, user: CurrentUser) -> FileOut:
    """Change who may see one of the caller's files."""
    row = auth.get_visible(session, StoredFile, file_id, Scope.of(user), write=True)
    auth.set_visibility(row, body.visibility)
    session.flush()
    out = FileOut.of(row)
    return out


# --- jobs --------------------------------------------------------------------

@router.get("/jobs", tags=["jobs"])
def list_jobs(session: DbSession, user: CurrentUser, page: Annotated[PageParams, Depends()],
              status: Annotated[list[JobStatus] | None, Query()] = None) -> Page[JobOut]:
    """List the caller's jobs, newest first."""
    rows, total = jobs.list_jobs(session, user_id=user.id, status=status, limit=page.limit, offset=page.offset)
    return Page(items=[JobOut.of(r) for r in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/jobs/{job_id}", tags=["jobs"])
def get_job(job_id: str, session: DbSession, user: CurrentUser) -> JobOut:
    """Return one of the caller's jobs."""
    return JobOut.of(jobs.get_job(session, job_id, user_id=user.id, is_admin=user.is_admin))


@router.post("/jobs/{job_id}/cancel", tags=["jobs"])
def cancel_job(job_id: str, session: DbSession, user: CurrentUser, runtime: RuntimeDep) -> JobOut:
    """Ask a queued or running job to stop."""
    row = jobs.get_job(session, job_id, user_id=user.id, is_admin=user.is_admin)
    return JobOut.of(runtime.queue.cancel(session, row))


def _watchable_job(job_id: str, request: Request, runtime: RuntimeDep) -> str:
    # Checked before the stream starts (a stranger gets a plain 404), in a session of
    # its own: a request-scoped one would hold a pooled connection for the whole stream.
    with runtime.db.session() as session:
        user = auth.resolve_user(request, session)
        if user is None:
            raise Unauthorized("Log in or send an API token (Authorization: Bearer ...)", key="login_required")
        return jobs.get_job(session, job_id, user_id=user.id, is_admin=user.is_admin).id


@router.get("/jobs/{job_id}/events", tags=["jobs"], response_class=EventSourceResponse)
async def job_events(job_id: Annotated[str, Depends(_watchable_job)], request: Request, runtime: RuntimeDep,
                     last_event_id: Annotated[str | None, Header()] = None,
                     after: Annotated[int, Query(ge=0, le=2**62)] = 0) -> AsyncIterator[ServerSentEvent]:
    """Stream the job's progress as Server-Sent Events; resumes after Last-Event-ID."""
    # ASCII digits only: "²".isdigit() is True, and int() refuses it.
    resumable = last_event_id and last_event_id.isascii() and last_event_id.isdigit() and len(last_event_id) < 18
    start = int(last_event_id) if resumable else after
    async for event in stream(runtime.db, job_id, start):
        if await request.is_disconnected():
            return
        yield event


# --- health ------------------------------------------------------------------

health = APIRouter(tags=["health"])


@health.get("/healthz")
def healthz() -> dict[str, str]:
    """Say that the process is up."""
    return {"status": "ok"}


@health.get("/readyz")
def readyz(runtime: RuntimeDep, response: Response) -> dict[str, object]:
    """Say whether the database and blob store answer."""
    checks: dict[str, str] = {}
    try:
        with runtime.db.session() as session:
            session.scalar(select(func.count()).select_from(StoredFile).limit(1))
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports, it does not raise
        checks["database"] = f"error: {exc}"
    try:
        runtime.store.fs.ls(runtime.store.root)
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"error: {exc}"
    ready = all(v == "ok" for v in checks.values())
    response.status_code = 200 if ready else 503
    return {"status": "ok" if ready else "unavailable", "checks": checks}

