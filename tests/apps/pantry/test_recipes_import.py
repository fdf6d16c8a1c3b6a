"""Recipe pages to recipes with recipe-scrapers, offline, on saved pages in Korean and English."""

from __future__ import annotations

from pathlib import Path

import pytest

from boda.apps.pantry.recipes_import import decode_html, scrape
from boda.core.errors import InvalidInput, PayloadTooLarge

PAGES = Path(__file__).parents[2] / "fixtures" / "recipes"


def test_a_korean_json_ld_page() -> None:
    recipe = scrape((PAGES / "samgyeopsal-deopbap.ko.html").read_bytes(),
                    "https://jipbap.example.kr/recipes/samgyeopsal-deopbap")
    assert recipe.title == "삼겹살 덮밥" and recipe.language == "ko"
    assert recipe.ingredients[:3] == ("삼겹살 300g", "양파 1/2개", "쪽파 3대") and len(recipe.ingredients) == 11
    assert len(recipe.steps) == 5 and recipe.steps[0].startswith("양파는 얇게")
    assert recipe.image_url == "https://jipbap.example.kr/images/samgyeopsal-deopbap.jpg"
    assert (recipe.total_minutes, recipe.prep_minutes, recipe.cook_minutes) == (30, 10, 20)
    assert recipe.yields and recipe.yields.startswith("2")
    assert "한식" in recipe.tags and "삼겹살" in recipe.tags
    body = recipe.as_dict()
    assert body["ingredients"][0] == {"text": "삼겹살 300g", "name": "삼겹살", "amount": 300.0, "amount_max": None,
                                      "unit": "g", "note": None, "vague": None, "unparsed": False}
    assert body["ingredients"][9]["vague"] == "약간"  # 통깨 약간


def test_an_english_yoast_graph_page_and_its_canonical_url() -> None:
    recipe = scrape((PAGES / "shakshuka.en.html").read_text(encoding="utf-8"))
    assert recipe.title == "Easy Shakshuka" and recipe.language == "en"
    assert recipe.source_url == "https://weeknightpan.example.com/easy-shakshuka/"  # no URL given: the canonical one
    assert "6 large eggs" in recipe.ingredients and recipe.total_minutes == 30
    assert any(s.startswith("Make six wells") for s in recipe.steps)
    assert recipe.image_url and recipe.image_url.endswith("1200x1200.jpg")
    eggs = recipe.parsed[recipe.ingredients.index("6 large eggs")]
    assert (eggs.amount, eggs.name) == (6.0, "eggs")


def test_a_page_without_a_recipe_is_refused_clearly() -> None:
    with pytest.raises(InvalidInput) as caught:
        scrape((PAGES / "no-recipe.en.html").read_bytes(), "https://weeknightpan.example.com/fridge-tips/")
    assert caught.value.key == "pantry_recipe_not_in_page"


def test_a_recipe_without_ingredients_is_refused() -> None:
    page = ('<html><head><script type="application/ld+json">{"@context":"https://schema.org","@type":"Recipe",'
            '"name":"Air","recipeInstructions":["Breathe."]}</script></head><body></body></html>')
    with pytest.raises(InvalidInput) as caught:
        scrape(page, "https://example.org/air")
    assert caught.value.key == "pantry_recipe_incomplete"


def test_older_korean_pages_in_cp949_are_read() -> None:
    page = (PAGES / "samgyeopsal-deopbap.ko.html").read_text(encoding="utf-8").replace('charset="utf-8"',
                                                                                        'charset="euc-kr"')
    assert decode_html(page.encode("cp949")) == page
    assert scrape(page.encode("cp949"), "https://jipbap.example.kr/r/1").title == "삼겹살 덮밥"


def test_a_huge_page_is_refused_before_parsing() -> None:
    with pytest.raises(PayloadTooLarge):
        decode_html(b" " * (8 * 1024 * 1024 + 1))
