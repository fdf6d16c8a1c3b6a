"""Sessions and API tokens."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from boda.core import auth
from boda.core.schemas import UserOut
from boda.web.clients import client_address
from boda.web.deps import SESSION_COOKIE, CurrentUser, DbSession, RuntimeDep
from boda.web.openapi import errors

router = APIRouter(tags=["auth"])


class LoginIn(BaseModel):
    username: str = Field(max_length=64)
    password: str = Field(max_length=256)


class SessionOut(BaseModel):
    user: UserOut
    csrf_token: str


@router.post("/auth/login", responses=errors(401, 429))
def login(body: LoginIn, request: Request, response: Response, session: DbSession,
          runtime: RuntimeDep) -> SessionOut:
    """Log in with a password; sets the session cookie for the web UI."""
    user = auth.login(session, runtime.login_throttle, address=client_address(request), username=body.username,
                      password=body.password)
    web, secret = auth.create_web_session(session, user=user, days=runtime.settings.session_days)
    response.set_cookie(SESSION_COOKIE, secret, max_age=runtime.settings.session_days * 86400,
                        httponly=True, samesite="lax", secure=runtime.settings.cookie_secure)
    return SessionOut(user=UserOut.model_validate(user), csrf_token=web.csrf_token)


@router.post("/auth/logout", status_code=204)
def logout(request: Request, response: Response, session: DbSession, user: CurrentUser) -> None:
    """End the browser session."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        auth.end_web_session(session, cookie)
    response.delete_cookie(SESSION_COOKIE)


class TokenIn(BaseModel):
    name: str = Field(default="token", max_length=128, description="A label: where or what it is for.")


class TokenOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    name: str
    prefix: str = Field(description="The secret's first characters, to tell tokens apart.")
    created_at: datetime
    last_used_at: datetime | None = Field(description="Updated at most every five minutes.")
    token: str | None = Field(default=None, description="The secret: only in the answer that created it.")


@router.post("/tokens", status_code=201)
def create_token(body: TokenIn, session: DbSession, user: CurrentUser) -> TokenOut:
    """Create an API token; its secret is shown only in this answer."""
    row, secret = auth.create_api_token(session, user=user, name=body.name)
    out = TokenOut.model_validate(row)
    out.token = secret
    return out


@router.get("/tokens")
def list_tokens(session: DbSession, user: CurrentUser) -> list[TokenOut]:
    """List the caller's API tokens (without secrets)."""
    return [TokenOut.model_validate(r) for r in auth.list_api_tokens(session, user=user)]


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: str, session: DbSession, user: CurrentUser) -> None:
    """Revoke one of the caller's API tokens."""
    auth.revoke_api_token(session, user=user, token_id=token_id)
