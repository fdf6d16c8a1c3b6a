"""Households: people who share objects, joined only by accepting an invitation.

Rules (the routes and pages only call these):
- Strangers learn nothing: a household the caller is not in is a 404, and
  invitations are codes, never usernames, so no answer says whether an
  account exists.
- The owner (exactly one) renames, removes members, changes roles, hands
  over ownership and deletes. Owner and admins invite and see pending
  invitations. A member who is not allowed something gets 403: they know
  the household exists. What the current state forbids (removing the
  owner, changing their role, handing over to yourself, an owner leaving
  others behind) is a 409.
- The owner leaves only after handing over, unless they are the last
  member: then leaving deletes the household.
- What you shared goes with you: when a member leaves or is removed, or
  the household is deleted, the objects they shared with it become
  private again (the rest of the household loses them at once).
- An invitation is used once by default (max_uses), expires after
  `households.invite_days`, and ends when declined, used up or revoked.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from datetime import timedelta

from sqlalchemy import Update, delete, select, update
from sqlalchemy.orm import Session

from boda.core.db import Base, utcnow
from boda.core.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from boda.core.models import Household, HouseholdInvite, HouseholdMember, HouseholdRole, Owned, Visibility

MANAGERS = (HouseholdRole.owner, HouseholdRole.admin)
# A name shows at least one character that is neither space nor control (nor a BOM, which some regex dialects
# count as space). Unanchored, and the same in Python, Rust (pydantic) and ECMA regex: the API schema's too.
NAME_PATTERN = r"[^\s\x00-\x1f\x7f-\x9f\ufeff]"
NAME_MAX = 128


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _clean_name(name: str) -> str:
    """Control characters dropped, spaces trimmed; refused when nothing visible is left."""
    name = "".join(c for c in name if unicodedata.category(c) != "Cc").strip()
    if not (re.search(NAME_PATTERN, name) and len(name) <= NAME_MAX):
        raise InvalidInput(f"A household name has 1-{NAME_MAX} characters, one of them visible", key="household_name")
    return name


def membership(session: Session, *, household_id: str, user_id: str) -> HouseholdMember:
    """The caller's membership; 404 when they are not in it (or it does not exist)."""
    row = session.get(HouseholdMember, (household_id, user_id))
    if row is None:
        raise NotFound(f"No household with id {household_id}", key="household_not_found")
    return row


def _require(member: HouseholdMember, roles: tuple[HouseholdRole, ...], action: str) -> None:
    if member.role not in roles:
        who = "owner" if roles == (HouseholdRole.owner,) else "owner or an admin"
        raise Forbidden(f"Only the household's {who} may {action}", key="household_forbidden")


def create(session: Session, *, user_id: str, name: str) -> Household:
    """A new household with the caller as its owner."""
    row = Household(name=_clean_name(name), members=[HouseholdMember(user_id=user_id, role=HouseholdRole.owner)])
    session.add(row)
    session.flush()
    return row


def list_mine(session: Session, *, user_id: str) -> list[Household]:
    query = (select(Household).join(HouseholdMember).where(HouseholdMember.user_id == user_id)
             .order_by(Household.id))
    return list(session.scalars(query).all())


def get(session: Session, *, household_id: str, user_id: str) -> Household:
    """A household the caller belongs to; everyone else gets 404."""
    return membership(session, household_id=household_id, user_id=user_id).household


def rename(session: Session, *, household_id: str, user_id: str, name: str) -> Household:
    member = membership(session, household_id=household_id, user_id=user_id)
    _require(member, (HouseholdRole.owner,), "rename it")
    member.household.name = _clean_name(name)
    session.flush()
    return member.household


def delete_household(session: Session, *, household_id: str, user_id: str) -> None:
    member = membership(session, household_id=household_id, user_id=user_id)
    _require(member, (HouseholdRole.owner,), "delete it")
    _delete_household(session, member.household)


# --- invitations -------------------------------------------------------------

