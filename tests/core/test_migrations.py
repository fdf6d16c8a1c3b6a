"""Migrations: one Alembic branch per app on top of the core's, all upgraded to their heads."""

from __future__ import annotations

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from boda.core.apps import specs
from boda.core.db import Database
from boda.core.migrate import alembic_config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def test_each_app_with_tables_has_its_own_branch_on_the_core() -> None:
    scripts = _scripts()
    core_revisions = {r.revision for r in scripts.walk_revisions() if "core" in (r.branch_labels or ())}
    assert core_revisions, "the core's first revision carries the branch label 'core'"
    for spec in specs():
        if spec.migrations_dir is None:
            continue
        bases = [r for r in scripts.walk_revisions() if spec.key in (r.branch_labels or ())]
        assert len(bases) == 1, f"{spec.key}: one revision labels its branch"
        depends = bases[0].dependencies
        depends = {depends} if isinstance(depends, str) else set(depends or ())
        assert depends and depends <= {r.revision for r in scripts.walk_revisions()}
        assert bases[0].down_revision is None, f"{spec.key} starts its own branch"
    apps_with_tables = sum(1 for spec in specs() if spec.migrations_dir)
    assert len(scripts.get_heads()) == 1 + apps_with_tables


def test_upgrade_reaches_every_head(db_url: str) -> None:
    db = Database(db_url)
    try:
        db.migrate()
        with db.engine.connect() as connection:
            applied = set(connection.scalars(text("SELECT version_num FROM alembic_version")))
        assert applied == set(_scripts().get_heads())
        db.migrate()  # a second start changes nothing
    finally:
        db.dispose()


def test_a_database_from_before_the_branches_is_adopted(db_url: str) -> None:
    """Boda 0.1 kept one line of revisions; its databases upgrade without recreating tables."""
    db = Database(db_url)
    try:
        db.migrate()
        with db.engine.begin() as connection:
            connection.execute(text("DELETE FROM alembic_version"))
            connection.execute(text("INSERT INTO alembic_version (version_num) VALUES ('fc2379755e77')"))
        db.migrate()
        with db.engine.connect() as connection:
            applied = set(connection.scalars(text("SELECT version_num FROM alembic_version")))
            assert "vision_anonymizations" in inspect(connection).get_table_names()
        assert applied == set(_scripts().get_heads())
    finally:
        db.dispose()
