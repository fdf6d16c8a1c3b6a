"""Households API: create, invite by link, accept or decline, leave, remove, hand over.

Thin routes over boda.core.households, which holds the rules. Nothing here
takes a username, so no answer tells whether an account exists.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from boda.core import households as service
from boda.core.models import Household, HouseholdInvite, HouseholdRole
from boda.core.schemas import JsonInt
from boda.web.deps import CurrentUser, DbSession, RuntimeDep
from boda.web.openapi import errors

router = APIRouter(tags=["households"])

ROLE_ORDER = {HouseholdRole.owner: 0, HouseholdRole.admin: 1, HouseholdRole.member: 2}


class HouseholdIn(BaseModel):
    name: str = Field(min_length=1, max_length=service.NAME_MAX, pattern=service.NAME_PATTERN,
                      description="Trimmed, without control characters; at least one visible character.")


class MemberOut(BaseModel):
    id: str
    username: str
    display_name: str
    role: HouseholdRole


class HouseholdOut(BaseModel):
    id: str
    name: str
    role: HouseholdRole = Field(description="The caller's role in it.")
    members: list[MemberOut]
    created_at: datetime


class InviteIn(BaseModel):
    max_uses: JsonInt = Field(default=1, ge=1, le=100, description="How many people may accept this link.")


class InviteOut(BaseModel):
    id: str
    inviter_name: str
    expires_at: datetime
    max_uses: int
    uses: int
    created_at: datetime


class InviteCreated(InviteOut):
    code: str = Field(description="Shown only in this answer; only its hash is stored.")
    url: str = Field(description="The page where the invited person accepts or declines.")


class InvitePreview(BaseModel):
    household_name: str
    inviter_name: str
    expires_at: datetime


class RoleIn(BaseModel):
    role: Literal[HouseholdRole.admin, HouseholdRole.member]


class TransferIn(BaseModel):
    user_id: str = Field(max_length=36)


def household_out(row: Household, user_id: str) -> HouseholdOut:
    """Members are shown only to members (this is built after a membership check)."""
    members = sorted(row.members, key=lambda m: (ROLE_ORDER[m.role], m.user.display_name, m.user_id))
    mine = next(m.role for m in members if m.user_id == user_id)
    return HouseholdOut(id=row.id, name=row.name, role=mine, created_at=row.created_at,
                        members=[MemberOut(id=m.user_id, username=m.user.username,
                                           display_name=m.user.display_name, role=m.role) for m in members])


def invite_out(row: HouseholdInvite) -> InviteOut:
    return InviteOut(id=row.id, inviter_name=row.inviter.display_name, expires_at=row.expires_at,
                     max_uses=row.max_uses, uses=row.uses, created_at=row.created_at)


@router.post("/households", status_code=201)
def create_household(body: HouseholdIn, session: DbSession, user: CurrentUser) -> HouseholdOut:
    """Create a household with the caller as its owner."""
    return household_out(service.create(session, user_id=user.id, name=body.name), user.id)


@router.get("/households")
def list_households(session: DbSession, user: CurrentUser) -> list[HouseholdOut]:
    """List the households the caller belongs to."""
    return [household_out(row, user.id) for row in service.list_mine(session, user_id=user.id)]


@router.get("/households/{household_id}")
def get_household(household_id: str, session: DbSession, user: CurrentUser) -> HouseholdOut:
    """Return one of the caller's households with its members."""
    return household_out(service.get(session, household_id=household_id, user_id=user.id), user.id)


@router.patch("/households/{household_id}")
def rename_household(household_id: str, body: HouseholdIn, session: DbSession, user: CurrentUser) -> HouseholdOut:
    """Rename a household (owner)."""
    row = service.rename(session, household_id=household_id, user_id=user.id, name=body.name)
    return household_out(row, user.id)


@router.delete("/households/{household_id}", status_code=204)
def delete_household(household_id: str, session: DbSession, user: CurrentUser) -> None:
    """Delete a household (owner); its objects go back to their owners alone."""
    service.delete_household(session, household_id=household_id, user_id=user.id)


@router.post("/households/{household_id}/invites", status_code=201)
def create_invite(household_id: str, body: InviteIn, session: DbSession, user: CurrentUser,
                  runtime: RuntimeDep) -> InviteCreated:
    """Make an invitation link (owner or admin); send it to the person yourself."""
    row, code = service.invite(session, household_id=household_id, user_id=user.id,
                               days=runtime.settings.households.invite_days, max_uses=body.max_uses)
    return InviteCreated(**invite_out(row).model_dump(), code=code, url=f"/invite/{code}")


@router.get("/households/{household_id}/invites")
def list_invites(household_id: str, session: DbSession, user: CurrentUser) -> list[InviteOut]:
    """List invitations that can still be accepted (owner or admin)."""
    return [invite_out(r) for r in service.list_invites(session, household_id=household_id, user_id=user.id)]


@router.delete("/households/{household_id}/invites/{invite_id}", status_code=204)
def revoke_invite(household_id: str, invite_id: str, session: DbSession, user: CurrentUser) -> None:
    """Withdraw an invitation (owner or admin)."""
    service.revoke_invite(session, household_id=household_id, user_id=user.id, invite_id=invite_id)


@router.get("/invites/{code}", responses=errors(410))
def preview_invite(code: str, session: DbSession, user: CurrentUser) -> InvitePreview:
    """Say which household an invitation is for, and who sent it."""
    row = service.open_invite(session, code=code)
    return InvitePreview(household_name=row.household.name, inviter_name=row.inviter.display_name,
                         expires_at=row.expires_at)


@router.post("/invites/{code}/accept", responses=errors(409, 410))
def accept_invite(code: str, session: DbSession, user: CurrentUser) -> HouseholdOut:
    """Join the household an invitation is for."""
    return household_out(service.accept(session, code=code, user_id=user.id), user.id)


@router.post("/invites/{code}/decline", status_code=204, responses=errors(409, 410))
def decline_invite(code: str, session: DbSession, user: CurrentUser) -> None:
    """Decline an invitation; the link stops working."""
    service.decline(session, code=code, user_id=user.id)


@router.post("/households/{household_id}/leave", status_code=204, responses=errors(409))
def leave_household(household_id: str, session: DbSession, user: CurrentUser) -> None:
    """Leave a household; an owner hands it over first, or deletes it as its last member."""
    service.leave(session, household_id=household_id, user_id=user.id)


@router.delete("/households/{household_id}/members/{user_id}", status_code=204, responses=errors(409))
def remove_member(household_id: str, user_id: str, session: DbSession, user: CurrentUser) -> None:
    """Remove a member (owner); they lose access to the household's objects at once."""
    service.remove_member(session, household_id=household_id, user_id=user.id, member_id=user_id)


@router.patch("/households/{household_id}/members/{user_id}", responses=errors(409))
def set_member_role(household_id: str, user_id: str, body: RoleIn, session: DbSession,
                    user: CurrentUser) -> HouseholdOut:
    """Make a member an admin (who may invite) or a plain member (owner)."""
    row = service.set_role(session, household_id=household_id, user_id=user.id, member_id=user_id,
                           role=body.role)
    return household_out(row.household, user.id)


@router.post("/households/{household_id}/transfer", responses=errors(409))
def transfer_household(household_id: str, body: TransferIn, session: DbSession, user: CurrentUser) -> HouseholdOut:
    """Hand ownership to another member; the caller stays on as an admin."""
    row = service.transfer(session, household_id=household_id, user_id=user.id, new_owner_id=body.user_id)
    return household_out(row, user.id)
