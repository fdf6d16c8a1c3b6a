"""Shelf life from the carried FoodKeeper data and ingredient table: names in both languages, overrides, unknowns."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from boda.apps.pantry import shelf_life
from boda.apps.pantry.shelf_life import Override, lookup

DATA = Path(shelf_life.__file__).parent / "data"


@pytest.mark.parametrize("folder", ["foodkeeper", "ingredients-ko-en"])
def test_carried_data_matches_its_checksums(folder: str) -> None:
    lines = (DATA / folder / "SHA256SUMS").read_text().splitlines()
    assert lines
    for line in lines:
        digest, name = line.split()
        assert hashlib.sha256((DATA / folder / name).read_bytes()).hexdigest() == digest, name
    assert "Licence" in (DATA / folder / "README.md").read_text()


# name → (Korean name, category, place, days in that place): FoodKeeper's short end of the range.
KOREAN = {
    "양파": ("양파", "vegetable", "fridge", 60),
    "대파": ("대파", "vegetable", "fridge", 7),
    "삼겹살": ("삼겹살", "meat", "fridge", 3),
    "두부": ("두부", "tofu_soy", "fridge", 7),
    "김치": ("김치", "kimchi_pickle", "fridge", 180),
    "달걀": ("달걀", "egg", "fridge", 21),
}


@pytest.mark.parametrize("name", sorted(KOREAN))
def test_korean_staples_get_a_place_and_days(name: str) -> None:
    ko, category, place, days = KOREAN[name]
    life = lookup(name)
    assert (life.known, life.name_ko, life.category, life.place, life.days()) == (True, ko, category, place, days)
    added = datetime(2026, 12, 1, tzinfo=UTC)
    assert life.consume_by(added) == added + timedelta(days=days)


def test_spaces_case_aliases_and_english() -> None:
    assert lookup(" 대 파 ").name_ko == "대파"
    assert lookup("계란").name_ko == "달걀"  # alias
    assert lookup("파").name_ko == "대파"
    assert lookup("ONIONS").name_ko == "양파"  # English plural, any case
    assert lookup("pork belly").days() == 3
    assert lookup("Tofu").name_ko == "두부"
    pork = lookup("삼겹살")
    assert pork.span("fridge").max_days == 5 and pork.days("freezer") == 120


def test_advice_without_days_gives_no_date() -> None:
    milk = lookup("milk")
    assert (milk.name_ko, milk.place, milk.days()) == ("우유", "fridge", None)
    assert milk.span().advice == "Package use-by date"
    assert milk.consume_by(datetime(2026, 1, 1, tzinfo=UTC)) is None
    gochujang = lookup("고추장")  # in the table, no FoodKeeper product close enough: known, no date
    assert gochujang.known and gochujang.days() is None


def test_opened_items_use_the_after_opening_time() -> None:
    cheese = lookup("cheddar cheese")
    if not cheese.opened:  # find any table entry with an after-opening time instead
        cheese = next(lookup(i.ko) for i in shelf_life.ingredients() if lookup(i.ko).opened.get("fridge"))
    after = cheese.opened["fridge"].min_days
    added, opened = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 5, tzinfo=UTC)
    assert after is not None and after < cheese.days("fridge")
    assert cheese.consume_by(added, "fridge", opened_at=opened) == opened + timedelta(days=after)


def test_potatoes_keep_on_the_shelf() -> None:
    assert lookup("감자").place == "pantry"


def test_unknown_names_are_unknown_without_a_date() -> None:
    for name in ("플럼보블", "xyzzy", "", "   "):
        life = lookup(name)
        assert not life.known and life.place is None and life.days() is None
        assert life.consume_by(datetime(2026, 1, 1, tzinfo=UTC)) is None


def test_household_override_wins() -> None:
    life = lookup("대파", Override(place="freezer", days={"freezer": 30}))
    assert (life.place, life.days(), life.overridden, life.name_ko) == ("freezer", 30, True, "대파")
    assert life.days("fridge") == 7  # other places keep FoodKeeper's advice
    mine = lookup("할머니 고추장", Override(days={"fridge": 365}, category="sauce_paste"))
    assert (mine.known, mine.place, mine.days(), mine.category) == (True, "fridge", 365, "sauce_paste")


def test_suggest_autocompletes_both_languages() -> None:
    assert shelf_life.suggest("양")[0].ko == "양파"
    assert "양파" in [i.ko for i in shelf_life.suggest("onion")]
    assert shelf_life.suggest("  ") == []
