"""Vector search for the apps: one small protocol, two engines.

A *space* is one app's vectors from one embedder (`album.photos:concepts:use-m:v1`), with its
own dimension, fixed by its first vectors. Ids are Boda's string ids. Scores are cosine
similarities (vectors are normalised on the way in), highest first.

`allowed` is the privacy seam: when given, a result outside it is impossible, because every
engine restricts the candidates *while* it searches (a FAISS ID selector, a SQL `WHERE`), never
by filtering someone else's top k afterwards, and a restriction the index cannot serve in full
falls back to an exact scan of the allowed vectors, so the caller gets k results when the
allowed set holds k.

Engines (chosen by `make_vector_store` from `vectors.engine`):

- `EmbeddedVectorStore`: FAISS HNSW (inner product on normalised vectors) per space, in memory,
  persisted under `<data_dir>/vectors/`. Chosen by measurement (bench/vectors.py, 512-d, on 2
  busy shared cores): at 100k, ef 64: p50 2.7 ms / p95 10.7 ms, recall@10 0.94 (33x numpy's exact
  scan); ef 128: p50 8.0 / p95 13.8 ms, recall 0.98 (19x numpy, on a busier machine);
  ~2.3 GB per million vectors; and FAISS filters by
  id *inside* the graph search, which usearch's Python API cannot (usearch: recall 0.98 at 10k,
  no filter); IVF needs training and scored recall 0.55-0.71 at nprobe 32; sqlite-vec is an
  exact scan (and this Python's sqlite3 cannot load extensions). At 1M (2026-12-02): numpy's
  exact scan p50 179 / p95 213 ms; IVF-Flat (nlist 4000, nprobe 32) p95 3.8 ms but recall 0.48;
  HNSW M 32 with efConstruction 64 built in ~17 min and reached p95 7.6 ms at recall 0.84 (ef 128),
  8.4 ms at 0.93 (ef 256), 14.2 ms at 0.975 (ef 512). A better graph pays: efConstruction 128
  (the default) builds in 29 min, and ef 256 (the default) answers in p50 6.6 / p95 7.8 ms at
  recall 0.977 (ef 384: 9.8 ms, 0.990), 33x numpy, through this store (bench/vectors.py).
  Small spaces (up to `exact_limit`) are searched exactly, with FAISS's SIMD dot products over its
  own storage, and so is an allowed set whose widened beam would cost more than scanning it
  (`VISIT_COST`): restricted to 10 % of 1M, 30 ms for the scan of FAISS's rows at recall 1.0, where
  the beam took 23 ms at 0.994. Finding the rows of 100k allowed ids was the rest: profiled, 76 ms
  of dict lookups (cache misses on a 1M-entry dict and its strings). They are now found by hash
  with numpy (`_Space.rows_of`): the whole restricted search went from p50 137 to 76 ms at 1M, of
  which ~30 ms is hashing the caller's 100k strings, ~28 ms the exact scan.
- `PgVectorStore`: pgvector on the app's PostgreSQL, a table per space with an HNSW index
  (cosine ops), for fleets of web and worker machines.

Embedded persistence, per space folder: `CURRENT` names a generation N, whose snapshot is
`snap-N.faiss` + `snap-N.ids` and whose changes since are appended to `log-N` (length- and
CRC-framed records, fsynced per call). A torn last record (crash mid-append) is ignored; a new
snapshot is written beside the old one and only becomes current by an atomic rename of
`CURRENT`, so a crash at any point loses nothing already saved. Writers hold an exclusive
`flock` on the space's `lock` file; every operation first catches up with what other processes
wrote (a new generation is reloaded, a longer log is replayed), so several processes on one
machine (web and worker) stay consistent, at the cost of each holding the index in memory.
Several machines need the pgvector engine.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import re
import struct
import threading
import zlib
from array import array
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from sqlalchemy import Engine, text

from boda.core.errors import ConfigError

log = logging.getLogger(__name__)

# One node a filtered HNSW beam visits costs about as much as this many exact dot products
# (at 1M, 512-d: ef 1280 restricted to 10 % took 23 ms; the exact scan of those 100k rows, 30 ms).
VISIT_COST = 60
SPACE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:+-]{0,199}$")
MAX_ID_LEN = 64


@runtime_checkable
class VectorStore(Protocol):
    """Named spaces of (id, vector); cosine search, optionally restricted to ids the caller may see."""

    engine: str

    def upsert(self, space: str, ids: Sequence[str], vectors: np.ndarray) -> None: ...

    def delete(self, space: str, ids: Collection[str]) -> int: ...

    def search(self, space: str, query: np.ndarray, k: int = 10,
               allowed: Collection[str] | None = None) -> list[tuple[str, float]]: ...

    def count(self, space: str) -> int: ...

    def get(self, space: str, id: str) -> np.ndarray | None: ...  # noqa: A002

    def drop_space(self, space: str) -> None: ...

    def close(self) -> None: ...


# --- shared checks ---------------------------------------------------------------------


def _check_space(space: str) -> str:
    if not SPACE_RE.match(space):
        raise ValueError(f"vector space name {space!r}: letters, digits and . _ : + - only")
    return space


def _normalised(vectors: np.ndarray, n: int | None = None) -> np.ndarray:
    """Rows as float32 of unit length (cosine = inner product); a zero or non-finite row is refused."""
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] == 0:
        raise ValueError(f"vectors must be a (n, dim) array, got shape {np.shape(vectors)}")
    if n is not None and x.shape[0] != n:
        raise ValueError(f"{n} ids but {x.shape[0]} vectors")
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise ValueError("a vector is zero or not finite")
    return np.ascontiguousarray(x / norms, dtype=np.float32)


def _check_ids(ids: Sequence[str]) -> list[str]:
    out = [str(i) for i in ids]
    if any(not i or len(i) > MAX_ID_LEN for i in out):
        raise ValueError(f"vector ids must be 1-{MAX_ID_LEN} characters")
    if len(set(out)) != len(out):
        raise ValueError("the same id twice in one upsert")
    return out


def _top(scores: np.ndarray, labels: np.ndarray, k: int) -> list[tuple[int, float]]:
    return [(int(i), float(s)) for s, i in zip(scores, labels, strict=True) if i >= 0][:k]


# --- embedded: FAISS HNSW, snapshot + log ------------------------------------------------

_REC_HEAD = struct.Struct("<II")  # payload length, crc32
_OP_UPSERT, _OP_DELETE = b"U", b"D"


def _encode(op: bytes, ids: list[str], vectors: np.ndarray | None) -> bytes:
    names = json.dumps(ids).encode()
    body = op + struct.pack("<I", len(names)) + names
    if vectors is not None:
        body += struct.pack("<I", vectors.shape[1]) + vectors.astype("<f4").tobytes()
    return _REC_HEAD.pack(len(body), zlib.crc32(body)) + body


def _records(data: bytes) -> Iterator[tuple[int, bytes, list[str], np.ndarray | None]]:
    """(end offset, op, ids, vectors) for every whole record; stops at a torn or corrupt tail."""
    pos = 0
    while pos + _REC_HEAD.size <= len(data):
        length, crc = _REC_HEAD.unpack_from(data, pos)
        body = data[pos + _REC_HEAD.size: pos + _REC_HEAD.size + length]
        if len(body) < length or zlib.crc32(body) != crc:
            return
        op = body[:1]
        (n_names,) = struct.unpack_from("<I", body, 1)
        ids = json.loads(body[5: 5 + n_names])
        vectors = None
        if op == _OP_UPSERT:
            (dim,) = struct.unpack_from("<I", body, 5 + n_names)
            vectors = np.frombuffer(body, dtype="<f4", offset=9 + n_names).reshape(len(ids), dim)
        pos += _REC_HEAD.size + length
        yield pos, op, ids, vectors


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


class _Space:
    """One space in memory: an HNSW graph over row numbers, row -> id (None once deleted).

    Beside them, per row, Python's hash of its id and whether it is live, as flat arrays: a
    restriction to 100k allowed ids finds its rows with numpy (`rows_of`), not with 100k dict
    lookups (0.76 ms per 1,000 ids at 1M: cache misses on the dict and on the id strings).
    """

    def __init__(self, dim: int, m: int, ef_construction: int) -> None:
        import faiss

        self.dim = dim
        self.index = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = ef_construction
        self.ids: list[str | None] = []
        self.rows: dict[str, int] = {}
        self.hashes = array("q")  # hash(id) per row; in memory only (str hashes are per process)
        self.live = bytearray()  # 1 per live row
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None  # hashes sorted, and their rows

    @classmethod
    def restored(cls, index: Any, ids: list[str | None], m: int, ef_construction: int) -> _Space:
        state = cls(index.d, m, ef_construction)
        state.index, state.ids = index, ids
        state.rows = {i: row for row, i in enumerate(ids) if i is not None}
        state.hashes.extend(map(hash, ids))
        state.live.extend(i is not None for i in ids)
        return state

    @property
    def dead(self) -> int:
        return len(self.ids) - len(self.rows)

    def upsert(self, ids: list[str], vectors: np.ndarray) -> None:
        if vectors.shape[1] != self.dim:
            raise ValueError(f"this space holds {self.dim}-d vectors, got {vectors.shape[1]}-d")
        self.delete(ids)  # an update is a new row; the old one becomes a tombstone
        start = len(self.ids)
        self.index.add(vectors)
        self.ids.extend(ids)
        self.rows.update((i, start + n) for n, i in enumerate(ids))
        self.hashes.extend(map(hash, ids))
        self.live.extend(b"\x01" * len(ids))

    def delete(self, ids: Collection[str]) -> int:
        gone = 0
        for i in ids:
            row = self.rows.pop(i, None)
            if row is not None:
                self.ids[row] = None
                self.live[row] = 0
                gone += 1
        return gone

    def rows_of(self, allowed: Collection[object]) -> np.ndarray:
        """The live rows whose id hashes like one in `allowed`, sorted (FAISS's storage read in order).

        A different id with the same 64-bit hash may slip in (odds ~1e-8 at 1M rows; the hash is
        keyed per process, so it cannot be aimed): the caller drops results outside `allowed`.
        """
        wanted = np.sort(np.fromiter(map(hash, allowed), np.int64, len(allowed)))  # sorted: a forward sweep
        total = len(self.ids)
        if self._sorted is None or total - len(self._sorted[1]) > max(10_000, total // 8):
            hashes = np.frombuffer(self.hashes, np.int64)
            order = np.argsort(hashes, kind="stable")
            self._sorted = hashes[order], order
        sorted_hashes, sorted_rows = self._sorted
        at = np.minimum(np.searchsorted(sorted_hashes, wanted), len(sorted_hashes) - 1)
        rows = sorted_rows[at[sorted_hashes[at] == wanted]] if len(sorted_hashes) else np.empty(0, np.int64)
        covered = len(sorted_rows)
        if covered < total:  # rows added since the sorted copy was made: few, checked directly
            tail = np.frombuffer(self.hashes, np.int64)[covered:]
            rows = np.concatenate([rows, covered + np.flatnonzero(np.isin(tail, wanted))])
        live = np.frombuffer(self.live, np.bool_)
        return np.sort(rows[live[rows]])

    def live_vectors(self) -> tuple[list[str], np.ndarray]:
        rows = np.fromiter(self.rows.values(), dtype=np.int64, count=len(self.rows))
        vectors = self.index.reconstruct_batch(rows) if len(rows) else np.empty((0, self.dim), np.float32)
        return list(self.rows), vectors


class EmbeddedVectorStore:
    """FAISS HNSW per space, in this process, saved under `root` (see the module docstring)."""

    engine = "embedded"

    def __init__(self, root: Path, *, m: int = 32, ef_construction: int = 128, ef_search: int = 256,
                 exact_limit: int = 20_000, visit_cost: float = VISIT_COST) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.m, self.ef_construction, self.ef_search = m, ef_construction, ef_search
        self.exact_limit = exact_limit  # up to this many candidates, search exactly
        self.visit_cost = visit_cost  # a filter scans exactly when its beam would cost more than that
        self._spaces: dict[str, _Space] = {}
        self._seen: dict[str, tuple[int, int]] = {}  # space -> (generation, log bytes applied)
        self._locks: dict[str, threading.RLock] = {}
        self._guard = threading.Lock()

    # files

    def _dir(self, space: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]", "_", space)[:80]
        return self.root / f"{slug}-{hashlib.sha256(space.encode()).hexdigest()[:10]}"

    @staticmethod
    def _generation(folder: Path) -> int:
        try:
            return int((folder / "CURRENT").read_text().strip() or 0)
        except FileNotFoundError:
            return 0

    @contextmanager
    def _open(self, space: str, *, write: bool) -> Iterator[_Space | None]:
        """The space, caught up with the files, under this process's lock (and the file lock to write)."""
        _check_space(space)
        with self._guard:
            lock = self._locks.setdefault(space, threading.RLock())
        with lock:
            folder = self._dir(space)
            if not write:
                self._sync(space, folder)
                yield self._spaces.get(space)
                return
            folder.mkdir(parents=True, exist_ok=True)
            with open(folder / "lock", "a+b") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                try:
                    self._sync(space, folder)
                    yield self._spaces.get(space)
                finally:
                    fcntl.flock(lock_file, fcntl.LOCK_UN)

    def _sync(self, space: str, folder: Path) -> None:
        """Load a newer generation, replay log records other processes appended; cheap when nothing changed.

        A reader takes no file lock: a writer's new generation may replace the one it just named
        (its files deleted); it then reads `CURRENT` again.
        """
        for attempt in range(5):
            try:
                return self._catch_up(space, folder)
            except FileNotFoundError:
                self._seen.pop(space, None)
                if attempt == 4:
                    raise

    def _catch_up(self, space: str, folder: Path) -> None:
        gen = self._generation(folder)
        seen_gen, seen_bytes = self._seen.get(space, (-1, 0))
        if gen != seen_gen:
            self._spaces.pop(space, None)
            seen_bytes = 0
            if gen and (folder / f"snap-{gen}.faiss").exists():  # generation 1 starts as a log alone
                self._spaces[space] = self._load_snapshot(folder, gen)
        logfile = folder / f"log-{gen}"
        size = logfile.stat().st_size if gen and logfile.exists() else 0
        if size > seen_bytes:
            with open(logfile, "rb") as f:
                f.seek(seen_bytes)
                data = f.read(size - seen_bytes)
            applied = 0
            for end, op, ids, vectors in _records(data):
                self._apply(space, op, ids, vectors)
                applied = end
            seen_bytes += applied  # a torn tail (a writer mid-append) is read again next time
        self._seen[space] = (gen, seen_bytes)

    def _apply(self, space: str, op: bytes, ids: list[str], vectors: np.ndarray | None) -> None:
        state = self._spaces.get(space)
        if op == _OP_UPSERT and vectors is not None:
            if state is None:
                state = self._spaces[space] = _Space(vectors.shape[1], self.m, self.ef_construction)
            state.upsert(ids, np.ascontiguousarray(vectors, dtype=np.float32))
        elif op == _OP_DELETE and state is not None:
            state.delete(ids)

    def _load_snapshot(self, folder: Path, gen: int) -> _Space:
        import faiss

        meta = json.loads((folder / f"snap-{gen}.ids").read_text())
        return _Space.restored(faiss.read_index(str(folder / f"snap-{gen}.faiss")), meta["ids"], self.m,
                               self.ef_construction)

    def _append(self, space: str, record: bytes) -> None:
        folder = self._dir(space)
        gen = self._generation(folder)
        if gen == 0:  # a new space starts as an empty generation 1
            gen = 1
            (folder / "log-1").touch()
            _write_atomic(folder / "CURRENT", lambda p: p.write_text("1"))
            _fsync_dir(folder)
            self._seen[space] = (1, 0)
        with open(folder / f"log-{gen}", "ab") as f:
            f.write(record)
            f.flush()
            os.fsync(f.fileno())
        self._seen[space] = (gen, self._seen[space][1] + len(record))

    def _maybe_snapshot(self, space: str) -> None:
        folder = self._dir(space)
        gen = self._generation(folder)
        logfile = folder / f"log-{gen}"
        snap = folder / f"snap-{gen}.faiss"
        log_bytes = logfile.stat().st_size if logfile.exists() else 0
        snap_bytes = snap.stat().st_size if snap.exists() else 0
        # Geometric: a snapshot after the log reaches half the last one keeps the total written
        # to about 3x the data and a restart's replay (re-adding to the graph) to a third of it.
        if log_bytes > max(64 << 20, snap_bytes // 2):
            self.snapshot(space)

    def snapshot(self, space: str) -> None:
        """Write the space as a new generation (compacting tombstones), then drop the old files."""
        import faiss

        with self._open(space, write=True) as state:
            if state is None:
                return
            if state.dead > max(1000, len(state.ids) // 10):
                ids, vectors = state.live_vectors()
                state = _Space(state.dim, self.m, self.ef_construction)
                state.upsert(ids, vectors)
                self._spaces[space] = state
            folder = self._dir(space)
            old = self._generation(folder)
            new = old + 1
            _write_atomic(folder / f"snap-{new}.faiss", lambda p: faiss.write_index(state.index, str(p)))
            meta = {"dim": state.dim, "ids": state.ids}
            _write_atomic(folder / f"snap-{new}.ids", lambda p: p.write_text(json.dumps(meta)))
            (folder / f"log-{new}").touch()
            _fsync_dir(folder)
            _write_atomic(folder / "CURRENT", lambda p: p.write_text(str(new)))
            _fsync_dir(folder)
            self._seen[space] = (new, 0)
            for name in (f"snap-{old}.faiss", f"snap-{old}.ids", f"log-{old}"):
                (folder / name).unlink(missing_ok=True)

    # the protocol

    def upsert(self, space: str, ids: Sequence[str], vectors: np.ndarray) -> None:
        names = _check_ids(ids)
        x = _normalised(vectors, len(names))
        if not names:
            return
        with self._open(space, write=True) as state:
            if state is not None and state.dim != x.shape[1]:
                raise ValueError(f"space {space} holds {state.dim}-d vectors, got {x.shape[1]}-d")
            self._append(space, _encode(_OP_UPSERT, names, x))  # saved first: what is applied is on disk
            self._apply(space, _OP_UPSERT, names, x)
        self._maybe_snapshot(space)

    def delete(self, space: str, ids: Collection[str]) -> int:
        names = [str(i) for i in ids]
        with self._open(space, write=True) as state:
            present = [i for i in names if state is not None and i in state.rows]
            if not present:
                return 0
            self._append(space, _encode(_OP_DELETE, present, None))
            self._apply(space, _OP_DELETE, present, None)
        self._maybe_snapshot(space)
        return len(present)

    def search(self, space: str, query: np.ndarray, k: int = 10,
               allowed: Collection[str] | None = None) -> list[tuple[str, float]]:
        import faiss

        if k <= 0:
            return []
        q = _normalised(query)
        # One query gains nothing from OpenMP's team, and on a busy machine its threads spin
        # against each other (measured: 32 ms instead of 4 ms for a flat 10k scan on 2 shared
        # cores). The setting is per calling thread, and restored after.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            return self._search(space, q, k, allowed)
        finally:
            faiss.omp_set_num_threads(threads)

    def _search(self, space: str, q: np.ndarray, k: int, allowed: Collection[str] | None) -> list[tuple[str, float]]:
        import faiss

        with self._open(space, write=False) as state:
            if state is None or not state.rows:
                return []
            if q.shape[1] != state.dim:
                raise ValueError(f"space {space} holds {state.dim}-d vectors, got a {q.shape[1]}-d query")
            total = len(state.ids)
            if allowed is None:
                rows = None if not state.dead else np.fromiter(state.rows.values(), np.int64, len(state.rows))
            else:
                if not isinstance(allowed, set | frozenset):  # Album hands a set: copying 100k ids cost 25 ms
                    allowed = {str(i) for i in allowed}
                rows = state.rows_of(allowed)
                if not len(rows):
                    return []
            candidates = len(state.rows) if rows is None else len(rows)
            k = min(k, candidates)
            bitmap = sel = None
            if rows is not None:  # only these rows may ever be looked at as results
                bits = np.zeros(total, dtype=bool)
                bits[rows] = True
                bitmap = np.packbits(bits, bitorder="little")
                sel = faiss.IDSelectorBitmap(total, faiss.swig_ptr(bitmap))
            found: list[tuple[int, float]] = []
            ef = max(self.ef_search, k)
            if rows is not None:  # a sparse filter needs a wider beam to still find k
                ef = min(max(ef, int(ef * len(state.rows) / candidates)), 4096)
            # The graph when it beats the exact scan of the candidates: always for the whole space,
            # for a filter only when its widened beam costs less than scanning what it allows.
            if candidates > self.exact_limit and (rows is None or ef * self.visit_cost < candidates):
                params = faiss.SearchParametersHNSW(efSearch=ef)
                if sel is not None:
                    params.sel = sel
                scores, labels = state.index.search(q, k, params=params)
                found = _top(scores[0], labels[0], k)
            if len(found) < k:  # small sets, or the graph ran out: the exact scan of the candidates
                found = self._exact(state, q[0], k, rows)
            del bitmap  # kept alive until FAISS is done with it
            out = [(state.ids[row], score) for row, score in found]
        if allowed is not None:  # a hash twin of an allowed id (see `rows_of`) never leaves
            return [(i, s) for i, s in out if i is not None and i in allowed]
        return [(i, s) for i, s in out if i is not None]

    @staticmethod
    def _exact(state: _Space, q: np.ndarray, k: int, rows: np.ndarray | None) -> list[tuple[int, float]]:
        """Exact top k over `rows` (None: every live row), on a view of FAISS's own vector storage."""
        import faiss

        flat = faiss.downcast_index(state.index.storage)
        total = len(state.ids)
        q = np.ascontiguousarray(q, dtype=np.float32)
        if rows is None and state.dead:
            rows = np.fromiter(state.rows.values(), np.int64, len(state.rows))
        # FAISS's single-threaded SIMD dot products, not numpy's `@`: BLAS threads fight on a busy
        # machine (a 1,000-row scan measured 35 ms with OpenBLAS's threads, 4 ms without).
        if rows is None:
            rows, scores = np.arange(total), np.empty(total, np.float32)
            faiss.fvec_inner_products_ny(faiss.swig_ptr(scores), faiss.swig_ptr(q), flat.get_xb(), state.dim, total)
        else:  # in place, by row number: copying 100k rows out first cost more than the dot products
            rows = np.ascontiguousarray(rows, dtype=np.int64)
            scores = np.empty(len(rows), np.float32)
            faiss.fvec_inner_products_by_idx(faiss.swig_ptr(scores), faiss.swig_ptr(q), flat.get_xb(),
                                             faiss.swig_ptr(rows), state.dim, 1, len(rows))
        top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(rows[i]), float(scores[i])) for i in top]

    def count(self, space: str) -> int:
        with self._open(space, write=False) as state:
            return 0 if state is None else len(state.rows)

    def get(self, space: str, id: str) -> np.ndarray | None:  # noqa: A002
        with self._open(space, write=False) as state:
            row = None if state is None else state.rows.get(str(id))
            return None if row is None else np.array(state.index.reconstruct(row), dtype=np.float32)

    def drop_space(self, space: str) -> None:
        import shutil

        with self._open(space, write=True):
            folder = self._dir(space)
            _write_atomic(folder / "CURRENT", lambda p: p.write_text("0"))  # others see "empty" at once
            for path in folder.iterdir():
                if path.name not in ("CURRENT", "lock"):
                    path.unlink(missing_ok=True)
            self._spaces.pop(space, None)
            self._seen[space] = (0, 0)
        shutil.rmtree(folder, ignore_errors=True)
        with self._guard:
            self._seen.pop(space, None)

    def close(self) -> None:
        self._spaces.clear()
        self._seen.clear()


# --- pgvector ----------------------------------------------------------------------------


def pgvector_available(engine: Engine) -> bool:
    """Whether this database is PostgreSQL with the `vector` extension installed or installable here."""
    if engine.dialect.name != "postgresql":
        return False
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        return True
    except Exception as exc:  # noqa: BLE001 - absent, or no right to create it: both mean "not here"
        log.debug("pgvector unavailable: %s", exc)
        return False


def _vec_param(x: np.ndarray) -> list[float]:
    """A vector as a float array parameter (`CAST(... AS vector)` takes real[]): psycopg's C dumper is
    fast, where formatting 512 floats as text costs about 3 ms a vector in Python."""
    return x.astype(np.float32).tolist()


PG_MAX_EF_SEARCH = 1000  # pgvector's bound on hnsw.ef_search


class PgVectorStore:
    """A table per space on the app's PostgreSQL, `vector(dim)` with an HNSW (cosine) index.

    `vector_spaces` maps a space to its table and dimension. Restricted searches run exactly over
    the allowed rows up to `exact_limit` ids (pgvector 0.6 filters HNSW results *after* its beam,
    so a narrow `WHERE` could return fewer than k); wider sets use the index with a beam scaled
    to the selectivity and fall back to the exact scan when it comes back short.
    """

    engine = "pgvector"

    def __init__(self, engine: Engine, *, ef_search: int = 256, exact_limit: int = 20_000,
                 index_threshold: int = 5_000) -> None:
        self.db = engine
        self.index_threshold = index_threshold
        self._indexed: set[str] = set()
        self.ef_search = ef_search
        self.exact_limit = exact_limit
        self._tables: dict[str, tuple[str, int]] = {}
        self._guard = threading.Lock()
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            conn.execute(text("CREATE TABLE IF NOT EXISTS vector_spaces (space varchar(200) PRIMARY KEY, "
                              "table_name varchar(63) NOT NULL, dim integer NOT NULL)"))

    @staticmethod
    def _table_name(space: str) -> str:
        return "vec_" + hashlib.sha256(space.encode()).hexdigest()[:24]

    def _table(self, space: str, dim: int | None = None) -> tuple[str, int] | None:
        _check_space(space)
        with self._guard:
            found = self._tables.get(space)
        if found is None:
            with self.db.connect() as conn:
                row = conn.execute(text("SELECT table_name, dim FROM vector_spaces WHERE space = :s"),
                                   {"s": space}).first()
            if row is None and dim is not None:
                row = self._create(space, dim)
            if row is None:
                return None
            found = (str(row[0]), int(row[1]))
            with self._guard:
                self._tables[space] = found
        return found

    def _create(self, space: str, dim: int) -> Any:
        table = self._table_name(space)
        with self.db.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": space})
            row = conn.execute(text("SELECT table_name, dim FROM vector_spaces WHERE space = :s"),
                               {"s": space}).first()
            if row is not None:
                return row
            conn.execute(text(f"CREATE TABLE IF NOT EXISTS {table} "
                              f"(id varchar({MAX_ID_LEN}) PRIMARY KEY, embedding vector({int(dim)}) NOT NULL)"))
            conn.execute(text("INSERT INTO vector_spaces (space, table_name, dim) VALUES (:s, :t, :d)"),
                         {"s": space, "t": table, "d": int(dim)})
        return (table, dim)

    def upsert(self, space: str, ids: Sequence[str], vectors: np.ndarray) -> None:
        names = _check_ids(ids)
        x = _normalised(vectors, len(names))
        if not names:
            return
        found = self._table(space, x.shape[1])
        assert found is not None
        table, dim = found
        if dim != x.shape[1]:
            raise ValueError(f"space {space} holds {dim}-d vectors, got {x.shape[1]}-d")
        rows = [{"id": i, "e": _vec_param(v)} for i, v in zip(names, x, strict=True)]
        with self.db.begin() as conn:
            conn.execute(text(f"INSERT INTO {table} (id, embedding) VALUES (:id, CAST(CAST(:e AS real[]) AS vector)) "
                              "ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding"), rows)
        if table not in self._indexed:
            self._ensure_index(space, table)

    def _ensure_index(self, space: str, table: str) -> None:
        """The HNSW index, made once the space is worth it (below, an exact scan is as fast).

        Building it over the loaded rows is ~15x faster than growing it row by row (pgvector
        0.6 here: 1,000 rows in 1 s, against 16 s inserted one by one into the index), so a
        first import of many photos loads, then indexes.
        """
        with self.db.begin() as conn:
            if conn.execute(text("SELECT to_regclass(:i) IS NOT NULL"), {"i": f"{table}_hnsw"}).scalar_one():
                self._indexed.add(table)
                return
            if conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() < self.index_threshold:
                return
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": space})
            conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
            conn.execute(text(f"CREATE INDEX IF NOT EXISTS {table}_hnsw ON {table} "
                              "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"))
        self._indexed.add(table)

    def delete(self, space: str, ids: Collection[str]) -> int:
        found = self._table(space)
        names = [str(i) for i in ids]
        if found is None or not names:
            return 0
        with self.db.begin() as conn:
            result = conn.execute(text(f"DELETE FROM {found[0]} WHERE id = ANY(:ids)"), {"ids": names})
        return int(result.rowcount or 0)

    def search(self, space: str, query: np.ndarray, k: int = 10,
               allowed: Collection[str] | None = None) -> list[tuple[str, float]]:
        found = self._table(space)
        if found is None or k <= 0:
            return []
        table, dim = found
        q = _normalised(query)
        if q.shape[1] != dim:
            raise ValueError(f"space {space} holds {dim}-d vectors, got a {q.shape[1]}-d query")
        params: dict[str, Any] = {"q": _vec_param(q[0]), "k": int(k)}
        qv = "CAST(CAST(:q AS real[]) AS vector)"
        where = "WHERE id = ANY(:ids) " if allowed is not None else ""
        # The exact scan: the materialised CTE keeps the planner off the HNSW index, so the
        # restriction is applied before ranking, never after a beam.
        exact = (f"WITH c AS MATERIALIZED (SELECT id, embedding FROM {table} {where}) "
                 f"SELECT id, 1 - (embedding <=> {qv}) FROM c ORDER BY embedding <=> {qv} LIMIT :k")
        with self.db.begin() as conn:
            if allowed is not None:
                params["ids"] = list({str(i) for i in allowed})
                if not params["ids"]:
                    return []
                if len(params["ids"]) <= self.exact_limit:
                    return [(str(i), float(s)) for i, s in conn.execute(text(exact), params)]
            ef = max(self.ef_search, k)
            if allowed is not None:  # a sparse filter needs a wider beam to still find k after it
                total = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                ef = max(ef, int(ef * total / len(params["ids"])))
            # pgvector refuses a beam over 1000; past it the beam comes back short and the exact scan answers.
            ef = min(ef, PG_MAX_EF_SEARCH)
            conn.execute(text(f"SET LOCAL hnsw.ef_search = {int(ef)}"))
            rows = conn.execute(text(f"SELECT id, 1 - (embedding <=> {qv}) FROM {table} {where}"
                                     f"ORDER BY embedding <=> {qv} LIMIT :k"), params).all()
            if len(rows) < k:  # the beam came back short: are there more to find?
                more = conn.execute(text(f"SELECT count(*) > :n FROM {table} {where}"),
                                    {**params, "n": len(rows)}).scalar_one()
                if more:
                    rows = conn.execute(text(exact), params).all()
        return [(str(i), float(s)) for i, s in rows]

    def count(self, space: str) -> int:
        found = self._table(space)
        if found is None:
            return 0
        with self.db.connect() as conn:
            return int(conn.execute(text(f"SELECT count(*) FROM {found[0]}")).scalar_one())

    def get(self, space: str, id: str) -> np.ndarray | None:  # noqa: A002
        found = self._table(space)
        if found is None:
            return None
        with self.db.connect() as conn:
            value = conn.execute(text(f"SELECT embedding::text FROM {found[0]} WHERE id = :id"),
                                 {"id": str(id)}).scalar()
        return None if value is None else np.array(json.loads(value), dtype=np.float32)

    def drop_space(self, space: str) -> None:
        found = self._table(space)
        with self._guard:
            self._tables.pop(space, None)
        if found is None:
            return
        self._indexed.discard(found[0])
        with self.db.begin() as conn:
            conn.execute(text(f"DROP TABLE IF EXISTS {found[0]}"))
            conn.execute(text("DELETE FROM vector_spaces WHERE space = :s"), {"s": space})

    def close(self) -> None:
        with self._guard:
            self._tables.clear()


# --- choosing ----------------------------------------------------------------------------


def make_vector_store(settings: Any, engine: Engine) -> VectorStore:
    """The engine `vectors.engine` asks for; `auto` takes pgvector where the database has it."""
    choice = settings.vectors.engine
    root = Path(settings.data_dir) / "vectors"
    ef = settings.vectors.ef_search
    if choice == "embedded":
        log.info("vectors: embedded FAISS index in %s", root)
        return EmbeddedVectorStore(root, ef_search=ef)
    available = pgvector_available(engine)
    if available:
        log.info("vectors: pgvector on the database (HNSW, cosine)")
        return PgVectorStore(engine, ef_search=ef)
    if choice == "pgvector":
        raise ConfigError("vectors.engine = pgvector needs PostgreSQL with the `vector` extension "
                          f"(the database is {engine.dialect.name}, without it); set it to auto or embedded")
    if engine.dialect.name == "postgresql":
        log.warning("vectors: this PostgreSQL has no pgvector extension; using the embedded FAISS index in %s "
                    "(one machine only: install pgvector to search from several)", root)
    else:
        log.info("vectors: embedded FAISS index in %s", root)
    return EmbeddedVectorStore(root, ef_search=ef)
