"""Shelf life: where an ingredient keeps and for how long, from the carried USDA FoodKeeper data.

Pure (no database): the project's Korean–English ingredient table (data/ingredients-ko-en/) names
593 ingredients as a Korean household does (양파, 대파, 삼겹살, 두부, 김치, 달걀 ...) and links
most to a FoodKeeper product (data/foodkeeper/); English names of FoodKeeper products not in that
table are looked up too. A household may override a name (`Override`), which wins over both.

Days are FoodKeeper's: each place has a range (min..max days); the consume-by date uses the *short*
end, because the point of the app is to eat things before they spoil, and the range is shown beside
it. An opened item uses the after-opening time where FoodKeeper has one. A name nobody knows is
`known=False` with no date: a guessed date would teach people to ignore the badges.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

DATA = Path(__file__).parent / "data"
PLACES = ("fridge", "freezer", "pantry")
Place = Literal["fridge", "freezer", "pantry"]
SOURCE = "USDA FSIS FoodKeeper"

# Where a Korean kitchen usually keeps each category; FoodKeeper's numbers may move it (see `_default_place`).
CATEGORY_PLACE: dict[str, Place] = {
    "vegetable": "fridge", "mushroom": "fridge", "fruit": "fridge", "meat": "fridge", "poultry": "fridge",
    "egg": "fridge", "dairy": "fridge", "fish": "fridge", "seafood": "fridge", "seaweed": "pantry",
    "tofu_soy": "fridge", "legume": "pantry", "nut_seed": "pantry", "grain": "pantry", "noodle": "pantry",
    "rice_cake": "fridge", "bread_bakery": "pantry", "processed_meat": "fridge", "processed": "pantry",
    "kimchi_pickle": "fridge", "sauce_paste": "fridge", "seasoning": "pantry", "spice_herb": "pantry",
    "oil_fat": "pantry", "beverage": "pantry", "baking": "pantry", "other": "fridge",
}


@dataclass(frozen=True)
class Span:
    """How long something keeps in one place: days (min..max), or FoodKeeper's advice instead of a number."""

    min_days: float | None = None
    max_days: float | None = None
    advice: str | None = None  # "Not Recommended", "Indefinitely", "When Ripe", "Package use-by date"

    @property
    def has_days(self) -> bool:
        return self.min_days is not None


@dataclass(frozen=True)
class Override:
    """A household's own rule for a name: a place and/or days per place (None keeps the default)."""

    place: Place | None = None
    days: dict[str, float] = field(default_factory=dict)
    category: str | None = None


@dataclass(frozen=True)
class ShelfLife:
    query: str
    known: bool
    name_ko: str | None = None
    name_en: str | None = None
    category: str | None = None
    category_ko: str | None = None
    place: Place | None = None
    spans: dict[str, Span] = field(default_factory=dict)
    opened: dict[str, Span] = field(default_factory=dict)
    foodkeeper_id: int | None = None
    foodkeeper_name: str | None = None
    overridden: bool = False

    def span(self, place: str | None = None, *, opened: bool = False) -> Span | None:
        """The span that applies in `place` (default: the usual place); after opening when known."""
        place = place or self.place
        if place is None:
            return None
        if opened and (after := self.opened.get(place)) is not None and after.has_days:
            return after
        return self.spans.get(place)

    def days(self, place: str | None = None, *, opened: bool = False) -> float | None:
        span = self.span(place, opened=opened)
        return span.min_days if span is not None and span.has_days else None

    def consume_by(self, added_at: datetime, place: str | None = None, *,
                   opened_at: datetime | None = None) -> datetime | None:
        """Added plus the days for the place; an opened item: the earlier of that and opened plus after-opening."""
        days = self.days(place)
        by = added_at + timedelta(days=days) if days is not None else None
        if opened_at is not None:
            after = self.days(place, opened=True)
            if after is not None and (span := self.opened.get(place or self.place or "")) and span.has_days:
                opened_by = opened_at + timedelta(days=after)
                by = min(by, opened_by) if by is not None else opened_by
        return by


def normalize(name: str) -> str:
    """Case, width and spacing do not matter: ' 대 파 ' == '대파', 'Green Onion' == 'greenonion'."""
    text = unicodedata.normalize("NFKC", name).casefold()
    return re.sub(r"[\s\-_.·]+", "", text)


def _number(value: str) -> float | None:
    return float(value) if value not in ("", None) else None


def _span(row: dict[str, str], prefix: str) -> Span | None:
    low, high = _number(row.get(f"{prefix}_min_days", "")), _number(row.get(f"{prefix}_max_days", ""))
    unit = row.get(f"{prefix}_unit", "")
    if low is None and high is None:
        return Span(advice=unit) if unit else None
    return Span(min_days=low if low is not None else high, max_days=high if high is not None else low)


@dataclass(frozen=True)
class _Product:
    id: int
    name: str
    spans: dict[str, Span]
    opened: dict[str, Span]


@cache
def _products() -> dict[int, _Product]:
    found = {}
    with (DATA / "foodkeeper" / "foodkeeper_products.csv").open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            spans = {p: s for p in PLACES if (s := _span(row, p)) is not None}
            opened = {p: s for p in ("fridge", "pantry") if (s := _span(row, f"{p}_after_opening")) is not None}
            name = row["name"] + (f", {row['subtitle']}" if row["subtitle"] else "")
            found[int(row["id"])] = _Product(int(row["id"]), name, spans, opened)
    return found