def invite(session: Session, *, household_id: str, user_id: str, days: int, max_uses: int = 1
           ) -> tuple[HouseholdInvite, str]:
    """A new invitation and its code, which is shown once (only its hash is kept)."""
    member = membership(session, household_id=household_id, user_id=user_id)
    _require(member, MANAGERS, "invite people")
    if not 1 <= max_uses <= 100:
        raise InvalidInput("An invitation is used 1-100 times", key="invite_uses")
    code = secrets.token_urlsafe(18)
    row = HouseholdInvite(household_id=household_id, inviter_id=user_id, code_hash=_digest(code),
                          expires_at=utcnow() + timedelta(days=days), max_uses=max_uses)
    session.add(row)
    session.flush()
    return row, code


def list_invites(session: Session, *, household_id: str, user_id: str) -> list[HouseholdInvite]:
    """Invitations that can still be accepted."""
    member = membership(session, household_id=household_id, user_id=user_id)
    _require(member, MANAGERS, "see invitations")
    query = (select(HouseholdInvite).where(HouseholdInvite.household_id == household_id,
                                           HouseholdInvite.declined_at.is_(None),
                                           HouseholdInvite.uses < HouseholdInvite.max_uses,
                                           HouseholdInvite.expires_at > utcnow())
             .order_by(HouseholdInvite.id))
    return list(session.scalars(query).all())


def revoke_invite(session: Session, *, household_id: str, user_id: str, invite_id: str) -> None:
    member = membership(session, household_id=household_id, user_id=user_id)
    _require(member, MANAGERS, "revoke invitations")
    row = session.scalar(select(HouseholdInvite).where(HouseholdInvite.id == invite_id,
                                                       HouseholdInvite.household_id == household_id))
    if row is None:
        raise NotFound(f"No invitation with id {invite_id}", key="invite_not_found")
    session.delete(row)
    session.flush()


def open_invite(session: Session, *, code: str) -> HouseholdInvite:
    """The invitation for a code, if it can still be answered; says why not otherwise."""
    row = session.scalar(select(HouseholdInvite).where(HouseholdInvite.code_hash == _digest(code[:100])))
    if row is None:
        raise NotFound("This invitation does not exist or was withdrawn", key="invite_not_found")
    if row.declined_at is not None:
        raise Gone("This invitation was declined", key="invite_declined")
    if row.uses >= row.max_uses:
        raise Gone("This invitation has already been used", key="invite_used")
    if row.expires_at <= utcnow():
        raise Gone("This invitation has expired; ask for a new one", key="invite_expired")
    return row


def accept(session: Session, *, code: str, user_id: str) -> Household:
    row = open_invite(session, code=code)
    if session.get(HouseholdMember, (row.household_id, user_id)) is not None:
        raise Conflict("You are already a member of this household", key="already_member")
    _spend(session, row, update(HouseholdInvite).values(uses=HouseholdInvite.uses + 1))
    row.household.members.append(HouseholdMember(user_id=user_id, role=HouseholdRole.member))
    session.flush()
    return row.household


def decline(session: Session, *, code: str, user_id: str) -> None:
    """Decline: the invitation ends for everyone (its owner makes a new one if it was a mistake)."""
    row = open_invite(session, code=code)
    if session.get(HouseholdMember, (row.household_id, user_id)) is not None:
        raise Conflict("You are already a member of this household", key="already_member")
    _spend(session, row, update(HouseholdInvite).values(declined_at=utcnow()))


def _spend(session: Session, row: HouseholdInvite, statement: Update) -> None:
    # One conditional UPDATE: two people racing for a single-use link cannot both get in.
    done = session.execute(statement.where(HouseholdInvite.id == row.id, HouseholdInvite.declined_at.is_(None),
                                           HouseholdInvite.uses < HouseholdInvite.max_uses)
                           .execution_options(synchronize_session=False))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise Gone("This invitation has already been used", key="invite_used")
    session.expire(row)


# --- members -----------------------------------------------------------------

