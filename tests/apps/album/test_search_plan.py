"""The database side of a search stays fast as a library grows: SQLite's planner is given statistics."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, insert

from boda.apps.album import search, service
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


def test_checking_a_few_results_looks_them_up_by_key_with_or_without_statistics(runtime: Runtime,
                                                                                 alice: Account) -> None:
    with runtime.db.session() as session:
        session.execute(insert(StoredFile), [{"id": "f" * 36, "owner_id": alice.id, "blob_key": "x" * 64,
                                              "size": 1, "content_type": "image/jpeg"}])
        session.execute(insert(Photo), [
            {"id": f"{i:036d}", "owner_id": alice.id, "file_id": "f" * 36, "blob_key": "x" * 64,
             "sha256": f"{i:064x}", "phash": f"{i:016x}", "width": 1, "height": 1, "mime": "image/jpeg",
             "taken_at": datetime(2020, 1, 1, tzinfo=UTC), "index_key": KEY,
             # A few photos in the trash, each trashed at its own moment, as in a library in use.
             "trashed_at": datetime(2026, 11, 1 + i % 28, i % 24, tzinfo=UTC) if i % 150 == 1 else None}
            for i in range(3000)])
        scope = Scope.of(session.get(User, alice.id))
    ids = [f"{i:036d}" for i in range(0, 3000, 70)]
    if runtime.db.engine.dialect.name == "sqlite":
        with runtime.db.engine.begin() as conn:  # as a database created before the rows came would be
            conn.exec_driver_sql("DROP TABLE IF EXISTS sqlite_stat1")
        runtime.db.dispose()
        # A web process's pooled connection, open before the statistics exist (reopened every 0.5 s here).
        web = Database(runtime.db.url, analyze_seconds=0.5)
        guessed = plan(web, scope, ids)
        assert "sqlite_autoindex_album_photos_1" in guessed and "library" not in guessed, guessed
        runtime.db.analyze()  # what start-up and the periodic `analyze_db` task run, in another process
        time.sleep(0.6)
        # With statistics the trash's distinct moments make `trashed_at IS NULL` look selective: an index led
        # by trashed_at would be scanned whole (it was, 33 ms against 0.7 at 100k). The library index is not.
        informed = plan(web, scope, ids)
        assert "sqlite_autoindex_album_photos_1" in informed and "library" not in informed, informed
        assert web.engine.pool._recycle == 0.5  # pooled connections reopen, and so read fresh statistics
        with web.engine.connect() as conn:  # counted, not sampled: 3,000 photos of one owner, not "1,001"
            stat = conn.exec_driver_sql("SELECT stat FROM sqlite_stat1 WHERE idx = 'ix_album_photos_owner_id'")
            assert int(stat.scalar_one().split()[1]) >= 3000
        web.dispose()
    else:
        runtime.db.analyze()  # PostgreSQL: nothing to do, autovacuum analyses
    with runtime.db.session() as session:
        assert search._indexed_among(session, scope, PhotoFilters(), KEY, ids) == set(ids)
        assert search._indexed_among(session, scope, PhotoFilters(favorite=True), KEY, ids) == set()
    assert "analyze_db" in [task.name for task in runtime.queue.maintenance.tasks]


def _photos(runtime: Runtime, owner_id: str, texts: list[str | None]) -> list[str]:
    ids = [f"{owner_id[:8]}-{i:027d}" for i in range(len(texts))]
    with runtime.db.session() as session:
        session.execute(insert(StoredFile), [{"id": ids[0], "owner_id": owner_id, "blob_key": "x" * 64,
                                              "size": 1, "content_type": "image/jpeg"}])
        session.execute(insert(Photo), [
            {"id": pid, "owner_id": owner_id, "file_id": ids[0], "blob_key": "x" * 64, "sha256": f"{i:064x}",
             "phash": f"{i:016x}", "width": 1, "height": 1, "mime": "image/jpeg", "ocr_text": text,
             "caption": "A photo showing a cup.", "concepts": [{"label": "a cup", "weight": 0.9}] * 8,
             "taken_at": datetime(2020, 1, 1, tzinfo=UTC), "index_key": KEY} for i, (pid, text) in enumerate(
                zip(ids, texts, strict=True))])
    return ids


def steps(db: Database, query: Select[Any]) -> str:
    sql = str(query.compile(db.engine, compile_kwargs={"literal_binds": True}))
    with db.engine.connect() as conn:
        return " | ".join(str(row[-1]) for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))


def test_counts_words_and_the_library_page_read_the_library_index(runtime: Runtime, alice: Account) -> None:
    _photos(runtime, alice.id, ["OPEN 24H", None] * 50)
    runtime.db.analyze()
    with runtime.db.session() as session:
        scope = Scope.of(session.get(User, alice.id))
    ids = search._visible_query(scope, PhotoFilters()).with_only_columns(Photo.id)
    with runtime.db.engine.connect() as conn:
        if runtime.db.engine.dialect.name == "sqlite":
            with runtime.db.session() as session:
                words = search._literal_query(session, scope, PhotoFilters(), "Open")  # as a search runs it
            for query in (ids, words):
                plan = steps(runtime.db, query)
                assert "USING COVERING INDEX ix_album_photos_library_words" in plan, plan
            for filters in (PhotoFilters(), PhotoFilters(oldest_first=True), PhotoFilters(favorite=True)):
                plan = steps(runtime.db, service.photo_filter_query(scope, filters).limit(60))
                # The page is read in the library's order and stops at 60, instead of sorting every row.
                assert "ix_album_photos_library_words" in plan and "TEMP B-TREE" not in plan, plan
            trash = steps(runtime.db, service.photo_filter_query(scope, PhotoFilters(trashed=True)).limit(60))
            assert "ix_album_photos_trash" in trash, trash  # the few trashed photos, not the owner's library
            partial = {row[1]: row[4] for row in conn.exec_driver_sql("PRAGMA index_list(album_photos)")}
            assert partial["ix_album_photos_trash"] == 1 and partial["ix_album_photos_library_words"] == 0
        else:
            names = set(conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'album_photos'")
                        .scalars())
            assert {"ix_album_photos_library", "ix_album_photos_trash"} <= names
            assert "ix_album_photos_library_words" not in names
            trash = conn.exec_driver_sql("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_album_photos_trash'")
            assert "WHERE (trashed_at IS NOT NULL)" in trash.scalar_one()
    with runtime.db.session() as session:
        assert search._counts(session, scope, PhotoFilters(), KEY) == (100, 100)


def test_words_match_whatever_the_case_and_a_percent_sign_is_only_itself(runtime: Runtime, alice: Account) -> None:
    ids = _photos(runtime, alice.id, ["50% OFF today", "500 off", "Bakery", None, "école a/b", "카페 OPEN",
                                      "CAFÉ CENTRAL", "Straße"])
    with runtime.db.session() as session:
        scope = Scope.of(session.get(User, alice.id))
        found = {text: search._literal(session, scope, PhotoFilters(), text)
                 for text in ("50%", "OFF", "bakery", "BAKERY", "5_0", "%", "ÉCOLE", "école", "a/b", "/", "카페",
                              "café", "Café", "straße")}
    assert found["50%"] == {ids[0]}  # not "500 off": the % is a character, not a wildcard
    assert found["OFF"] == {ids[0], ids[1]}
    assert found["bakery"] == found["BAKERY"] == {ids[2]}
    assert found["5_0"] == set() and found["%"] == {ids[0]}
    assert found["ÉCOLE"] == found["école"] == {ids[4]}  # SQLite's LIKE folds ASCII only: asked both ways
    assert found["a/b"] == found["/"] == {ids[4]}  # the escape character itself
    assert found["카페"] == {ids[5]}
    assert found["café"] == found["Café"] == {ids[6]}  # stored in upper case: asked in upper case too
    assert found["straße"] == {ids[7]}
