"""Accounts: one's own password; administrators create, disable, reset and delete."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from boda.core import accounts, auth
from boda.core.errors import Forbidden
from boda.core.models import Role
from boda.core.schemas import UserOut
from boda.web.clients import client_address
from boda.web.deps import SESSION_COOKIE, AdminUser, CurrentUser, DbSession, RuntimeDep
from boda.web.openapi import errors

router = APIRouter(tags=["users"])

Password = Field(min_length=auth.MIN_PASSWORD, max_length=256)


class UserIn(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=auth.USERNAME_PATTERN)
    password: str = Password
    role: Role = Role.user


class PasswordIn(BaseModel):
    current_password: str = Field(max_length=256)
    new_password: str = Password


class PasswordChanged(BaseModel):
    sessions_ended: int = Field(description="Browser sessions logged out: all but the one that asked.")
    tokens_kept: bool = Field(default=True, description="API tokens keep working; revoke them one by one.")


class UserPatch(BaseModel):
    is_active: bool | None = Field(default=None, description="false disables the account: its sessions end "
                                   "and its tokens are refused until it is enabled again.")
    role: Role | None = None
    password: str | None = Field(default=None, min_length=auth.MIN_PASSWORD, max_length=256,
                                 description="A new password; ends the user's browser sessions.")


@router.get("/users/me")
def me(user: CurrentUser) -> UserOut:
    """Return the caller."""
    return UserOut.model_validate(user)


@router.put("/users/me/password", responses=errors(403, 429))
def change_password(body: PasswordIn, request: Request, session: DbSession, user: CurrentUser,
                    runtime: RuntimeDep) -> PasswordChanged:
    """Change one's own password; other browser sessions end, API tokens keep working."""
    # A stolen session must not become a way to guess the password: failures count as failed logins.
    address, throttle = client_address(request), runtime.login_throttle
    throttle.check(address, user.username)
    keep = request.cookies.get(SESSION_COOKIE) if getattr(request.state, "auth", "") == "session" else None
    try:
        ended = accounts.change_password(session, user=user, current=body.current_password,
                                         new=body.new_password, keep_session=keep)
    except Forbidden as exc:
        if exc.key == "wrong_password":
            throttle.failed(address, user.username)
        raise
    return PasswordChanged(sessions_ended=ended)


@router.get("/users")
def list_users(session: DbSession, admin: AdminUser) -> list[UserOut]:
    """List every account (administrators)."""
    return [UserOut.model_validate(u) for u in accounts.list_users(session)]


@router.post("/users", status_code=201, responses=errors(409))
def create_user(body: UserIn, session: DbSession, admin: AdminUser) -> UserOut:
    """Create an account (administrators)."""
    return UserOut.model_validate(auth.create_user(session, username=body.username, password=body.password,
                                                   role=body.role))


# `:uuid` keeps /users/me out of these routes (its Allow header lists only its own methods).
@router.patch("/users/{user_id:uuid}", responses=errors(409))
def update_user(user_id: UUID, body: UserPatch, session: DbSession, admin: AdminUser) -> UserOut:
    """Disable or enable an account, change its role or reset its password (administrators).

    The last active administrator cannot be disabled or demoted (409).
    """
    user = accounts.get_user(session, str(user_id))
    if body.password is not None:
        accounts.set_password(session, user=user, password=body.password)
    if body.role is not None:
        accounts.set_role(session, user=user, role=body.role)
    if body.is_active is not None:
        accounts.set_active(session, user=user, active=body.is_active)
    return UserOut.model_validate(user)


@router.delete("/users/{user_id:uuid}", status_code=204, responses=errors(409))
def delete_user(user_id: UUID, session: DbSession, admin: AdminUser) -> None:
    """Delete an account and everything it owns (administrators); its households pass to a member.

    The last active administrator cannot be deleted (409).
    """
    accounts.delete_user(session, user=accounts.get_user(session, str(user_id)))
