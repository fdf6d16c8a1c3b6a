"""Accounts."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field

from boda.core import auth
from boda.core.models import Role
from boda.core.schemas import UserOut
from boda.web.deps import AdminUser, CurrentUser, DbSession
from boda.web.openapi import errors

router = APIRouter(tags=["users"])


class UserIn(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=auth.USERNAME_PATTERN)
    password: str = Field(min_length=auth.MIN_PASSWORD, max_length=256)
    role: Role = Role.user


@router.get("/users/me")
def me(user: CurrentUser) -> UserOut:
    """Return the caller."""
    return UserOut.model_validate(user)


@router.post("/users", status_code=201, responses=errors(409))
def create_user(body: UserIn, session: DbSession, admin: AdminUser) -> UserOut:
    """Create an account (administrators)."""
    return UserOut.model_validate(auth.create_user(session, username=body.username, password=body.password,
                                                   role=body.role))
