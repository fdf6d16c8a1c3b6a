"""Migrations: one Alembic branch per app on top of the core's, all upgraded to their heads."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from boda.core.apps import specs
from boda.core.db import Database
from boda.core.migrate import alembic_config

REPO = Path(__file__).resolve().parents[2]


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def _reached(applied: set[str]) -> set[str]:
    """Every revision the recorded ones stand on (Alembic records only the tips)."""
    scripts, seen, todo = _scripts(), set(), list(applied)
    while todo:
        revision = scripts.get_revision(todo.pop())
        if revision is None or revision.revision in seen:
            continue
        seen.add(revision.revision)
        for parent in (revision.down_revision, revision.dependencies):
            todo += [parent] if isinstance(parent, str) else list(parent or ())
    return seen


def test_each_app_with_tables_has_its_own_branch_on_the_core() -> None:
    scripts = _scripts()
    core_revisions = {r.revision for r in scripts.walk_revisions() if "core" in (r.branch_labels or ())}
    assert core_revisions, "the core's first revision carries the branch label 'core'"
    for spec in specs():
        if spec.migrations_dir is None:
            continue
        branch = [r for r in scripts.walk_revisions() if spec.key in (r.branch_labels or ())]
        assert {r.module.__file__ for r in branch} <= {str(p) for p in spec.migrations_dir.glob("*.py")}
        bases = [r for r in branch if r.down_revision is None]
        assert len(bases) == 1, f"{spec.key}: one revision starts its branch"
        depends = bases[0].dependencies
        depends = {depends} if isinstance(depends, str) else set(depends or ())
        assert depends and depends <= {r.revision for r in scripts.walk_revisions()}
    apps_with_tables = sum(1 for spec in specs() if spec.migrations_dir)
    assert len(scripts.get_heads()) == 1 + apps_with_tables


def test_upgrade_reaches_every_head(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.migrate()
        with db.engine.connect() as connection:
            applied = set(connection.scalars(text("SELECT version_num FROM alembic_version")))
        assert set(_scripts().get_heads()) <= _reached(applied)
        db.migrate()  # a second start changes nothing
    finally:
        db.dispose()


def test_a_database_from_before_the_branches_is_adopted(db_url: str) -> None:
    """Boda 0.1 kept one line of revisions; its databases upgrade without recreating tables."""
    from boda.core.migrate import upgrade

    db = Database(db_url)
    try:
        upgrade(db.engine, "fc2379755e77")  # the 0.1 schema: the core of then, and Vision's table
        upgrade(db.engine, "5e1c0a7d0001")
        with db.engine.begin() as connection:
            connection.execute(text("DELETE FROM alembic_version"))
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES ('fc2379755e77')"))
        db.migrate()
        with db.engine.connect() as connection:
            applied = set(connection.scalars(text("SELECT version_num FROM alembic_version")))
            assert "vision_anonymizations" in inspect(connection).get_table_names()
        assert set(_scripts().get_heads()) <= _reached(applied)
    finally:
        db.dispose()


def test_many_migrations_at_once_all_succeed(db_url: str, tmp_path: Path) -> None:
    """A fleet started together: 10 `boda migrate` on an empty database all exit 0, one schema."""
    env = {**os.environ, "BODA_DATA_DIR": str(tmp_path / "data"), "BODA_DB__URL": db_url,
           "BODA_CONFIG": "", "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-m", "boda", "migrate"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT) for _ in range(10)]
    outputs = [(proc.wait(180), proc.stdout.read().decode() if proc.stdout else "") for proc in procs]
    failed = [out for rc, out in outputs if rc != 0]
    assert not failed, failed[0][-3000:]
    db = Database(db_url)
    try:
        with db.engine.connect() as connection:
            applied = list(connection.scalars(text("SELECT version_num FROM alembic_version")))
        assert len(applied) == len(set(applied))  # each head recorded once
        assert set(_scripts().get_heads()) <= _reached(set(applied))
    finally:
        db.dispose()
