"""Households: people who share a kitchen or an album."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from boda.core.errors import Forbidden, InvalidInput, NotFound
from boda.core.models import Household, HouseholdMember, User
from boda.web.deps import CurrentUser, DbSession

router = APIRouter(tags=["households"])


class HouseholdIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)


class MemberIn(BaseModel):
    username: str


class HouseholdOut(BaseModel):
    id: str
    name: str
    members: list[str]


def _household_out(session: DbSession, row: Household) -> HouseholdOut:
    ids = [m.user_id for m in row.members]
    names = session.scalars(select(User.username).where(User.id.in_(ids)).order_by(User.username)).all()
    return HouseholdOut(id=row.id, name=row.name, members=list(names))


def _my_household(session: DbSession, household_id: str, user_id: str) -> Household:
    row = session.scalar(select(Household).join(HouseholdMember).where(
        Household.id == household_id, HouseholdMember.user_id == user_id))
    if row is None:
        raise NotFound(f"No household with id {household_id}")
    return row


@router.post("/households", status_code=201)
def create_household(body: HouseholdIn, session: DbSession, user: CurrentUser) -> HouseholdOut:
    """Create a household with the caller as its owner."""
    row = Household(name=body.name, members=[HouseholdMember(user_id=user.id, role="owner")])
    session.add(row)
    session.flush()
    return _household_out(session, row)


@router.get("/households")
def list_households(session: DbSession, user: CurrentUser) -> list[HouseholdOut]:
    """List the households the caller belongs to."""
    rows = session.scalars(select(Household).join(HouseholdMember).where(HouseholdMember.user_id == user.id)
                           .order_by(Household.id)).all()
    return [_household_out(session, r) for r in rows]


@router.post("/households/{household_id}/members", status_code=201)
def add_member(household_id: str, body: MemberIn, session: DbSession, user: CurrentUser) -> HouseholdOut:
    """Add a user to a household the caller owns."""
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
