"""SQLite set-up under a crowd: many processes opening one new database file together."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from sqlalchemy import text

from boda.core.db import make_engine


def _open_and_write(path: str, barrier: object) -> str:
    engine = make_engine(f"sqlite:///{path}")
    barrier.wait()  # type: ignore[attr-defined]
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
        with engine.connect() as connection:
            return str(connection.execute(text("PRAGMA journal_mode")).scalar())
    except Exception as exc:  # reported back to the test, which shows it
        return f"error: {exc}"
    finally:
        engine.dispose()


def test_processes_opening_a_new_database_together_all_get_wal(tmp_path: Path) -> None:
    """Switching to WAL is refused at once while another process switches; each waits instead."""
    context = multiprocessing.get_context("spawn")
    crowd = 12
    with context.Manager() as manager, context.Pool(crowd) as pool:
        for attempt in range(6):
            path = tmp_path / f"crowd-{attempt}.sqlite"
            answers = pool.starmap(_open_and_write, [(str(path), manager.Barrier(crowd))] * crowd)
            assert answers == ["wal"] * crowd, answers
