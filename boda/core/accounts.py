"""Account management: passwords, disabling, roles and deletion.

The rules that keep an instance usable live here, not in routes or the CLI:
there is always one active administrator, a password change ends the other
browser sessions, and a deleted account leaves no household without an owner
and no blob that nothing will ever sweep.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from boda.core.auth import _digest, hash_password, validate_password, verify_password
from boda.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from boda.core.models import (
    ApiToken,
    HouseholdMember,
    HouseholdRole,
    Job,
    Role,
    StoredFile,
    User,
    WebSession,
)

_SUCCESSION = {HouseholdRole.admin: 0, HouseholdRole.member: 1}


def get_user(session: Session, user_id: str) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user with id {user_id}", key="user_not_found")
    return user


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"No user named {username!r}", key="user_named_not_found", details={"username": username})
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def _end_sessions(session: Session, user: User, *, keep: str | None = None) -> int:
    """End the user's browser sessions, all but `keep` (a cookie secret); returns how many."""
    query = delete(WebSession).where(WebSession.user_id == user.id)
    if keep:
        query = query.where(WebSession.token_hash != _digest(keep))
    done = session.execute(query.execution_options(synchronize_session=False))
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


def change_password(session: Session, *, user: User, current: str, new: str, keep_session: str | None) -> int:
    """The user's own change: needs the current password; ends their other browser sessions, keeps API tokens.

    Tokens are kept because scripts hold them and a password change is not a
    sign that one leaked (revoke them on the account page); sessions end because
    a browser left logged in somewhere is exactly what a change is often for.
    """
    if not verify_password(user.password_hash, current):
        raise Forbidden("The current password is wrong", key="wrong_password")  # 403: a 401 would read as logged out
    if new == current:
        raise InvalidInput("The new password is the same as the current one", key="same_password")
    validate_password(new)
    user.password_hash = hash_password(new)
    return _end_sessions(session, user, keep=keep_session)


def set_password(session: Session, *, user: User, password: str, revoke_tokens: bool = False) -> int:
    """An administrator's reset: ends every browser session of the user (and their tokens if asked)."""
    validate_password(password)
    user.password_hash = hash_password(password)
    if revoke_tokens:
        session.execute(delete(ApiToken).where(ApiToken.user_id == user.id)
                        .execution_options(synchronize_session=False))
    return _end_sessions(session, user)


def _active_admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User)
                          .where(User.role == Role.admin, User.is_active.is_(True))) or 0


def _keep_an_admin(session: Session, user: User) -> None:
    if user.is_admin and user.is_active and _active_admins(session) <= 1:
        raise Conflict("This is the last active administrator; make another one first", key="last_admin")


def set_active(session: Session, *, user: User, active: bool) -> User:
    """Disable or enable an account; a disabled one's sessions end and its tokens stop working at once."""
    if not active:
        _keep_an_admin(session, user)
        _end_sessions(session, user)  # tokens stay, refused while disabled (user_for_token checks)
    user.is_active = active
    session.flush()
    return user


def set_role(session: Session, *, user: User, role: Role) -> User:
    if role != Role.admin:
        _keep_an_admin(session, user)
    user.role = role
    session.flush()
    return user


@dataclass(frozen=True)
class Holdings:
    """What goes with an account, shown before it is deleted."""

    files: int
    jobs: int
    households_owned: int


def holdings(session: Session, user: User) -> Holdings:
    def count(model: type, column: object) -> int:
        return session.scalar(select(func.count()).select_from(model).where(column == user.id)) or 0  # type: ignore[operator]

    owned = session.scalar(select(func.count()).select_from(HouseholdMember).where(
        HouseholdMember.user_id == user.id, HouseholdMember.role == HouseholdRole.owner)) or 0
    return Holdings(files=count(StoredFile, StoredFile.owner_id), jobs=count(Job, Job.owner_id),
                    households_owned=owned)


def delete_user(session: Session, *, user: User) -> None:
    """Delete an account and everything it owns (files, jobs, tokens: the schema cascades).

    A household it owns passes to its next member (an admin first, then the
    longest-standing member, by id, as ids are time-ordered) or, when it was alone,
    goes with it. Its blobs are marked for the sweep, which deletes those no
    other row uses.
    """
    from boda.core import households
    from boda.core.uploads import mark_orphans

    _keep_an_admin(session, user)
    memberships = session.scalars(select(HouseholdMember).where(HouseholdMember.user_id == user.id)).all()
    for member in memberships:
        household = member.household
        if member.role == HouseholdRole.owner:
            others = sorted((m for m in household.members if m.user_id != user.id),
                            key=lambda m: (_SUCCESSION.get(m.role, 2), m.user_id))
            if not others:
                households._delete_household(session, household)
                continue
            others[0].role = HouseholdRole.owner
        households._drop_member(session, member)
    keys = set(session.scalars(select(StoredFile.blob_key).where(StoredFile.owner_id == user.id)))
    mark_orphans(session, keys)
    session.delete(user)
    session.flush()
