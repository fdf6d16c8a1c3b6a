"""What can I cook: p50/p95 of one ranking over 10,000 recipes and 200 stock items (target p95 < 50 ms).

Recipes: the shipped corpus (3,129) and, to reach 10,000, variants of its recipes with their
ingredient lines shuffled across recipes (same vocabulary, new combinations). Stock: 200 items
drawn from the carried Korean–English ingredient list, half named in Korean, with random
consume-by days. Each query draws a new stock and a few excluded titles.

Run: .venv/bin/python bench/pantry_rank.py [--recipes 10000] [--items 200] [--queries 200]
Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from boda.apps.pantry import corpus  # noqa: E402
from boda.apps.pantry.recipes_rank import INGREDIENTS_CSV, RecipeIndex, RecipeInput, StockItem  # noqa: E402


def recipes(count: int, rng: random.Random) -> list[RecipeInput]:
    base = [RecipeInput(r.id, r.title, r.ingredients) for r in corpus.recipes()]
    lines = [line for r in base for line in r.ingredients]
    out = list(base[:count])
    n = 0
    while len(out) < count:
        src = base[n % len(base)]
        size = max(3, len(src.ingredients))
        out.append(RecipeInput(f"{src.id}#{n}", f"{src.title} variation {n}", tuple(rng.sample(lines, size))))
        n += 1
    return out


def stock(rows: list[dict[str, str]], items: int, rng: random.Random) -> list[StockItem]:
    chosen = rng.sample(rows, min(items, len(rows)))
    return [StockItem(name_en="" if i % 2 else row["en"], name_ko=row["ko"] if i % 2 else "",
                      days_left=rng.choice([None, -1, 0, 1, 2, 3, 5, 7, 14, 30, 90]))
            for i, row in enumerate(chosen)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    rng = random.Random(7)
    with INGREDIENTS_CSV.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    pool = recipes(args.recipes, rng)
    start = time.perf_counter()
    index = RecipeIndex(pool)
    build = time.perf_counter() - start
    print(f"index: {len(index)} recipes, {len(index.names)} ingredient keys, {len(index.cols)} entries, "
          f"built in {build:.2f} s")
    titles = [r.title for r in pool]
    samples = []
    for _ in range(3):  # warm-up
        index.rank(stock(rows, args.items, rng), limit=20)
    for _ in range(args.queries):
        items = stock(rows, args.items, rng)
        excluded = rng.sample(titles, 3)
        began = time.perf_counter()
        ranked = index.rank(items, limit=20, exclude_titles=excluded, exclude_ingredients=["peanut"])
        samples.append((time.perf_counter() - began) * 1000)
        assert ranked, "no recipe ranked"
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[int(0.95 * (len(ordered) - 1))]
    print(f"rank {args.recipes} recipes x {args.items} items, {args.queries} queries: "
          f"p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {ordered[-1]:.1f} ms (target p95 < 50 ms)")


if __name__ == "__main__":
    main()
