"""FastAPI dependencies: the web layer's view of the core (the core itself has no web types).

Typed aliases in the style of the FastAPI template's `api/deps.py`: a route
asks for `session: DbSession`, `user: CurrentUser` or `runtime: RuntimeDep`.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from boda.core import auth
from boda.core.config import Settings
from boda.core.errors import Forbidden, Unauthorized
from boda.core.models import User
from boda.core.runtime import Runtime

SESSION_COOKIE = "boda_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def _session(request: Request) -> Iterator[Session]:
    with request.app.state.runtime.db.session() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(_settings)]
RuntimeDep = Annotated[Runtime, Depends(_runtime)]
# scope="function": the commit runs when the route returns, before the answer is sent, so a
# 2xx means the change is saved and a failed commit is answered as an error.
DbSession = Annotated[Session, Depends(_session, scope="function")]


def same_origin(request: Request) -> bool:
    """False for a request another site made the browser send (login CSRF, forced logout)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        return urlsplit(origin).netloc == request.headers.get("host", "")
    return True


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def resolve_user(request: Request, session: Session, *, check_csrf: bool = True) -> User | None:
    """The caller, from a bearer token or a session cookie (CSRF-checked for unsafe methods)."""
    token = _bearer(request)
    if token is not None:
        user = auth.user_for_token(session, token)
        if user is None:
            raise Unauthorized("Invalid or revoked API token", key="token_invalid")
        request.state.auth = "token"
        return user
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    web = auth.web_session_for(session, cookie)
    if web is None:
        return None
    request.state.auth = "session"
    request.state.csrf_token = web.csrf_token
    if check_csrf and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, web.csrf_token):
            raise Forbidden("Missing or wrong CSRF token; reload the page and try again", key="csrf")
    return web.user


def _current_user(request: Request, session: DbSession) -> User | None:
    return resolve_user(request, session)


def _require_user(user: Annotated[User | None, Depends(_current_user)]) -> User:
    if user is None:
        raise Unauthorized("Log in or send an API token (Authorization: Bearer ...)", key="login_required")
    return user


def _require_admin(user: Annotated[User, Depends(_require_user)]) -> User:
    if not user.is_admin:
        raise Forbidden("Administrators only", key="admin_only")
    return user


MaybeUser = Annotated[User | None, Depends(_current_user)]
CurrentUser = Annotated[User, Depends(_require_user)]
AdminUser = Annotated[User, Depends(_require_admin)]
