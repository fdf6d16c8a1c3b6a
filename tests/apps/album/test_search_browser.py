"""Album search in headless Chromium, in Korean: real photos uploaded and indexed, then found by a word,
by "more like this", through a filter and by a query photo; screenshots at desktop width and at 360 px.

The server indexes as a user's does (the offline concepts backend, Tesseract, the face detector) with
jobs run at once and the Universal Sentence Encoder as the text encoder, as tests/apps/album/test_search.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from boda.web.app import create_app
from tests.apps.album.test_search import jpeg, sign
from tests.conftest import PASSWORD, make_settings
from tests.services import live_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("album-search-live")
    settings = make_settings(tmp, f"sqlite:///{tmp / 'boda.db'}", ai={
        "models_dir": tmp / "models", "threads": 1, "downloads": False, "text_encoder": "use-m"})
    with live_app(create_app(settings), username="jiwoo", password=PASSWORD) as url:
        yield url


def not_blank(path: Path) -> None:
    """A screenshot with something on it: many shades, not one flat colour."""
    pixels = np.asarray(Image.open(path).convert("L"), dtype=np.float32)
    assert pixels.std() > 20 and len(np.unique(pixels)) > 64, path


def results(page: Any) -> list[str]:
    """File names of the result grid, in order, once the search has answered."""
    page.wait_for_function("() => !document.getElementById('album-search-results').hasAttribute('aria-busy')"
                           " && document.getElementById('album-search-status').textContent.length > 0")
    return page.eval_on_selector_all("[data-testid=result-grid] img", "els => els.map(e => e.alt)")


def search(page: Any, query: str) -> list[str]:
    page.fill("#album-search input[name=q]", query)
    page.click("#album-search button[type=submit] >> nth=0")
    return results(page)


def test_find_photos_by_word_likeness_filter_and_photo(browser: Any, server: str, tmp_path: Path) -> None:
    context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{server}/album")
    page.fill("input[name=username]", "jiwoo")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/album")

    photos = {"cat.jpg": jpeg(skdata.chelsea()), "coffee.jpg": jpeg(skdata.coffee()),
              "motorcycle.jpg": jpeg(skdata.stereo_motorcycle()[0]), "bakery.jpg": sign("BAKERY 빵집")}
    page.set_input_files("#album-files", [{"name": k, "mimeType": "image/jpeg", "buffer": v}
                                          for k, v in photos.items()])
    # Uploaded, then indexed: the box follows the album.index job named by the upload's X-Boda-Job-Id.
    page.wait_for_function("() => document.querySelectorAll('#album-uploads .state.done').length === 4",
                           timeout=120_000)
    page.wait_for_selector("[data-testid=indexing][data-status=succeeded] .done-note:not([hidden])",
                           timeout=60_000)
    assert "색인" in page.text_content("[data-testid=indexing]")

    # A Korean word finds the cat first, with a score and the backend named.
    found = search(page, "고양이")
    assert found[0] == "cat.jpg" and len(found) == 4
    assert page.locator("[data-testid=result-grid] li").first.locator(".score").text_content().startswith("0.")
    assert "concepts:" in page.text_content("#album-search-status")
    # Words written in a photo find it, marked as such.
    assert search(page, "bakery")[0] == "bakery.jpg"
    assert page.locator("[data-testid=result-grid] li").first.locator(".words").text_content() == "글자로 찾음"
    page.wait_for_function("() => document.fonts.status === 'loaded'")
    assert page.evaluate("[...document.fonts].some(f => f.family.includes('Pretendard') && f.status === 'loaded')")
    assert page.evaluate("document.fonts.check('16px \"Pretendard Variable\"', '고양이')")
    page.screenshot(path=str(tmp_path / "search-desktop.png"), full_page=True)
    not_blank(tmp_path / "search-desktop.png")

    # A filter narrows: only photos with text in them.
    page.click("#album-filters summary")
    page.check("#album-filters input[name=has_text]")
    assert search(page, "고양이") == ["bakery.jpg"]
    assert search(page, "") == ["bakery.jpg"]  # filters alone narrow the library
    assert "필터에 맞는 사진 1장" in page.text_content("#album-search-status")
    page.fill("#album-search input[name=q]", "고양이")
    page.click("#album-filters-reset")
    assert len(results(page)) == 4

    # Sort by date: the same photos, newest taken first (all taken now: the upload order's reverse at most).
    page.select_option("#album-search select[name=sort]", "date")
    assert sorted(results(page)) == sorted(photos)
    page.select_option("#album-search select[name=sort]", "relevance")
    results(page)

    # "More like this" from the photo page: the other photos, not the cat itself.
    page.locator("[data-testid=result-grid] li").first.locator("a").click()
    page.wait_for_selector("[data-testid=photo-large]")
    page.click("[data-testid=more-like-this]")
    page.wait_for_url("**/album?similar=*")
    similar = results(page)
    assert "cat.jpg" not in similar and len(similar) == 3
    assert page.is_visible("#album-similar-chosen")

    # A query photo: part of the cat, picked into the search box area.
    crop = Image.fromarray(skdata.chelsea()).crop((60, 20, 400, 300))
    page.set_input_files("#album-query-file", {"name": "query.jpg", "mimeType": "image/jpeg", "buffer": jpeg(crop)})
    page.wait_for_function("() => !document.getElementById('album-query-chosen').hidden")
    assert results(page)[0] == "cat.jpg"

    # An error says why: a photo not indexed yet (here: one that does not exist) is reported, not swallowed.
    page.goto(f"{server}/album?similar=no-such-photo")
    page.wait_for_selector("#album-search-results .alert")

    # 360 px: nothing wider than the screen; the results, badges and filters fit.
    page.set_viewport_size({"width": 360, "height": 740})
    page.goto(f"{server}/album")
    found = search(page, "고양이")
    assert found[0] == "cat.jpg"
    page.click("#album-filters summary")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(tmp_path / "search-360.png"), full_page=True)
    not_blank(tmp_path / "search-360.png")
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()
