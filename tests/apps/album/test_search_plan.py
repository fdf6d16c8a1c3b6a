"""The database side of a search stays fast as a library grows: SQLite's planner is given statistics."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from sqlalchemy import insert

from boda.apps.album import search
from boda.apps.album.models import Photo
from boda.apps.album.service import PhotoFilters
from boda.core.auth import Scope
from boda.core.db import Database
from boda.core.models import StoredFile, User
from boda.core.runtime import Runtime
from tests.conftest import Account

KEY = "concepts:test:v1"


def plan(db: Database, scope: Scope, ids: list[str]) -> str:
    query = search._visible_query(scope, PhotoFilters()).with_only_columns(Photo.id).where(
        Photo.index_key == KEY, Photo.id.in_(ids))
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as conn:
        return " | ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))


def test_checking_a_few_results_looks_them_up_by_key_once_statistics_exist(runtime: Runtime, alice: Account) -> None:
    with runtime.db.session() as session:
        session.execute(insert(StoredFile), [{"id": "f" * 36, "owner_id": alice.id, "blob_key": "x" * 64,
                                              "size": 1, "content_type": "image/jpeg"}])
        session.execute(insert(Photo), [
            {"id": f"{i:036d}", "owner_id": alice.id, "file_id": "f" * 36, "blob_key": "x" * 64,
             "sha256": f"{i:064x}", "phash": f"{i:016x}", "width": 1, "height": 1, "mime": "image/jpeg",
             "taken_at": datetime(2020, 1, 1, tzinfo=UTC), "index_key": KEY} for i in range(3000)])
        scope = Scope.of(session.get(User, alice.id))
    ids = [f"{i:036d}" for i in range(0, 3000, 70)]
    if runtime.db.engine.dialect.name == "sqlite":
        with runtime.db.engine.begin() as conn:  # as a database created before the rows came would be
            conn.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")
        runtime.db.dispose()
        # A web process's pooled connection, open before the statistics exist (reopened every 0.5 s here).
        web = Database(runtime.db.url, analyze_seconds=0.5)
        guessed = plan(web, scope, ids)
        assert "trashed_at" in guessed  # without statistics "IS NULL" looks selective: 3,000 rows are scanned
        runtime.db.analyze()  # what start-up and the periodic `analyze_db` task run, in another process
        time.sleep(0.6)
        informed = plan(web, scope, ids)  # the same pool: its connection was reopened and read them
        assert "trashed_at" not in informed and "sqlite_autoindex_album_photos_1" in informed, informed
        web.dispose()
    else:
        runtime.db.analyze()  # PostgreSQL: nothing to do, autovacuum analyses
    with runtime.db.session() as session:
        assert search._indexed_among(session, scope, PhotoFilters(), KEY, ids) == set(ids)
        assert search._indexed_among(session, scope, PhotoFilters(favorite=True), KEY, ids) == set()
    assert "analyze_db" in [task.name for task in runtime.queue.maintenance.tasks]
