"""Who is asking, and what they may see.

Browsers log in with a cookie session (CSRF-checked on every unsafe request);
the API and CLI use bearer tokens. Services never look at requests: they get
a `Scope` and every query applies it, so another user's private object is
simply not found.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, Select, and_, false, or_, select
from sqlalchemy.orm import Session

from boda.core.db import utcnow
from boda.core.errors import Conflict, InvalidInput, NotFound, Unauthorized
from boda.core.models import ApiToken, HouseholdMember, Owned, Role, User, Visibility, WebSession
from boda.core.throttle import LoginThrottle

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

USERNAME_PATTERN = r"^[\w.-]{3,64}$"  # also the API schema's, so a name the schema allows is never refused
MIN_PASSWORD = 8


def validate_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"Password must be at least {MIN_PASSWORD} characters", key="password_short",
                           details={"min": MIN_PASSWORD})


def validate_credentials(username: str, password: str) -> None:
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise InvalidInput("Username must be 3-64 letters, digits, '.', '-' or '_'", key="username_invalid")
    validate_password(password)


def create_user(session: Session, *, username: str, password: str, role: Role = Role.user,
                display_name: str = "") -> User:
    validate_credentials(username, password)
    if session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"User {username!r} already exists", key="user_exists", details={"username": username})
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


def list_api_tokens(session: Session, *, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


def revoke_api_token(session: Session, *, user: User, token_id: str) -> None:
    row = session.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    if row is None:
        raise NotFound(f"No token with id {token_id}", key="token_not_found")
    session.delete(row)


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
    """The caller as queries see it; anonymous callers see public objects only.

    Household access is a subquery evaluated inside every statement, not a
    list taken at login: a member who leaves or is removed loses access with
    the next query, and building a scope needs no database.
    """

    user_id: str | None
    is_admin: bool = False

    @classmethod
    def of(cls, user: User | None) -> Scope:
        return cls(user_id=user.id, is_admin=user.is_admin) if user else cls(user_id=None)

    def household_ids(self) -> Select[tuple[str]]:
        """The ids of the caller's households, as a subquery (current at each query)."""
        return select(HouseholdMember.household_id).where(HouseholdMember.user_id == self.user_id)

    def household_mates(self) -> Select[tuple[str]]:
        """Everyone in a household with the caller now (the caller too, when in one), as a subquery."""
        return select(HouseholdMember.user_id).where(HouseholdMember.household_id.in_(self.household_ids()))

    def knows_places_of(self, model: type[Owned]) -> ColumnElement[bool]:
        """Objects whose place (a photo's GPS) the caller may know: its own, and those of its households' members.

        Anyone else who may open the object (public, an unlisted link, an album) gets it without where it
        was taken: a holiday album made public must not give away the owner's home.
        """
        if self.user_id is None:
            return false()
        return or_(model.owner_id == self.user_id, model.owner_id.in_(self.household_mates()))

    def place_owners(self, session: Session) -> frozenset[str]:
        """The owners whose places the caller may know (`knows_places_of`), for answers that list objects."""
        if self.user_id is None:
            return frozenset()
        return frozenset({self.user_id, *session.scalars(self.household_mates())})

    def shared_with_me(self, model: type[Owned]) -> ColumnElement[bool]:
        """Objects shared with a household the caller belongs to now."""
        if self.user_id is None:
            return false()
        return and_(model.visibility == Visibility.household, model.household_id.in_(self.household_ids()))

    def readable(self, model: type[Owned]) -> ColumnElement[bool]:
        public = model.visibility == Visibility.public
        if self.user_id is None:
            return public
        return or_(model.owner_id == self.user_id, public, self.shared_with_me(model))

    def writable(self, model: type[Owned], *, household_write: bool = False) -> ColumnElement[bool]:
        """The owner; with household_write (the app decides), members of the object's household too."""
        if self.user_id is None:
            return false()
        if household_write:
            return or_(model.owner_id == self.user_id, self.shared_with_me(model))
        return model.owner_id == self.user_id

    def require_user(self) -> str:
        if self.user_id is None:
            raise Unauthorized("Log in first", key="login_required")
        return self.user_id


def get_visible(session: Session, model: type[OwnedT], object_id: str, scope: Scope, *, write: bool = False,
                household_write: bool = False) -> OwnedT:
    """One object the caller may see (or change); 404 for everything else."""
    condition = scope.writable(model, household_write=household_write) if write else scope.readable(model)
    row = session.scalar(select(model).where(model.id == object_id, condition))  # type: ignore[attr-defined]
    if row is None:
        # The model's noun, never its class name: the message is for people.
        raise NotFound(f"No {model.noun} with id {object_id}", key=f"{model.noun_key}_not_found")
    return row


def get_shared(session: Session, model: type[OwnedT], share_token: str) -> OwnedT:
    row = session.scalar(select(model).where(model.share_token == share_token,
                                             model.visibility.in_([Visibility.unlisted, Visibility.public])))
    if row is None:
        raise NotFound("This link does not exist or is no longer shared", key="link_not_found")
    return row


def set_visibility(session: Session, obj: Owned, visibility: Visibility, *, scope: Scope,
                   household_id: str | None = None) -> None:
    """Change who may see an object; `household` needs a household the caller belongs to.

    The household is kept only with `household` visibility, so an object is
    never shared with a household by accident after being made private.
    A household the caller is not in is a 404, whether or not it exists.
    """
    if visibility == Visibility.household:
        if household_id is None:
            raise InvalidInput("Household visibility needs the id of a household you belong to",
                               key="household_required")
        member = session.scalar(select(HouseholdMember.household_id).where(
            HouseholdMember.household_id == household_id, HouseholdMember.user_id == scope.require_user()))
        if member is None:
            raise NotFound(f"No household with id {household_id}", key="household_not_found")
        obj.household_id = household_id
    elif household_id is not None:
        raise InvalidInput("A household is given only with household visibility", key="household_unexpected")
    else:
        obj.household_id = None
    if visibility == Visibility.unlisted and obj.visibility != Visibility.unlisted:
        # A fresh link each time: one handed out earlier must not come back to life.
        obj.share_token = secrets.token_urlsafe(32)
    elif visibility in (Visibility.private, Visibility.household):
        obj.share_token = None  # a household object is not for link holders
    obj.visibility = visibility


def public_user(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "display_name": user.display_name,
            "role": user.role, "locale": user.locale}
