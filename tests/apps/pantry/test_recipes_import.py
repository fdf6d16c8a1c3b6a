"""Recipe pages to recipes with recipe-scrapers, offline, on saved pages in Korean and English."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from boda.ai.llm import run_sync
from boda.apps.pantry.recipes_import import decode_html, fetch_html, import_url, scrape
from boda.core.errors import InvalidInput, PayloadTooLarge, Unavailable
from tests.ai.openai_server import serving

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
    assert len(recipe.steps) == 5 and recipe.steps[0].startswith("Heat the olive oil")  # no "Sauce", "Soften"
    assert recipe.steps[3].startswith("Make six wells")
    assert recipe.image_url and recipe.image_url.endswith("1200x1200.jpg")
    eggs = recipe.parsed[recipe.ingredients.index("6 large eggs")]
    assert (eggs.amount, eggs.name) == (6.0, "eggs")


def test_a_saved_page_given_another_sites_address_is_still_read() -> None:
    # The wikibooks reader finds nothing in this page; the generic schema.org reader does, and the
    # address the user gave is kept as the source.
    url = "https://en.wikibooks.org/wiki/Cookbook:Hartshorne_Cream_Sauce_for_a_Hare"
    recipe = scrape((PAGES / "shakshuka.en.html").read_bytes(), url)
    assert recipe.title == "Easy Shakshuka" and "6 large eggs" in recipe.ingredients
    assert recipe.source_url == url


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


class PageServer:
    """A real HTTP server with recipe pages, a redirect, a 404 and an endless page."""

    def __init__(self) -> None:
        from starlette.applications import Starlette
        from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
        from starlette.routing import Route

        page = (PAGES / "shakshuka.en.html").read_bytes()

        async def endless(_: object) -> StreamingResponse:
            async def chunks():  # type: ignore[no-untyped-def]
                for _ in range(10_000):
                    yield b"<p>" + b"x" * 4096 + b"</p>"
            return StreamingResponse(chunks(), media_type="text/html")

        self.url = ""
        self.app = Starlette(routes=[
            Route("/shakshuka", lambda _: HTMLResponse(page)),
            Route("/old", lambda _: RedirectResponse("/shakshuka", status_code=301)),
            Route("/loop", lambda _: RedirectResponse("/loop", status_code=302)),
            Route("/gone", lambda _: Response("no", status_code=404)),
            Route("/endless", endless),
        ])


@pytest.fixture(scope="module")
def pages() -> Iterator[PageServer]:
    with serving(PageServer()) as running:  # type: ignore[arg-type]
        yield running  # type: ignore[misc]


def test_a_page_is_fetched_through_redirects_and_read(pages: PageServer) -> None:
    base = pages.url.removesuffix("/v1")
    recipe = run_sync(import_url(f"{base}/old", allow_private=True))
    assert recipe.title == "Easy Shakshuka" and recipe.source_url == f"{base}/old"


def test_fetching_has_limits(pages: PageServer) -> None:
    base = pages.url.removesuffix("/v1")
    with pytest.raises(InvalidInput) as refused:  # the server's own network, unless the operator allows it
        run_sync(fetch_html(f"{base}/shakshuka"))
    assert refused.value.key == "pantry_recipe_url_refused"
    with pytest.raises(InvalidInput):
        run_sync(fetch_html("file:///etc/passwd", allow_private=True))
    with pytest.raises(Unavailable) as gone:
        run_sync(fetch_html(f"{base}/gone", allow_private=True))
    assert gone.value.details["status"] == 404
    with pytest.raises(Unavailable):
        run_sync(fetch_html(f"{base}/loop", allow_private=True))
    with pytest.raises(PayloadTooLarge):
        run_sync(fetch_html(f"{base}/endless", allow_private=True, max_bytes=1024 * 1024))


def test_a_microdata_page_without_json_ld() -> None:
    recipe = scrape((PAGES / "dubu-jorim.microdata.ko.html").read_bytes(), "https://banchan.example.kr/dubu-jorim")
    assert recipe.title == "두부조림" and recipe.ingredients[0] == "두부 1모" and len(recipe.steps) == 3
    assert recipe.total_minutes == 25 and recipe.image_url == "https://banchan.example.kr/img/dubu-jorim.jpg"
    assert [(p.name, p.amount, p.unit) for p in recipe.parsed[:3]] == [("두부", 1.0, "모"), ("대파", 0.5, "대"),
                                                                       ("간장", 3.0, "tbsp")]


def _page(recipe: dict) -> str:
    import json

    return f'<html><head><script type="application/ld+json">{json.dumps(recipe)}</script></head></html>'


def test_a_hostile_page_is_read_within_the_bounds_of_a_hand_written_recipe() -> None:
    """`"@type": 5` made recipe-scrapers raise TypeError (a 500 on the page form); a total time of
    PT99999999999999999999H overflowed the column; 100,000 ingredient lines were all kept."""
    with pytest.raises(InvalidInput, match="no recipe"):
        scrape(_page({"@context": "https://schema.org", "@type": 5, "name": "x", "recipeIngredient": ["a"]}))
    found = scrape(_page({"@context": "https://schema.org", "@type": "Recipe", "name": "Toast",
                          "totalTime": "PT99999999999999999999H", "cookTime": "PT10M",
                          "recipeIngredient": ["1 slice bread " + "x" * 900] + ["1 egg"] * 5000,
                          "recipeInstructions": ["Toast it. " * 1000] * 300}))
    assert found.total_minutes is None and found.cook_minutes == 10
    assert len(found.ingredients) == 100 and max(map(len, found.ingredients)) == 500
    assert len(found.steps) == 100 and max(map(len, found.steps)) <= 4000


@pytest.mark.parametrize("url", ["http://[::1/", "http://example.com:99999/", f"http://{'a' * 64}.example/",
                                 "http://ex\x00ample.com/"])
def test_an_address_that_cannot_be_parsed_is_refused_as_such(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        run_sync(import_url(url))
    assert caught.value.key == "pantry_recipe_url_invalid"


def test_an_address_httpx_refuses_is_invalid_not_a_500() -> None:
    """httpx.InvalidURL is not an httpx.HTTPError: a control character in the path escaped as a 500."""
    with pytest.raises(InvalidInput) as caught:
        run_sync(fetch_html("http://127.0.0.1:9/a\x7fb", allow_private=True))
    assert caught.value.key == "pantry_recipe_url_invalid"