@dataclass(frozen=True)
class Ingredient:
    ko: str
    en: str
    category: str
    category_ko: str
    aliases: tuple[str, ...]
    foodkeeper_id: int | None


@cache
def ingredients() -> tuple[Ingredient, ...]:
    """The carried Korean–English table, in its order (for autocompletion and the recipes part)."""
    with (DATA / "ingredients-ko-en" / "ingredients_ko_en.csv").open(encoding="utf-8", newline="") as handle:
        return tuple(Ingredient(r["ko"], r["en"], r["category"], r["category_ko"],
                                tuple(a for a in r["ko_aliases"].split(";") if a),
                                int(r["foodkeeper_id"]) if r["foodkeeper_id"] else None)
                     for r in csv.DictReader(handle))


def _english_keys(en: str) -> list[str]:
    """'green onion, large (daepa)' answers to itself, 'green onion, large', 'daepa' and 'green onion'."""
    plain = re.sub(r"\s*\(.*?\)", "", en).strip()
    inner = re.findall(r"\((.*?)\)", en)
    return [en, plain, plain.split(",")[0], *inner]


@cache
def _index() -> tuple[dict[str, Ingredient], dict[str, _Product]]:
    """Name → entry: the ingredient table (Korean names and aliases, then English), then FoodKeeper's names.

    The first claim wins, and the table is asked before FoodKeeper (with plurals) so that 'onions' is 양파.
    """
    table: dict[str, Ingredient] = {}
    for item in ingredients():
        for key in (item.ko, *item.aliases):
            table.setdefault(normalize(key), item)
    for item in ingredients():
        for key in _english_keys(item.en):
            table.setdefault(normalize(key), item)
    products: dict[str, _Product] = {}
    for product in _products().values():
        products.setdefault(normalize(product.name), product)
        products.setdefault(normalize(product.name.split(",")[0]), product)
    return table, products


def _find(name: str) -> Ingredient | _Product | None:
    key = normalize(name)
    if not key:
        return None
    keys = [key] + [key[: -len(s)] for s in ("es", "s") if key.endswith(s)]  # English plurals: onions, eggs
    for index in _index():
        for candidate in keys:
            if candidate in index:
                return index[candidate]
    return None


# Kept on a shelf (cool, dark) in a Korean kitchen although their category lives in the fridge.
SHELF_NAMES = frozenset({"감자", "고구마", "단호박", "늙은호박"})


def _default_place(category: str, spans: dict[str, Span], name_ko: str | None = None) -> Place:
    """The category's usual place; if FoodKeeper advises against it (or has nothing for it) and gives
    another place a time, that place (fridge first)."""
    if name_ko in SHELF_NAMES:
        return "pantry"
    place = CATEGORY_PLACE.get(category, "fridge")
    here = spans.get(place)
    if here is None or here.advice == "Not Recommended":
        timed = [p for p in PLACES if p in spans and spans[p].has_days]
        if timed:
            return "fridge" if "fridge" in timed else timed[0]
    return place


def lookup(name: str, override: Override | None = None) -> ShelfLife:
    """Everything known about storing `name`; `known=False` (and no date) for a name that is not in the data."""
    entry = _find(name)
    if entry is None and override is None:
        return ShelfLife(query=name, known=False)
    spans: dict[str, Span] = {}
    opened: dict[str, Span] = {}
    fields: dict[str, object] = {}
    if isinstance(entry, Ingredient):
        product = _products().get(entry.foodkeeper_id) if entry.foodkeeper_id else None
        if product is not None:
            spans, opened = dict(product.spans), dict(product.opened)
        fields = {"name_ko": entry.ko, "name_en": entry.en, "category": entry.category,
                  "category_ko": entry.category_ko, "foodkeeper_id": entry.foodkeeper_id,
                  "foodkeeper_name": product.name if product else None}
    elif isinstance(entry, _Product):
        spans, opened = dict(entry.spans), dict(entry.opened)
        fields = {"name_en": entry.name, "category": "other", "foodkeeper_id": entry.id,
                  "foodkeeper_name": entry.name}
    category = str(fields.get("category") or "other")
    place = _default_place(category, spans, fields.get("name_ko"))  # type: ignore[arg-type]
    if override is not None:
        for where, days in override.days.items():
            spans[where] = Span(min_days=days, max_days=days)
            opened.pop(where, None)  # the household's number is the whole story for that place
        category = override.category or category
        place = override.place or (place if entry is not None else
                                   next((p for p in PLACES if p in override.days), "fridge"))
        fields["category"] = category
    return ShelfLife(query=name, known=True, place=place, spans=spans, opened=opened,
                     overridden=override is not None, **fields)  # type: ignore[arg-type]


def suggest(prefix: str, limit: int = 10) -> list[Ingredient]:
    """Ingredients whose Korean name, alias or English name starts with (then contains) `prefix`."""
    key = normalize(prefix)
    if not key:
        return []
    starts, contains = [], []
    for item in ingredients():
        names = [normalize(n) for n in (item.ko, *item.aliases, item.en)]
        if any(n.startswith(key) for n in names):
            starts.append(item)
        elif any(key in n for n in names):
            contains.append(item)
    return (starts + contains)[:limit]
