"""Who is asking, and what they may see.

Browsers log in with a cookie session (CSRF-checked on every unsafe request);
the API and CLI use bearer tokens. Services never look at requests: they get
a `Scope` and every query applies it, so another user's private object is
simply not found.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Depends, Request
from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from boda.core.db import DbSession, utcnow
from boda.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from boda.core.models import ApiToken, Owned, Role, User, Visibility, WebSession
from boda.core.throttle import LoginThrottle

SESSION_COOKIE = "boda_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_hasher = PasswordHasher()

OwnedT = TypeVar("OwnedT", bound=Owned)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- users -------------------------------------------------------------------

def validate_credentials(username: str, password: str) -> None:
    if not (3 <= len(username) <= 64) or not username.replace("_", "").replace("-", "").replace(".", "").isalnum():
        raise InvalidInput("Username must be 3-64 letters, digits, '.', '-' or '_'")
    if len(password) < 8:
        raise InvalidInput("Password must be at least 8 characters")


def create_user(session: Session, *, username: str, password: str, role: Role = Role.user,
                display_name: str = "") -> User:
    validate_credentials(username, password)
    if session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"User {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), role=role,
                display_name=display_name or username)
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, *, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        hash_password(password)  # same cost whether or not the user exists
        raise Unauthorized("Wrong username or password", key="login_failed")
    if not verify_password(user.password_hash, password) or not user.is_active:
        raise Unauthorized("Wrong username or password", key="login_failed")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def count_users(session: Session) -> int:
    return len(session.scalars(select(User.id).limit(2)).all())


def login(session: Session, throttle: LoginThrottle, *, address: str, username: str, password: str) -> User:
    """Authenticate through the throttle."""
    throttle.check(address, username)
    try:
        user = authenticate(session, username=username, password=password)
    except Unauthorized:
        throttle.failed(address, username)
        raise
    throttle.succeeded(address, username)
    return user


# --- API tokens --------------------------------------------------------------

def create_api_token(session: Session, *, user: User, name: str) -> tuple[ApiToken, str]:
    """Returns the row and the secret, which is shown once and never stored."""
    secret = "boda_" + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name or "token", token_hash=_digest(secret), prefix=secret[:12])
    session.add(row)
    session.flush()
    return row, secret


def user_for_token(session: Session, secret: str) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(secret)))
    if row is None or not row.user.is_active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
        row.last_used_at = now
    return row.user


# --- web sessions ------------------------------------------------------------

def create_web_session(session: Session, *, user: User, days: int) -> tuple[WebSession, str]:
    secret = secrets.token_urlsafe(32)
    row = WebSession(token_hash=_digest(secret), user_id=user.id, csrf_token=secrets.token_urlsafe(24),
                     expires_at=utcnow() + timedelta(days=days))
    session.add(row)
    session.flush()
    return row, secret


def web_session_for(session: Session, secret: str) -> WebSession | None:
    row = session.get(WebSession, _digest(secret))
    if row is None or row.expires_at < utcnow() or not row.user.is_active:
        return None
    return row


def end_web_session(session: Session, secret: str) -> None:
    row = session.get(WebSession, _digest(secret))
    if row is not None:
        session.delete(row)


# --- scope -------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """The caller as queries see it; anonymous callers see public objects only."""

    user_id: str | None
    is_admin: bool = False

    @classmethod
    def of(cls, user: User | None) -> Scope:
        return cls(user_id=user.id, is_admin=user.is_admin) if user else cls(user_id=None)

    def readable(self, model: type[Owned]) -> ColumnElement[bool]:
        public = model.visibility == Visibility.public
        return public if self.user_id is None else or_(model.owner_id == self.user_id, public)

    def writable(self, model: type[Owned]) -> ColumnElement[bool]:
        if self.user_id is None:
            return false()
        return model.owner_id == self.user_id

    def require_user(self) -> str:
        if self.user_id is None:
            raise Unauthorized("Log in first", key="login_required")
        return self.user_id


def get_visible(session: Session, model: type[OwnedT], object_id: str, scope: Scope, *, write: bool = False) -> OwnedT:
    """One object the caller may see (or change); 404 for everything else."""
    condition = scope.writable(model) if write else scope.readable(model)
    row = session.scalar(select(model).where(model.id == object_id, condition))  # type: ignore[attr-defined]
    if row is None:
        raise NotFound(f"No {model.__name__} with id {object_id}")
    return row


def get_shared(session: Session, model: type[OwnedT], share_token: str) -> OwnedT:
    row = session.scalar(select(model).where(model.share_token == share_token,
                                             model.visibility != Visibility.private))
    if row is None:
        raise NotFound("This link does not exist or is no longer shared")
    return row


def set_visibility(obj: Owned, visibility: Visibility) -> None:
    """Change who may see an object; becoming unlisted always issues a fresh link.

    A link handed out earlier (or seen while the object was public) must not
    come back to life when the owner unlists the object again.
    """
    if visibility == Visibility.unlisted and obj.visibility != Visibility.unlisted:
        obj.share_token = secrets.token_urlsafe(32)
    elif visibility == Visibility.private:
        obj.share_token = None
    obj.visibility = visibility


# --- FastAPI dependencies ----------------------------------------------------

def same_origin(request: Request) -> bool:
    """False for a request another site made the browser send (login CSRF, forced logout)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if origin and origin != "null":
        from urllib.parse import urlsplit

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
        user = user_for_token(session, token)
        if user is None:
            raise Unauthorized("Invalid or revoked API token")
        request.state.auth = "token"
        return user
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    web = web_session_for(session, cookie)
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
        raise Forbidden("Administrators only")
    return user


MaybeUser = Annotated[User | None, Depends(_current_user)]
CurrentUser = Annotated[User, Depends(_require_user)]
AdminUser = Annotated[User, Depends(_require_admin)]


def public_user(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "display_name": user.display_name,
            "role": user.role, "locale": user.locale}
