"""The shipped recipe corpus (Wikibooks Cookbook, CC BY-SA 4.0) as typed, read-only records.

Read once per process on first use (about 0.1 s for 3,129 recipes) so that search, "what can
I cook" and the recommendation's retrieval work from the first run without a database.
Every record carries its `url` and the attribution Boda must show beside it.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data" / "recipes"
CORPUS_FILE = DATA_DIR / "recipes_en.jsonl.gz"
ATTRIBUTION = "Recipe from the Wikibooks Cookbook, by Wikibooks contributors, CC BY-SA 4.0"
LICENSE_URL = "https://creativecommons.org/licenses/by-sa/4.0/"

_LIST_MARK = re.compile(r"^\s*[*#:]+\s*")


@dataclass(frozen=True, slots=True)
class CorpusRecipe:
    """One corpus recipe. `id` is the Wikibooks page title ("Cookbook:Bulgogi"), stable across releases."""

    id: str
    title: str
    ingredients: tuple[str, ...]
    steps: tuple[str, ...]
    url: str
    tags: tuple[str, ...] = ()
    yields: str = ""
    total_time: str = ""  # ISO 8601 duration when the page gave a plain one
    time_text: str = ""
    language: str = "en"
    attribution: str = field(default=ATTRIBUTION)
    license_url: str = field(default=LICENSE_URL)


def _steps(raw: Iterable[Any]) -> tuple[str, ...]:
    out = []
    for step in raw:
        text = step.get("text", "") if isinstance(step, dict) else str(step)
        text = _LIST_MARK.sub("", text).strip()
        if text:
            out.append(text)
    return tuple(out)


def record(obj: dict[str, Any]) -> CorpusRecipe:
    """A schema.org `Recipe` object (as the corpus file holds them) as a `CorpusRecipe`."""
    category = obj.get("recipeCategory") or ()
    tags = (category,) if isinstance(category, str) else tuple(category)
    ingredients = tuple(_LIST_MARK.sub("", str(line)).strip() for line in obj.get("recipeIngredient") or ())
    return CorpusRecipe(
        id=str(obj.get("identifier") or obj.get("name")),
        title=str(obj.get("name") or ""),
        ingredients=tuple(line for line in ingredients if line),
        steps=_steps(obj.get("recipeInstructions") or ()),
        url=str(obj.get("url") or ""),
        tags=tuple(t.strip() for t in tags if t and t.strip()),
        yields=str(obj.get("recipeYield") or ""),
        total_time=str(obj.get("totalTime") or ""),
        time_text=str(obj.get("timeText") or ""),
        language=str(obj.get("inLanguage") or "en"),
    )


@lru_cache(maxsize=1)
def recipes() -> tuple[CorpusRecipe, ...]:
    """Every corpus recipe, sorted by page title; read on first call, then cached for the process."""
    with gzip.open(CORPUS_FILE, "rt", encoding="utf-8") as fh:
        return tuple(record(json.loads(line)) for line in fh if line.strip())


@lru_cache(maxsize=1)
def by_id() -> dict[str, CorpusRecipe]:
    return {r.id: r for r in recipes()}


def get(recipe_id: str) -> CorpusRecipe | None:
    """The corpus recipe with this id, or None."""
    return by_id().get(recipe_id)
