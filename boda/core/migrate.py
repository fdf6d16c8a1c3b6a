"""Alembic, driven from code: `boda serve` and `boda migrate` upgrade every branch to its head.

The core's revisions live in `boda/core/migrations/versions` (branch `core`);
each app keeps its own branch in `boda/apps/<key>/migrations`, labelled with
its key and depending on the core revision it builds on.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS = Path(__file__).parent / "migrations"

# Databases made by Boda 0.1 hold one linear history (this head) that also created
# some apps' first tables. An app's first revision that existed then says so with a
# module attribute `adopt_from_linear_history = ("its_table", ...)`: when those tables
# are there, the revision is recorded as applied instead of run again.
_LEGACY_HEAD = "fc2379755e77"


def alembic_config(connection: Connection | None = None) -> Config:
    from boda.core.apps import specs

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    locations = [MIGRATIONS / "versions"] + [spec.migrations_dir for spec in specs() if spec.migrations_dir]
    config.set_main_option("version_locations", " ".join(str(p) for p in locations))
    config.set_main_option("path_separator", "space")
    config.attributes["connection"] = connection
    return config


def _adopt_legacy(connection: Connection) -> None:
    from alembic.script import ScriptDirectory

    tables = set(inspect(connection).get_table_names())
    if "alembic_version" not in tables:
        return
    versions = set(connection.scalars(text("SELECT version_num FROM alembic_version")))
    if versions != {_LEGACY_HEAD}:
        return
    for script in ScriptDirectory.from_config(alembic_config()).walk_revisions():
        adopted = getattr(script.module, "adopt_from_linear_history", ())
        if adopted and set(adopted) <= tables:
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                               {"v": script.revision})


# One key for every Boda process that migrates this database (PostgreSQL advisory locks are per database).
_LOCK_KEY = zlib.crc32(b"boda.migrate")
# How long a migration waits for another process's (SQLite); PostgreSQL waits without a limit.
_SQLITE_WAIT_MS = 10 * 60 * 1000


@contextmanager
def _migration_lock(connection: Connection) -> Iterator[None]:
    """Let one process at a time upgrade: a fleet started together must not race on `alembic_version`.

    PostgreSQL: an advisory lock held by this transaction (released at its commit or rollback);
    the next process then sees the schema at head and does nothing. SQLite: the upgrade runs in
    one `BEGIN EXCLUSIVE` transaction, which also makes it all-or-nothing.
    """
    dialect = connection.dialect.name
    if dialect == "postgresql":
        # The engine's lock_timeout (db.busy_timeout_ms) is for requests; a migration waits for the one ahead of
        # it however long its upgrade takes (on a busy machine more than 10 s). LOCAL: this transaction only.
        connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        yield
    elif dialect == "sqlite":
        previous = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {_SQLITE_WAIT_MS}")
        try:
            connection.exec_driver_sql("BEGIN EXCLUSIVE")
        finally:
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(previous or 0)}")
        yield
    else:
        yield


def upgrade(engine: Engine, revision: str = "heads") -> None:
    with engine.begin() as connection, _migration_lock(connection):
        _adopt_legacy(connection)
        command.upgrade(alembic_config(connection), revision)


def autogenerate(engine: Engine, message: str, *, head: str = "core@head") -> None:
    """Write a new revision from the difference between models and database (developers).

    `head` picks the branch: `core@head`, or `<app>@head` for an app's own tables.
    """
    with engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True, head=head)
