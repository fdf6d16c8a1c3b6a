"""Ingredient lines into amount, unit and name, English and Korean; unreadable lines are flagged, not guessed."""

from __future__ import annotations

import pytest

from boda.apps.pantry import corpus
from boda.apps.pantry.recipes_parse import number, parse


@pytest.mark.parametrize(("line", "amount", "unit", "name"), [
    ("2 cups flour", 2.0, "cup", "flour"),
    ("1/2 tsp salt", 0.5, "tsp", "salt"),
    ("1 1/2 cups milk", 1.5, "cup", "milk"),
    ("1½ tbsp butter", 1.5, "tbsp", "butter"),
    ("2 T sugar", 2.0, "tbsp", "sugar"),
    ("1 lb (450 g) beef, sliced", 1.0, "lb", "beef"),
    ("a pinch of nutmeg", 1.0, "pinch", "nutmeg"),
    ("3 green onions, sliced on the bias", 3.0, None, "green onions"),
    ("양파 1개", 1.0, "개", "양파"),
    ("간장 2큰술", 2.0, "tbsp", "간장"),
    ("대파 1/2대", 0.5, "대", "대파"),
    ("다진마늘 1작은술", 1.0, "tsp", "다진마늘"),
    ("돼지고기 200g", 200.0, "g", "돼지고기"),
    ("양파 반 개", 0.5, "개", "양파"),
])
def test_lines_with_an_amount(line: str, amount: float, unit: str | None, name: str) -> None:
    parsed = parse(line)
    assert (parsed.amount, parsed.unit, parsed.name, parsed.unparsed) == (amount, unit, name, False)


def test_ranges_notes_and_words_for_amounts() -> None:
    ranged = parse("1–2 tbsp minced garlic")
    assert (ranged.amount, ranged.amount_max, ranged.name) == (1.0, 2.0, "minced garlic")
    assert parse("물 2~3컵").amount_max == 3.0
    noted = parse("½ onion (optional), thinly sliced")
    assert noted.name == "onion" and "optional" in noted.note and "thinly sliced" in noted.note
    salt = parse("소금 약간")
    assert (salt.name, salt.amount, salt.vague, salt.language, salt.unparsed) == ("소금", None, "약간", "ko", False)
    assert parse("salt and pepper to taste").vague == "to taste"
    assert parse("Olive oil (extra virgin)").name == "Olive oil"  # a name with no amount: nothing to guess


@pytest.mark.parametrize("line", ["Juice of ½ orange", "2 cloves", "~1 can cheddar cheese soup",
                                  "재료는 미리 꺼내 두세요"])
def test_what_cannot_be_read_is_flagged_with_its_text_kept(line: str) -> None:
    parsed = parse(line)
    assert parsed.unparsed and parsed.text == line and parsed.name is None and parsed.amount is None


def test_numbers() -> None:
    assert number("1 1/2") == 1.5 and number("¾") == 0.75 and number("0,5") == 0.5 and number("x") is None


def test_share_parsed_on_the_corpus() -> None:
    """Measured 2026-12-02: 99.0 % of 24,803 lines give a name, 81.7 % amount and name, 64.3 % all three."""
    parsed = [parse(line) for r in corpus.recipes() for line in r.ingredients]
    named = sum(not p.unparsed for p in parsed) / len(parsed)
    amounted = sum(p.amount is not None and bool(p.name) for p in parsed) / len(parsed)
    complete = sum(p.complete for p in parsed) / len(parsed)
    assert named > 0.98 and amounted > 0.80 and complete > 0.62
