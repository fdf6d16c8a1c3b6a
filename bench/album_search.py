"""Album search end to end at library sizes: where one search's time goes, from the caller's scope to a page.

`bench/vectors.py` measures the vector store alone. A search does more: it counts the
photos the caller may see (and those this backend indexed), finds the nearest of them (the
store ranks the whole space and SQL checks the results, or the store ranks only the ids SQL
allows: `search._nearest` picks), looks for the words in photos' text, captions and tags,
and loads the page of photos. This script builds a library of N photo rows (two users, 90 % and
10 %, random unit vectors of the concepts backend's size in the embedded store, a few percent with
OCR text), then times `boda.apps.album.search` on a fixed query vector, part by part.

    .venv/bin/python bench/album_search.py [--sizes 10000 100000] [--queries 30]

The text encoder is not timed (it does not grow with the library): the query is a vector.
Prints figures; asserts nothing.

2026-12-03, 2 cores, SQLite, p50 / p95 of the whole search (24 results, half the queries
with words that match 4 % of the photos literally):
    before (the store handed every visible id; words matched by 900-id chunks), rows without concepts:
        10k 115 / 217 ms, 100k 1,362 / 1,746 ms
    `_nearest` picks a plan; words in one statement; SQLite statistics kept (same thin rows):
        the owner (90 % of the space): 10k 27 / 36 ms, 100k 131 / 161 ms (10x at 100k)
        another user (10 %, the allowed-ids plan): 10k 36 / 53 ms, 100k 149 / 197 ms
    rows as wide as real ones (the concepts' JSON, 823 bytes; thumbnails; a real caption): the
    scans read 2 KB a row, and the same code took
        the owner: 10k 46 / 50 ms, 100k 312 / 343 ms (counts 125, words 173, nearest 11)
        another user: 10k 47 / 56 ms, 100k 393 / 439 ms
    with the library index (`models.LIBRARY_INDEX`: the library's order and the columns that decide
    who sees a photo, and on SQLite its words, so counts, visible ids, words and the grid's page read
    a narrow index, not the rows), LIKE without a lower() copy of each row on SQLite, and statistics
    counted rather than sampled (one photo in 10,000 in the trash from here on):
        the owner: 10k 21 / 25 ms, 100k 95 / 103 ms (counts 32, words 47, nearest 11): 3.3x at 100k
        another user: 10k 24 / 27 ms, 100k 106 / 137 ms (nearest 53: its 10k allowed ids): 3.7x
        (two earlier runs without trashed photos: the owner 74 and 98 ms, another user 114 and 136)
    The library grid (60 a page, newest first; `service.list_photos`, the same rows), at 100k:
        before the library index, the owner's first page 596 ms, page 500 1,619 ms (every visible
        row read and sorted); another user's 265 / 393 ms
        after: the owner 30 / 39 ms, another user 30 / 51 ms (read in order, stopping at the page)
    The trash at 100k: 220 ms before (count and page read the owner's 90k rows for
    `trashed_at IS NOT NULL`), 1.4-2.5 ms with the trash's partial index.
    Sampled statistics (`analysis_limit=1000`, the first version of `Database.analyze`) said 1,001
    photos an owner: the owner's counts, words and grid then went through the owner index and read
    90,000 wide rows (counts 112, words 118, first page 111 ms, whole search 250 ms).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert  # noqa: E402

from boda.apps.album import search, service  # noqa: E402
from boda.apps.album.indexing import space_for  # noqa: E402
from boda.apps.album.models import Photo  # noqa: E402
from boda.apps.album.service import PhotoFilters  # noqa: E402
from boda.core.auth import Scope, create_user  # noqa: E402
from boda.core.config import Settings  # noqa: E402
from boda.core.models import StoredFile  # noqa: E402
from boda.core.runtime import Runtime  # noqa: E402

KEY = "concepts:use-m+e5-small:v2"
DIM = 512 + 384
# What the concepts backend stored for scikit-image's cat photo (823 bytes of JSON; real photos measured
# 500 to 1,000): a search's scans read whole rows, so rows as wide as real ones.
CONCEPTS = [
    {"kind": "class", "label": "Egyptian cat", "weight": 0.878, "box": None, "label_ko": ""},
    {"kind": "class", "label": "a cat", "weight": 0.7794, "box": None, "label_ko": ""},
    {"kind": "colour", "label": "an orange cat", "weight": 0.6205, "box": [0, 0, 450, 300], "label_ko": "주황색"},
    {"kind": "colour", "label": "an orange Egyptian cat", "weight": 0.5268, "box": None, "label_ko": "주황색"},
    {"kind": "class", "label": "tiger cat", "weight": 0.3186, "box": None, "label_ko": ""},
    {"kind": "class", "label": "tabby cat", "weight": 0.277, "box": None, "label_ko": ""},
    {"kind": "colour", "label": "a mostly brown photo", "weight": 0.1773, "box": None, "label_ko": "갈색"},
    {"kind": "colour", "label": "a mostly orange photo", "weight": 0.1681, "box": None, "label_ko": "주황색"},
]
CAPTIONS = ("A photo showing Egyptian cat, a cat, an orange cat, an orange Egyptian cat.",
            "A photo showing espresso, a cup, an orange cup, food.")
WORDS = ("BAKERY", "OPEN 24H", "카페", "EXIT", "SALE", "빵집", "PHARMACY", "STOP")


def build(runtime: Runtime, n: int, rng: np.random.Generator) -> tuple[Scope, Scope, np.ndarray]:
    """N photos: 90 % the library owner's, 10 % a second user's (all private)."""
    with runtime.db.session() as session:
        user_id = create_user(session, username="owner", password="bench-password-1234").id
        other_id = create_user(session, username="other", password="bench-password-1234").id
    start = datetime(2020, 1, 1, tzinfo=UTC)
    file_id = str(uuid.uuid4())
    with runtime.db.session() as session:
        session.execute(insert(StoredFile), [{"id": file_id, "owner_id": user_id, "blob_key": "x" * 64, "size": 1,
                                              "content_type": "image/jpeg", "filename": "x.jpg"}])
    ids = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)]
    for chunk in range(0, n, 5000):
        rows = [{"id": pid, "owner_id": other_id if i % 10 == 9 else user_id, "file_id": file_id,
                 "blob_key": "x" * 64, "sha256": f"{i:064x}",
                 "phash": f"{i:016x}", "width": 640, "height": 480, "mime": "image/jpeg",
                 "taken_at": start + timedelta(minutes=i), "index_key": KEY, "concepts": CONCEPTS,
                 "thumbnails": {str(side): file_id for side in (256, 720, 1440)},
                 "ocr_text": WORDS[i % len(WORDS)] if i % 25 == 0 else None,
                 "caption": CAPTIONS[i % 2], "caption_source": "concepts",
                 # one photo in 10,000 in the trash, each trashed at its own moment, as in a library in use
                 "trashed_at": start + timedelta(days=2500, minutes=i) if i % 10_000 == 5 else None}
                for i, pid in enumerate(ids[chunk:chunk + 5000], start=chunk)]
        with runtime.db.session() as session:
            session.execute(insert(Photo), rows)
    vectors = rng.standard_normal((n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    for chunk in range(0, n, 20_000):
        runtime.vectors.upsert(space_for(KEY), ids[chunk:chunk + 20_000], vectors[chunk:chunk + 20_000])
    with runtime.db.session() as session:
        from boda.core.models import User

        return Scope.of(session.get(User, user_id)), Scope.of(session.get(User, other_id)), vectors


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def timed_parts(runtime: Runtime, scope: Scope, vector: np.ndarray, text: str) -> dict[str, float]:
    """One search, timed at the seams `_rank` goes through (the same calls, in the same order)."""
    parts: dict[str, float] = {}
    filters = PhotoFilters()
    with runtime.db.session() as session:
        started = time.perf_counter()
        _, indexed = search._counts(session, scope, filters, KEY)
        parts["counts (SQL)"] = time.perf_counter() - started
        started = time.perf_counter()
        search._nearest(session, runtime, scope, filters, KEY, vector, 24, indexed, None)
        parts["nearest (store+SQL)"] = time.perf_counter() - started
        started = time.perf_counter()
        search._literal(session, scope, filters, text)
        parts["words (SQL)"] = time.perf_counter() - started
    with runtime.db.session() as session:
        started = time.perf_counter()
        search._rank(session, runtime, scope, filters, vector, text=text, limit=24, offset=0)
        parts["whole search"] = time.perf_counter() - started
    pages = (("library, first page", filters, 0), ("library, page 500", filters, 500 * 60),
             ("trash", PhotoFilters(trashed=True), 0))
    for name, shown, offset in pages:
        with runtime.db.session() as session:  # the grid a search starts from, newest first: 60 a page
            started = time.perf_counter()
            service.list_photos(session, scope, shown, limit=60, offset=offset)
            parts[name] = time.perf_counter() - started
    return parts


class _Fixed:
    """The embedder seam: search asks it for its key only, since the query is already a vector."""

    key = KEY


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=30)
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    search.embedder_of = lambda runtime: _Fixed()  # type: ignore[assignment,return-value]
    rng = np.random.default_rng(7)
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(_env_file=None, data_dir=Path(tmp),  # type: ignore[call-arg]
                                ai={"threads": 1, "downloads": False})
            runtime = Runtime(settings)
            runtime.db.migrate()
            started = time.perf_counter()
            owner, other, vectors = build(runtime, n, rng)
            runtime.db.analyze()  # as a worker's periodic `analyze_db` does within db.analyze_seconds
            print(f"\n{n:,} photos (SQLite, embedded store): built in {time.perf_counter() - started:.0f} s")
            for who, scope in (("the owner, 90 % of the space", owner), ("another user, 10 %", other)):
                samples: dict[str, list[float]] = {}
                for q in range(args.queries):
                    vector = vectors[rng.integers(n)] + 0.3 * rng.standard_normal(DIM).astype(np.float32)
                    for part, seconds in timed_parts(runtime, scope, vector / np.linalg.norm(vector),
                                                     "bakery" if q % 2 else "고양이").items():
                        samples.setdefault(part, []).append(seconds)
                print(f"  searching as {who}:")
                print(f"    {'part':20} {'p50 ms':>8} {'p95 ms':>8}")
                for part, values in samples.items():
                    print(f"    {part:20} {percentile(values, 50):8.1f} {percentile(values, 95):8.1f}")
            runtime.vectors.close()
            runtime.db.engine.dispose()


if __name__ == "__main__":
    main()
