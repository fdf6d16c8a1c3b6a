"""Vector search engines on synthetic 512-d normalised vectors: latency, recall@10, build time, memory.

    python bench/vectors.py                          # 10k and 100k, every engine
    python bench/vectors.py --sizes 1000000 --engines embedded,faiss-ivf --build-limit 900

Engines: `numpy` (exact, the baseline every ratio is against), `embedded` (Boda's
EmbeddedVectorStore: FAISS HNSW M=32, efConstruction 128, ef 256 unless --ef-construction and
--ef-search say otherwise, through the store's own code, fsynced log included),
`faiss-ivf` (IVF-Flat, nprobe 32), `usearch` (HNSW, connectivity 16), `sqlite-vec`
(vec0, exact scan), `pgvector` (Boda's PgVectorStore on a private PostgreSQL 16 from pgserver).

The data are not uniform noise (in 512-d every point is then as far as every other and no
index can beat a scan, nor is that what embeddings look like) but a 48-dimensional latent
Gaussian projected to 512-d plus isotropic noise, normalised: real image/text embeddings
have a low intrinsic dimension like this. Queries are stored vectors plus noise. `allowed`
is measured too: the same queries restricted to a random 10% of the ids (recall against the
exact top 10 of that subset), the path private photos take.

An engine whose build is predicted (from the rate at the previous size) to exceed
--build-limit seconds is skipped and says so; the numbers print as they come.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one query, one core: threads only fight on a busy box
import numpy as np  # noqa: E402

DIM = 512
LATENT = 48
QUERIES = 200
SPACE = "bench:vectors"


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def dataset(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mix = np.random.default_rng(12345).standard_normal((LATENT, DIM)).astype(np.float32)
    out = np.empty((n, DIM), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        x = rng.standard_normal((m, LATENT), dtype=np.float32) @ mix
        x += 0.7 * rng.standard_normal((m, DIM), dtype=np.float32)
        out[start:start + m] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def queries(x: np.ndarray, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q = x[rng.choice(len(x), QUERIES, replace=False)] + 0.05 * rng.standard_normal((QUERIES, DIM), dtype=np.float32)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def exact_top(x: np.ndarray, q: np.ndarray, k: int = 10, rows: np.ndarray | None = None) -> np.ndarray:
    """Exact top-k row numbers by inner product, in chunks (bounded memory at 1M)."""
    base = x if rows is None else x[rows]
    best_s = np.full((len(q), k), -np.inf, np.float32)
    best_i = np.zeros((len(q), k), np.int64)
    for start in range(0, len(base), 100_000):
        s = q @ base[start:start + 100_000].T
        i = np.arange(start, start + s.shape[1])[None, :].repeat(len(q), 0)
        s, i = np.hstack([best_s, s]), np.hstack([best_i, i])
        top = np.argpartition(-s, k, axis=1)[:, :k]
        best_s, best_i = np.take_along_axis(s, top, 1), np.take_along_axis(i, top, 1)
    order = np.argsort(-best_s, axis=1)
    found = np.take_along_axis(best_i, order, 1)
    return found if rows is None else rows[found]


def recall(found: list[list[int]], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f[:10]) & set(t[:10])) / 10 for f, t in zip(found, truth, strict=True)]))


def timed(search: Callable[[np.ndarray], list[int]], q: np.ndarray) -> tuple[list[list[int]], float, float]:
    out, times = [], []
    for v in q:
        t = time.perf_counter()
        out.append(search(v))
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1e3
    return out, float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


# --- engines: each builds over x and gives search(q) and search(q, allowed rows) ----------

Search = Callable[[np.ndarray], list[int]]


@dataclass(frozen=True)
class Engine:
    search: Search
    allowed: Callable[[np.ndarray, np.ndarray], list[int]] | None  # None: the engine cannot filter by id
    close: Callable[[], None] = lambda: None
    set_ef: Callable[[int], None] | None = None  # an HNSW engine's query-time beam, swept on one build


@dataclass(frozen=True)
class Options:
    ef_construction: int = 128  # the embedded store's graph quality at build time


def numpy_engine(x: np.ndarray, tmp: Path, options: Options) -> Engine:
    def search(q: np.ndarray) -> list[int]:
        s = x @ q
        top = np.argpartition(-s, 10)[:10]
        return top[np.argsort(-s[top])].tolist()

    def allowed(q: np.ndarray, rows: np.ndarray) -> list[int]:
        s = x[rows] @ q
        top = np.argpartition(-s, 10)[:10]
        return rows[top[np.argsort(-s[top])]].tolist()

    return Engine(search, allowed)


def embedded_engine(x: np.ndarray, tmp: Path, options: Options) -> Engine:
    from boda.core.vectors import EmbeddedVectorStore

    store = EmbeddedVectorStore(tmp / "vectors", ef_construction=options.ef_construction)
    names = [f"{i:08d}" for i in range(len(x))]
    for start in range(0, len(x), 20_000):
        store.upsert(SPACE, names[start:start + 20_000], x[start:start + 20_000])

    def search(q: np.ndarray) -> list[int]:
        return [int(i) for i, _ in store.search(SPACE, q, 10)]

    def allowed(q: np.ndarray, rows: np.ndarray) -> list[int]:
        return [int(i) for i, _ in store.search(SPACE, q, 10, allowed=allowed_names(rows))]

    cache: dict[int, set[str]] = {}

    def allowed_names(rows: np.ndarray) -> Collection[str]:
        key = id(rows)
        if key not in cache:  # the caller's set is built once, as Album would hold it
            cache[key] = {names[r] for r in rows}
        return cache[key]

    def set_ef(ef: int) -> None:
        store.ef_search = ef

    return Engine(search, allowed, store.close, set_ef)


def faiss_ivf_engine(x: np.ndarray, tmp: Path, options: Options) -> Engine:
    import faiss

    nlist = max(16, int(4 * np.sqrt(len(x))))
    quantizer = faiss.IndexFlatIP(DIM)
    index = faiss.IndexIVFFlat(quantizer, DIM, nlist, faiss.METRIC_INNER_PRODUCT)
    sample = x[np.random.default_rng(2).choice(len(x), min(len(x), 40 * nlist), replace=False)]
    index.train(sample)
    index.add(x)
    nprobe = 32

    def search(q: np.ndarray) -> list[int]:
        _, i = index.search(q[None], 10, params=faiss.SearchParametersIVF(nprobe=nprobe))
        return [int(v) for v in i[0] if v >= 0]

    def allowed(q: np.ndarray, rows: np.ndarray) -> list[int]:
        sel = faiss.IDSelectorBatch(rows)
        _, i = index.search(q[None], 10, params=faiss.SearchParametersIVF(nprobe=nprobe * 4, sel=sel))
        return [int(v) for v in i[0] if v >= 0]

    return Engine(search, allowed)


def usearch_engine(x: np.ndarray, tmp: Path, options: Options) -> Engine:
    from usearch.index import Index

    index = Index(ndim=DIM, metric="ip", dtype="f32", connectivity=16, expansion_add=128, expansion_search=64)
    index.add(np.arange(len(x)), x, threads=2)

    def search(q: np.ndarray) -> list[int]:
        return [int(k) for k in index.search(q, 10, threads=1).keys]

    return Engine(search, None)  # no ID filter in usearch's Python API


def sqlite_vec_engine(x: np.ndarray, tmp: Path, options: Options) -> Engine:
    import sqlite_vec

    db = sqlite3.connect(tmp / "vec.db")
    if not hasattr(db, "enable_load_extension"):
        raise RuntimeError("this Python's sqlite3 was built without loadable extensions")
    db.enable_load_extension(True)
    sqlite_vec.load(db)
    db.execute(f"CREATE VIRTUAL TABLE v USING vec0(embedding float[{DIM}] distance_metric=cosine)")
    with db:
        db.executemany("INSERT INTO v(rowid, embedding) VALUES (?, ?)",
                       ((i, x[i].tobytes()) for i in range(len(x))))

    def search(q: np.ndarray) -> list[int]:
        rows = db.execute("SELECT rowid FROM v WHERE embedding MATCH ? AND k = 10 ORDER BY distance",
                          (q.astype(np.float32).tobytes(),)).fetchall()
        return [r[0] for r in rows]

    return Engine(search, None, db.close)


def pgvector_engine(x: np.ndarray, tmp: Path, options: Options) -> Engine:
    import pgserver
    from sqlalchemy import create_engine

    from boda.core.vectors import PgVectorStore

    base = Path(tempfile.mkdtemp(prefix="boda-bench-pg-"))
    server = pgserver.get_server(base / "data", cleanup_mode="delete")
    url = "postgresql+psycopg://postgres@/postgres?" + server.get_uri().split("?", 1)[1]
    engine = create_engine(url)
    store = PgVectorStore(engine)
    names = [f"{i:08d}" for i in range(len(x))]
    store.upsert(SPACE, names, x)  # a first import: rows loaded, then the HNSW index built over them

    def search(q: np.ndarray) -> list[int]:
        return [int(i) for i, _ in store.search(SPACE, q, 10)]

    def allowed(q: np.ndarray, rows: np.ndarray) -> list[int]:
        return [int(i) for i, _ in store.search(SPACE, q, 10, allowed=[names[r] for r in rows])]

    def close() -> None:
        engine.dispose()
        server.cleanup()
        shutil.rmtree(base, ignore_errors=True)

    return Engine(search, allowed, close)


ENGINES: dict[str, Callable[[np.ndarray, Path, Options], Engine]] = {
    "numpy": numpy_engine,
    "embedded": embedded_engine,
    "faiss-ivf": faiss_ivf_engine,
    "usearch": usearch_engine,
    "sqlite-vec": sqlite_vec_engine,
    "pgvector": pgvector_engine,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--build-limit", type=float, default=300.0, help="seconds an engine may take to build")
    parser.add_argument("--threads", type=int, default=2, help="FAISS/OpenMP threads while building")
    parser.add_argument("--ef-search", default="256",
                        help="embedded engine: ef values measured on one build, e.g. 128,256,512")
    parser.add_argument("--ef-construction", type=int, default=128, help="embedded engine: graph build beam")
    args = parser.parse_args()
    ef_sweep = [int(v) for v in args.ef_search.split(",")]
    options = Options(ef_construction=args.ef_construction)
    import faiss

    faiss.omp_set_num_threads(args.threads)
    rate: dict[str, float] = {}  # seconds per vector at the last size
    print(f"{'n':>8} {'engine':<14} {'build s':>8} {'p50 ms':>7} {'p95 ms':>7} {'recall@10':>9} "
          f"{'x numpy':>7} {'MB/1M':>7} | {'10% allowed: p50':>16} {'p95':>6} {'recall':>6}", flush=True)
    for n in (int(s) for s in args.sizes.split(",")):
        x = dataset(n)
        q = queries(x)
        truth = exact_top(x, q)
        subset = np.sort(np.random.default_rng(3).choice(n, n // 10, replace=False))
        truth_sub = exact_top(x, q, rows=subset)
        numpy_p50 = None
        for name in args.engines.split(","):
            if name in rate and rate[name] * n > args.build_limit:
                print(f"{n:>8} {name:<14} skipped: build predicted {rate[name] * n:.0f} s > --build-limit", flush=True)
                continue
            tmp = Path(tempfile.mkdtemp(prefix="boda-bench-"))
            gc.collect()
            faiss.omp_set_num_threads(args.threads)
            before = rss()
            t = time.perf_counter()
            try:
                engine = ENGINES[name](x, tmp, options)
            except Exception as exc:  # noqa: BLE001 - report and go on with the others
                print(f"{n:>8} {name:<14} failed: {exc}", flush=True)
                shutil.rmtree(tmp, ignore_errors=True)
                continue
            build = time.perf_counter() - t
            faiss.omp_set_num_threads(1)  # queries one at a time, as a web request asks
            rate[name] = build / n
            mem = (rss() - before) / n * 1e6 / 2**20
            if name == "pgvector":
                mem = float("nan")  # lives in the server process
            sample = q if n < 1_000_000 or name != "numpy" else q[:50]
            try:  # a failing search must not leave pgvector's private server running
                for ef in ef_sweep if engine.set_ef else [0]:
                    label = name
                    if engine.set_ef:
                        engine.set_ef(ef)
                        label = f"{name} ef{ef}" if len(ef_sweep) > 1 else name
                    found, p50, p95 = timed(engine.search, sample)
                    rec = recall(found, truth[: len(sample)])
                    if name == "numpy":
                        numpy_p50 = p50
                    ratio = f"{numpy_p50 / p50:.1f}" if numpy_p50 else "-"
                    line = (f"{n:>8} {label:<14} {build:>8.1f} {p50:>7.2f} {p95:>7.2f} {rec:>9.3f} {ratio:>7} "
                            f"{mem:>7.0f} |")
                    if engine.allowed is not None:
                        found_a, a50, a95 = timed(lambda v, f=engine.allowed, r=subset: f(v, r), q[:50])
                        leak = any(set(f) - set(subset.tolist()) for f in found_a)
                        line += f" {a50:>16.2f} {a95:>6.2f} {recall(found_a, truth_sub[:50]):>6.3f}"
                        line += "  LEAK!" if leak else ""
                    print(line, flush=True)
            finally:
                engine.close()
                shutil.rmtree(tmp, ignore_errors=True)
        del x


if __name__ == "__main__":
    main()
