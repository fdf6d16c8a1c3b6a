"""The vector store, on both engines: the embedded FAISS index and pgvector on a real PostgreSQL 16."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, create_engine

from boda.core.errors import ConfigError
from boda.core.vectors import EmbeddedVectorStore, PgVectorStore, VectorStore, make_vector_store
from tests.conftest import _fresh_pg_database, make_settings

SPACE = "album.photos:concepts:use-m:v1"


def unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=i + 1)) for i in range(n)]


def exact(vectors: np.ndarray, names: list[str], query: np.ndarray, k: int) -> list[str]:
    scores = unit(vectors) @ unit(query)
    return [names[i] for i in np.argsort(-scores, kind="stable")[:k]]


@pytest.fixture
def pg_engine(pgvector_url: str) -> Iterator[Engine]:
    url, drop = _fresh_pg_database(pgvector_url)
    engine = create_engine(url)
    yield engine
    engine.dispose()
    drop()


@pytest.fixture(params=["embedded", pytest.param("pgvector", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    if request.param == "embedded":
        # exact_limit small and filtered beams free, so the HNSW path (and its in-search filter) runs
        # on test-sized spaces
        made: VectorStore = EmbeddedVectorStore(tmp_path / "vectors", exact_limit=50, visit_cost=0)
    else:
        made = PgVectorStore(request.getfixturevalue("pg_engine"), exact_limit=50)
    yield made
    made.close()


def test_upsert_search_update_delete(store: VectorStore) -> None:
    rng = np.random.default_rng(1)
    names = ids(200)
    x = rng.standard_normal((200, 16)).astype(np.float32)
    store.upsert(SPACE, names, x)
    assert store.count(SPACE) == 200

    hits = store.search(SPACE, x[7], k=5)
    assert hits[0][0] == names[7] and hits[0][1] == pytest.approx(1.0, abs=1e-4)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert [i for i, _ in hits] == exact(x, names, x[7], 5)

    # an update moves the vector: the old one is no longer found, the new one is
    store.upsert(SPACE, [names[7]], -x[7:8])
    assert store.count(SPACE) == 200
    assert store.search(SPACE, x[7], k=1)[0][0] != names[7]
    assert store.search(SPACE, -x[7], k=1)[0][0] == names[7]
    np.testing.assert_allclose(store.get(SPACE, names[7]), unit(-x[7]), atol=1e-5)

    assert store.delete(SPACE, [names[7], names[8], "not-there"]) == 2
    assert store.count(SPACE) == 198
    assert store.get(SPACE, names[7]) is None
    found = [i for i, _ in store.search(SPACE, -x[7], k=198)]
    assert names[7] not in found and names[8] not in found and len(found) == 198


def test_allowed_returns_the_top_k_of_the_allowed_even_far_from_the_query(store: VectorStore) -> None:
    """The leak test: 500 vectors crowd the query; the 12 allowed ones point the other way.

    A search that filtered a top-k afterwards would find none of them; the store must return
    exactly the k best of the allowed set, and nothing outside it, at every size of `allowed`.
    """
    rng = np.random.default_rng(2)
    query = unit(rng.standard_normal(32))
    near = unit(query + 0.3 * rng.standard_normal((500, 32)))  # all close to the query
    far = unit(-query + 0.5 * rng.standard_normal((12, 32)))  # all far from it
    names = ids(512)
    store.upsert(SPACE, names, np.vstack([near, far]))
    private = set(names[:500])
    allowed = names[500:]

    hits = store.search(SPACE, query, k=5, allowed=allowed)
    assert [i for i, _ in hits] == exact(far, allowed, query, 5)
    assert not {i for i, _ in hits} & private
    # more asked than allowed: all of the allowed, none else
    assert sorted(i for i, _ in store.search(SPACE, query, k=50, allowed=allowed)) == sorted(allowed)
    # a wide allowed set (past the exact limit: the index path) still never leaks
    wide = names[250:]
    got = store.search(SPACE, query, k=20, allowed=set(wide))
    assert len(got) == 20 and {i for i, _ in got} <= set(wide)
    # allowed ids that are not in the space, or none at all
    assert store.search(SPACE, query, k=5, allowed=["nope"]) == []
    assert store.search(SPACE, query, k=5, allowed=[]) == []


def test_more_asked_than_a_beam_holds_still_answers_all_of_it(store: VectorStore) -> None:
    # Album's search asks for a few times the page when it checks results afterwards: past 1000,
    # pgvector refuses the beam (hnsw.ef_search is 1..1000), so the store must answer another way.
    rng = np.random.default_rng(4)
    names = ids(1100)
    x = rng.standard_normal((1100, 8)).astype(np.float32)
    store.upsert(SPACE, names, x)
    hits = store.search(SPACE, x[3], k=1050)
    assert len(hits) == 1050 and hits[0][0] == names[3]
    assert set(i for i, _ in hits) == set(exact(x, names, x[3], 1050))


def test_spaces_have_their_own_dimensions_and_start_empty(store: VectorStore) -> None:
    assert store.count("album.faces:sface:v1") == 0
    assert store.search("album.faces:sface:v1", np.ones(128), k=3) == []
    assert store.get("album.faces:sface:v1", "x") is None
    assert store.delete("album.faces:sface:v1", ["x"]) == 0
    store.upsert("album.faces:sface:v1", ["a", "b"], np.eye(128, dtype=np.float32)[:2])
    store.upsert(SPACE, ["a"], np.ones((1, 512), dtype=np.float32))
    assert store.search("album.faces:sface:v1", np.eye(128)[1], k=1)[0][0] == "b"
    assert store.count(SPACE) == 1 and store.count("album.faces:sface:v1") == 2
    with pytest.raises(ValueError, match="128"):
        store.upsert("album.faces:sface:v1", ["c"], np.ones((1, 64), dtype=np.float32))
    with pytest.raises(ValueError):
        store.search(SPACE, np.ones(128), k=1)
    store.drop_space("album.faces:sface:v1")
    assert store.count("album.faces:sface:v1") == 0
    assert store.count(SPACE) == 1
    store.upsert("album.faces:sface:v1", ["c"], np.ones((1, 64), dtype=np.float32))  # a new space, a new size
    assert store.count("album.faces:sface:v1") == 1
    with pytest.raises(ValueError):
        store.upsert("bad space!", ["a"], np.ones((1, 4)))


def test_embedded_survives_reopen_and_snapshot(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    names = ids(300)
    x = rng.standard_normal((300, 24)).astype(np.float32)
    first = EmbeddedVectorStore(tmp_path / "v", exact_limit=50)
    first.upsert(SPACE, names[:200], x[:200])
    first.snapshot(SPACE)  # generation 2 on disk, then more changes in its log
    first.upsert(SPACE, names[200:], x[200:])
    first.delete(SPACE, names[:10])
    first.close()

    again = EmbeddedVectorStore(tmp_path / "v", exact_limit=50)
    assert again.count(SPACE) == 290
    assert again.get(SPACE, names[0]) is None
    np.testing.assert_allclose(again.get(SPACE, names[250]), unit(x[250]), atol=1e-6)
    assert again.search(SPACE, x[250], k=1)[0][0] == names[250]
    folder = next((tmp_path / "v").iterdir())
    assert (folder / "CURRENT").read_text() == "2"
    assert sorted(p.name for p in folder.iterdir()) == ["CURRENT", "lock", "log-2", "snap-2.faiss", "snap-2.ids"]


def test_embedded_crash_mid_append_loses_nothing_saved(tmp_path: Path) -> None:
    """A torn record at the end of the log (the process died while writing) is ignored."""
    names = ids(3)
    x = np.eye(3, 8, dtype=np.float32)
    store = EmbeddedVectorStore(tmp_path / "v")
    store.upsert(SPACE, names[:2], x[:2])
    folder = next((tmp_path / "v").iterdir())
    log_file = folder / "log-1"
    whole = log_file.read_bytes()
    store.upsert(SPACE, names[2:], x[2:])
    log_file.write_bytes(log_file.read_bytes()[: len(whole) + 20])  # half of the second record
    again = EmbeddedVectorStore(tmp_path / "v")
    assert again.count(SPACE) == 2
    assert again.search(SPACE, x[1], k=1)[0][0] == names[1]
    # a crash while writing a snapshot: the half-written files are not current, nothing changes
    (folder / "snap-2.faiss.tmp").write_bytes(b"half")
    assert EmbeddedVectorStore(tmp_path / "v").count(SPACE) == 2


def test_embedded_sees_another_process_writes(tmp_path: Path) -> None:
    """Two stores on one folder (the web process and the worker): each catches up with the other."""
    web = EmbeddedVectorStore(tmp_path / "v")
    worker = EmbeddedVectorStore(tmp_path / "v")
    x = np.eye(4, 8, dtype=np.float32)
    worker.upsert(SPACE, ["a", "b"], x[:2])
    assert web.search(SPACE, x[1], k=1)[0][0] == "b"
    web.upsert(SPACE, ["c"], x[2:3])
    worker.snapshot(SPACE)  # a new generation: the web process reloads it
    worker.delete(SPACE, ["a"])
    assert web.count(SPACE) == 2 and web.get(SPACE, "a") is None
    web.drop_space(SPACE)
    assert worker.count(SPACE) == 0


def test_embedded_threads(tmp_path: Path) -> None:
    store = EmbeddedVectorStore(tmp_path / "v", exact_limit=10)
    rng = np.random.default_rng(4)
    errors: list[BaseException] = []

    def writer(t: int) -> None:
        try:
            for n in range(20):
                store.upsert(SPACE, [f"{t}-{n}"], rng.standard_normal((1, 16)))
                store.search(SPACE, rng.standard_normal(16), k=3)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.count(SPACE) == 80
    assert EmbeddedVectorStore(tmp_path / "v").count(SPACE) == 80


def test_choosing_the_engine(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    sqlite = create_engine(f"sqlite:///{tmp_path / 'boda.db'}")
    settings = make_settings(tmp_path, "sqlite://")
    assert make_vector_store(settings, sqlite).engine == "embedded"
    with pytest.raises(ConfigError, match="pgvector"):
        make_vector_store(make_settings(tmp_path, "sqlite://", vectors={"engine": "pgvector"}), sqlite)


@pytest.mark.postgres
def test_auto_takes_pgvector_where_postgres_has_it(tmp_path: Path, pg_engine: Engine, pg_server: str,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    settings = make_settings(tmp_path, "sqlite://")
    assert make_vector_store(settings, pg_engine).engine == "pgvector"
    # Debian's PostgreSQL 15 of the other tests has no pgvector: the embedded index, and a warning
    url, drop = _fresh_pg_database(pg_server)
    plain = create_engine(url)
    try:
        with caplog.at_level(logging.WARNING, logger="boda.core.vectors"):
            assert make_vector_store(settings, plain).engine == "embedded"
        assert "no pgvector" in caplog.text
        with pytest.raises(ConfigError):
            make_vector_store(make_settings(tmp_path, "sqlite://", vectors={"engine": "pgvector"}), plain)
    finally:
        plain.dispose()
        drop()


def test_embedded_exact_path_matches_numpy(tmp_path: Path) -> None:
    """Small spaces and allowed sets are scanned exactly: the same order as numpy, tombstones skipped."""
    rng = np.random.default_rng(5)
    names = ids(400)
    x = rng.standard_normal((400, 32)).astype(np.float32)
    store = EmbeddedVectorStore(tmp_path / "v")  # default exact_limit: everything here is exact
    store.upsert(SPACE, names, x)
    q = rng.standard_normal(32)
    assert [i for i, _ in store.search(SPACE, q, k=10)] == exact(x, names, q, 10)
    assert [i for i, _ in store.search(SPACE, q, k=10, allowed=set(names))] == exact(x, names, q, 10)
    store.delete(SPACE, exact(x, names, q, 3))
    assert [i for i, _ in store.search(SPACE, q, k=7)] == exact(x, names, q, 10)[3:]
    scores = [s for _, s in store.search(SPACE, q, k=1, allowed=names[:1])]
    assert scores == [pytest.approx(float(unit(x[0]) @ unit(q)), abs=1e-5)]


def test_embedded_allowed_rows_follow_adds_deletes_updates_and_reloads(tmp_path: Path) -> None:
    """Allowed ids are found by their hashes: rows added after the sorted copy, tombstones and
    updated ids must come out exactly as numpy over the live allowed vectors says."""
    rng = np.random.default_rng(11)
    names = ids(3000)
    x = rng.standard_normal((3000, 16)).astype(np.float32)
    store = EmbeddedVectorStore(tmp_path / "v", exact_limit=0)
    store.upsert(SPACE, names[:2000], x[:2000])
    allowed = set(names[::7])

    def expected(live: dict[str, np.ndarray], q: np.ndarray, k: int) -> list[str]:
        keys = [n for n in live if n in allowed]
        return exact(np.stack([live[n] for n in keys]), keys, q, k)

    live = dict(zip(names[:2000], x[:2000], strict=True))
    q = rng.standard_normal(16)
    assert [i for i, _ in store.search(SPACE, q, 10, allowed=allowed)] == expected(live, q, 10)  # sorted copy made

    store.upsert(SPACE, names[2000:], x[2000:])  # 1,000 rows after the sorted copy
    live.update(zip(names[2000:], x[2000:], strict=True))
    gone = expected(live, q, 4)
    store.delete(SPACE, gone)
    for name in gone:
        del live[name]
    moved = names[2002]  # allowed: 2002 = 7 x 286
    live[moved] = np.asarray(q, np.float32)  # updated: now the best match of all
    store.upsert(SPACE, [moved], live[moved][None])
    found = [i for i, _ in store.search(SPACE, q, 10, allowed=allowed)]
    assert found[0] == moved and found == expected(live, q, 10) and not set(found) & set(gone)
    assert len(store.search(SPACE, q, 5000, allowed=allowed)) == len(allowed & set(live))

    store.snapshot(SPACE)  # compacts the tombstones; a fresh process rebuilds the hashes
    again = EmbeddedVectorStore(tmp_path / "v", exact_limit=0)
    assert [i for i, _ in again.search(SPACE, q, 10, allowed=allowed)] == expected(live, q, 10)
    assert again.search(SPACE, q, 10, allowed={"not-a-stored-id", "another"}) == []
