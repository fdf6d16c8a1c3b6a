"""Database: one engine per process, typed models, migrations applied at start."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uuid_utils
from sqlalchemy import JSON, DateTime, Engine, Index, MetaData, String, TypeDecorator, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from boda.core.errors import Unavailable

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    """UUIDv7: time-ordered, so new rows index well and lists sort by creation."""
    return str(uuid_utils.uuid7())


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always gives back aware datetimes (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def dialect_index(dialect: str, name: str, *columns: str) -> Index:
    """An index that only one database gets, in `create_all` and in migrations alike.

    For what suits one engine and harms another: a SQLite covering index that carries text,
    which PostgreSQL's B-tree would refuse past 2,704 bytes a row. `schema_filter` keeps
    autogenerate and the migrations-match-the-models check from asking for it elsewhere.
    Autogenerate runs on one engine and so writes only that engine's index: a migration that
    touches such an index is written by hand, per dialect (album's v0004 is one).
    """
    return Index(name, *columns, info={"dialect": dialect}).ddl_if(dialect=dialect)


def schema_filter(dialect: str) -> Callable[..., bool]:
    """Alembic's `include_object` on a `dialect` connection: another database's `dialect_index` is left out."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        wanted = getattr(obj, "info", {}).get("dialect")
        return wanted is None or wanted == dialect

    return include


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class IdMixin:
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _enable_wal(cursor: Any, patience_s: float) -> None:
    """Switch the file to WAL (the web server reads while a worker writes), once per file.

    The mode is stored in the file, so later connections find it set. Switching needs the
    file to itself and SQLite answers "locked" at once, without its busy handler, when
    several processes open a new database together (a fleet running `boda migrate`):
    those retry until the first one has switched it.
    """
    deadline = time.monotonic() + patience_s
    delay = 0.005
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        # busy_timeout first: everything after it waits for a lock instead of failing at once.
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        _enable_wal(cursor, busy_timeout_ms / 1000)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return on_connect


def make_engine(url: str, *, echo: bool = False, pool_size: int = 5, busy_timeout_ms: int = 10_000,
                sqlite_recycle_s: float = -1) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # SQLite reads the planner's statistics when a connection opens, not when another connection
        # refreshes them (`Database.analyze`): pooled connections are reopened as often as they are refreshed.
        engine = create_engine(url, echo=echo, pool_recycle=sqlite_recycle_s,
                               connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000})
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms))
        return engine
    # lock_timeout: a write that waits on another transaction's lock gives up, like SQLite's busy_timeout.
    connect_args = {"options": f"-c lock_timeout={int(busy_timeout_ms)}"} if url.startswith("postgresql") else {}
    return create_engine(url, echo=echo, pool_size=pool_size, pool_pre_ping=True, connect_args=connect_args)


# SQLSTATEs for "another transaction is in the way": serialization failure, deadlock, lock timeout.
_BUSY_SQLSTATES = frozenset({"40001", "40P01", "55P03"})


def is_busy(exc: BaseException) -> bool:
    """Whether a database error means "locked by someone else; try again" rather than a bug."""
    if not isinstance(exc, DBAPIError):
        return False
    if getattr(exc.orig, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    text = str(exc.orig).lower()
    return "database is locked" in text or "database table is locked" in text or "database is busy" in text


def busy_error() -> Unavailable:
    return Unavailable("The database is busy; nothing was saved; try again",
                       details={"retry_after": 1}, key="db_busy")


class Database:
    """An engine and its session factory, built once per process from settings."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 5, busy_timeout_ms: int = 10_000,
                 analyze_seconds: float = -1) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo, pool_size=pool_size, busy_timeout_ms=busy_timeout_ms,
                                  sqlite_recycle_s=analyze_seconds)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A unit of work: committed on success, rolled back on error.

        A write that lost a lock (another writer held it past the busy timeout)
        becomes `Unavailable`, so callers say "nothing was saved" instead of a 500.
        """
        with self.sessions() as session:
            try:
                yield session
                session.commit()
            except BaseException as exc:
                session.rollback()
                if is_busy(exc):
                    raise busy_error() from exc
                raise

    def migrate(self) -> None:
        from boda.core.migrate import upgrade

        upgrade(self.engine)
        try:
            self.analyze()
        except DBAPIError as exc:  # another process holds the write lock: the periodic task does it later
            if not is_busy(exc):
                raise
            log.warning("could not refresh SQLite's statistics at start-up (the database is busy); later then")

    def analyze(self) -> None:
        """Refresh SQLite's table statistics, reading every index (0.15 s at 100k photos); pooled
        connections read them when they are next reopened (`pool_recycle`).

        Without them SQLite's planner guesses how many rows each condition keeps: before Album's
        library index, it read `trashed_at IS NULL` as selective and scanned that column's index
        instead of looking 42 ids up by key (52 ms against 0.9 ms at 100k photos). Sampled
        statistics (`analysis_limit=1000`) guessed 1,001 photos an owner where there were 90,000,
        and the owner's searches then read 90,000 wide rows through the owner index instead of
        the narrow library index (counts 34 -> 112 ms, bench/album_search.py). PostgreSQL's
        autovacuum analyses on its own.
        """
        if self.engine.dialect.name != "sqlite":
            return
        with self.engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA analysis_limit=0")  # no sampling: see above
            conn.exec_driver_sql("ANALYZE")

    def dispose(self) -> None:
        self.engine.dispose()