def _unshare(session: Session, *, household_id: str, owner_id: str | None = None) -> None:
    """Make objects shared with a household private again (one owner's, or everyone's)."""
    from boda.core.apps import load_models

    load_models()  # every Owned table, whichever apps this process has imported so far
    for mapper in Base.registry.mappers:
        model = mapper.class_
        if not issubclass(model, Owned) or mapper.inherits is not None:
            continue
        condition = [model.household_id == household_id]
        if owner_id is not None:
            condition.append(model.owner_id == owner_id)
        session.execute(update(model).where(*condition)
                        .values(household_id=None, visibility=Visibility.private, share_token=None)
                        .execution_options(synchronize_session="fetch"))


def _delete_household(session: Session, household: Household) -> None:
    _unshare(session, household_id=household.id)
    session.delete(household)
    session.flush()


def _drop_member(session: Session, member: HouseholdMember) -> None:
    _unshare(session, household_id=member.household_id, owner_id=member.user_id)
    # Their pending invitations go with them: a link keeps no authority its sender lost.
    session.execute(delete(HouseholdInvite).where(HouseholdInvite.household_id == member.household_id,
                                                  HouseholdInvite.inviter_id == member.user_id))
    household = member.household
    household.members.remove(member)
    session.flush()


def leave(session: Session, *, household_id: str, user_id: str) -> None:
    """Leave; the owner hands over first, and the last member deletes the household instead.

    Leaving never deletes: a household and what it shares go only by DELETE, asked for by name.
    """
    member = membership(session, household_id=household_id, user_id=user_id)
    if member.role == HouseholdRole.owner:
        if len(member.household.members) > 1:
            raise Conflict("Hand the household over to another member before leaving",
                           key="owner_must_transfer")
        raise Conflict("You are its last member: delete the household instead of leaving it",
                       key="last_member_deletes")
    _drop_member(session, member)


def _member(session: Session, *, household_id: str, member_id: str) -> HouseholdMember:
    """Another member of a household the caller manages.

    Someone not in it is a conflict with the household's membership (409), not a missing
    household: the household the caller manages is there (a 404 would say it is not).
    """
    row = session.get(HouseholdMember, (household_id, member_id))
    if row is None:
        raise Conflict(f"User {member_id} is not a member of this household", key="member_not_found")
    return row


def remove_member(session: Session, *, household_id: str, user_id: str, member_id: str) -> None:
    owner = membership(session, household_id=household_id, user_id=user_id)
    _require(owner, (HouseholdRole.owner,), "remove members")
    target = _member(session, household_id=household_id, member_id=member_id)
    if target.role == HouseholdRole.owner:  # the caller: only the owner removes people
        raise Conflict("Leave the household instead of removing yourself", key="remove_self")
    _drop_member(session, target)


def set_role(session: Session, *, household_id: str, user_id: str, member_id: str,
             role: HouseholdRole) -> HouseholdMember:
    """Make a member an admin or a plain member (ownership moves only by transfer)."""
    owner = membership(session, household_id=household_id, user_id=user_id)
    _require(owner, (HouseholdRole.owner,), "change roles")
    if role == HouseholdRole.owner:
        raise InvalidInput("Ownership moves only by handing it over", key="use_transfer")
    target = _member(session, household_id=household_id, member_id=member_id)
    if target.role == HouseholdRole.owner:  # the owner's own role changes only by handing over
        raise Conflict("Ownership moves only by handing it over", key="use_transfer")
    target.role = role
    session.flush()
    return target


def transfer(session: Session, *, household_id: str, user_id: str, new_owner_id: str) -> Household:
    """Hand ownership to another member; the old owner stays on as an admin."""
    owner = membership(session, household_id=household_id, user_id=user_id)
    _require(owner, (HouseholdRole.owner,), "hand it over")
    target = _member(session, household_id=household_id, member_id=new_owner_id)
    if target is owner:
        raise Conflict("You already own this household", key="already_owner")
    owner.role, target.role = HouseholdRole.admin, HouseholdRole.owner
    session.flush()
    return owner.household
