"""Keyword search over the shipped corpus, from the first run, in English and Korean."""

from __future__ import annotations

from boda.apps.pantry.recipes_search import search


def test_titles_come_first() -> None:
    assert search("bulgogi")[0].title == "Bulgogi" and search("Gimbap")[0].title == "Gimbap"
    stews = [r.title for r in search("beef stew", 5)]
    assert all("Beef" in t and "Stew" in t for t in stews)


def test_korean_ingredient_words_find_english_recipes() -> None:
    tofu = search("두부", 5)
    assert tofu and all("tofu" in (r.title + " ".join(r.ingredients)).lower() for r in tofu)
    beef_soy = search("소고기 간장", 5)  # both terms beat one term in the title
    assert "Bulgogi" in [r.title for r in beef_soy]
    assert all("beef" in (r.title + " ".join(r.ingredients)).lower() for r in beef_soy)
    assert all(any("soy sauce" in line.lower() for line in r.ingredients) for r in beef_soy)


def test_nothing_for_nothing() -> None:
    assert search("") == [] and search("zzzz qqqq") == []
    assert len(search("chicken", 7)) == 7
