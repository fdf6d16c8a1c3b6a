"""Core tables shared by every app: people, access, files and jobs."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column, relationship

from boda.core.db import Base, IdMixin, TimestampMixin, utcnow


class Role(StrEnum):
    admin = "admin"
    user = "user"


class Visibility(StrEnum):
    private = "private"  # the owner only
    household = "household"  # the owner and the members of the object's household
    unlisted = "unlisted"  # anyone holding the share link
    public = "public"  # everyone, listed in galleries


class HouseholdRole(StrEnum):
    owner = "owner"  # exactly one: renames, removes members, hands over, deletes
    admin = "admin"  # invites people too
    member = "member"


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    canceled = "canceled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.succeeded, JobStatus.failed, JobStatus.canceled)


class User(IdMixin, TimestampMixin, Base):
    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(String(16), default=Role.user)
    locale: Mapped[str | None] = mapped_column(String(8), default=None)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin


class ApiToken(IdMixin, TimestampMixin, Base):
    """A bearer token for the API and CLI; only its hash is stored."""

    __tablename__ = "api_tokens"

    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    user: Mapped[User] = relationship(lazy="joined")


class WebSession(TimestampMixin, Base):
    """A browser login; the cookie holds a random token, the row its hash."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    user: Mapped[User] = relationship(lazy="joined")


class Household(IdMixin, TimestampMixin, Base):
    """People who share one kitchen or album: Pantry's fridges belong to one."""

    __tablename__ = "households"

    name: Mapped[str] = mapped_column(String(128))
    members: Mapped[list[HouseholdMember]] = relationship(
        back_populates="household", cascade="all, delete-orphan", lazy="selectin"
    )


class HouseholdMember(Base):
    __tablename__ = "household_members"

    household_id: Mapped[str] = mapped_column(
        ForeignKey("households.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[HouseholdRole] = mapped_column(String(16), default=HouseholdRole.member)
    household: Mapped[Household] = relationship(back_populates="members")
    user: Mapped[User] = relationship(lazy="joined")


class HouseholdInvite(IdMixin, TimestampMixin, Base):
    """An offer to join a household, sent as a link; only the code's hash is stored.

    Invitations are codes, never usernames: inviting does not tell anyone
    which accounts exist, and nobody joins without saying yes.
    """

    __tablename__ = "household_invites"

    household_id: Mapped[str] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"), index=True)
    inviter_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime]
    max_uses: Mapped[int] = mapped_column(Integer, default=1)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    declined_at: Mapped[datetime | None] = mapped_column(default=None)
    household: Mapped[Household] = relationship(lazy="joined")
    inviter: Mapped[User] = relationship(lazy="joined")


class Owned:
    """Every shareable object: an owner, a visibility and, when shared with one, a household.

    Read and write through `core.auth.Scope`; set visibility with `core.auth.set_visibility`.
    `noun` names the kind in English messages, `noun_key` its `error.<noun_key>_not_found` text.
    """

    noun: ClassVar[str] = "object"
    noun_key: ClassVar[str] = "object"

    @declared_attr
    def owner_id(cls) -> Mapped[str]:
        return mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)

    @declared_attr
    def household_id(cls) -> Mapped[str | None]:
        # SET NULL: when a household is deleted its objects fall back to their owner alone.
        return mapped_column(ForeignKey("households.id", ondelete="SET NULL"), index=True, default=None)

    visibility: Mapped[Visibility] = mapped_column(String(16), default=Visibility.private)
    share_token: Mapped[str | None] = mapped_column(String(43), unique=True, default=None)


class StoredFile(IdMixin, TimestampMixin, Owned, Base):
    """A file in the blob store. The client's name is metadata, never a path."""

    __tablename__ = "files"
    noun = noun_key = "file"

    blob_key: Mapped[str] = mapped_column(String(128), index=True)
    filename: Mapped[str] = mapped_column(String(255), default="")
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    app: Mapped[str] = mapped_column(String(32), default="core")
    derived_from_id: Mapped[str | None] = mapped_column(
        ForeignKey("files.id", ondelete="SET NULL"), default=None
    )


class Job(IdMixin, TimestampMixin, Base):
    """A unit of long work; the row is the truth, the queue only carries its id."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_heartbeat", "status", "heartbeat_at"),)

    owner_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True, default=None
    )
    kind: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(255), default="")  # English, for logs and the CLI
    # The same texts as catalogue keys and values, shown in each viewer's language.
    title_key: Mapped[str | None] = mapped_column(String(128), default=None)
    title_args: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    status: Mapped[JobStatus] = mapped_column(String(16), default=JobStatus.queued)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str] = mapped_column(Text, default="")
    message_key: Mapped[str | None] = mapped_column(String(128), default=None)
    message_args: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[str | None] = mapped_column(String(128), default=None)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)


class JobEvent(Base):
    """The progress stream of a job; its id is the SSE event id (Last-Event-ID)."""

    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16))  # progress | status | final
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BlobOrphan(Base):
    """A blob that may have lost its last row; swept after a grace period.

    Blobs are shared by content, so deleting one in the request that deleted
    a row could pull it from under another user's upload of the same bytes
    that is not committed yet.
    """

    __tablename__ = "blob_orphans"

    blob_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    since: Mapped[datetime] = mapped_column(default=utcnow)


class LoginFailure(IdMixin, Base):
    """One failed login, counted against a username and, in a second row, an address (see core/throttle)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_scope_key_at", "scope", "key", "at"),)

    scope: Mapped[str] = mapped_column(String(8))  # user | address
    key: Mapped[str] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Schedule(Base):
    """When a periodic task (the reaper, the blob sweep) is next due, for every process at once.

    Each worker process polls; the one whose update moves `next_run_at` forward runs that
    round, so the fleet keeps one schedule however many workers it has.
    """

    __tablename__ = "schedules"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_run_at: Mapped[datetime] = mapped_column()
    owner: Mapped[str | None] = mapped_column(String(255))  # the worker that claimed the last round
