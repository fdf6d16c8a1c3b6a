"""Album in headless Chromium: drop photos (a progress bar each), browse, favourite, trash, restore, at 360 px too."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from boda.web.app import create_app
from tests.apps.album.images import encode, exif_jpeg, picture
from tests.conftest import PASSWORD, make_settings
from tests.services import live_app

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("BODA_SCREENSHOTS", "/tmp/boda-screenshots"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("album-live")
    with live_app(create_app(make_settings(tmp, f"sqlite:///{tmp / 'boda.db'}")), username="minji",
                  password=PASSWORD) as url:
        yield url


def test_upload_browse_favourite_trash_restore(browser: Any, server: str) -> None:
    context = browser.new_context(locale="en-US", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{server}/album")
    page.wait_for_url("**/login?next=/album")
    page.fill("input[name=username]", "minji")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/album")

    page.set_input_files("#album-files", [
        {"name": "cam.jpg", "mimeType": "image/jpeg", "buffer": exif_jpeg(seed=1, size=(800, 600))},
        {"name": "b.png", "mimeType": "image/png", "buffer": encode(picture(2, (600, 400)), "PNG")},
        {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo at all" * 20},
    ])
    page.wait_for_selector("#album-uploads li .state.failed")
    assert page.locator("#album-uploads progress").count() == 3
    page.wait_for_function("() => document.querySelectorAll('[data-testid=photo-grid] img').length === 2")
    page.wait_for_function("() => [...document.querySelectorAll('[data-testid=photo-grid] img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")  # the thumbnails load
    assert "not an image" in page.text_content("#album-uploads .failed").lower()  # the refusal stays in view
    page.reload()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "album-library.png"), full_page=True)

    # The search box answers (its own tests: test_search_browser.py); clearing it brings the library back.
    page.fill("#album-search input[name=q]", "beach")
    page.click("#album-search button[type=submit] >> nth=0")
    page.wait_for_function("() => document.getElementById('album-search-status').textContent"
                           " || document.querySelector('#album-search-results .alert')")
    page.click("#album-search-clear")
    page.wait_for_selector("#album-library", state="visible")

    page.click("[data-testid=photo-grid] li:nth-child(2) a")  # the older one: the camera photo from 2021
    page.wait_for_selector("[data-testid=photo-large]")
    assert "Canon EOS 5D" in page.text_content(".photo-meta")
    page.click("button[data-action=favorite]")
    page.wait_for_selector("button[data-action=favorite][aria-pressed=true]")
    page.click("button[data-action=trash]")
    page.wait_for_url("**/album")
    assert page.locator("[data-testid=photo-grid] img").count() == 1

    page.goto(f"{server}/album/trash")
    page.click("button[data-action=restore]")
    page.wait_for_selector("text=The trash is empty.")

    # 360 px: nothing wider than the screen, three photos a row.
    page.set_viewport_size({"width": 360, "height": 740})
    for path in ("/album", "/album/albums", "/album/trash"):
        page.goto(f"{server}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, path
    page.goto(f"{server}/album")
    page.screenshot(path=str(SHOTS / "album-360.png"), full_page=True)
    first = page.locator("[data-testid=photo-grid] li").first.bounding_box()
    assert first["width"] < 130
    page.click("[data-testid=photo-grid] li:first-child a")
    page.wait_for_selector("[data-testid=photo-large]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    page.screenshot(path=str(SHOTS / "album-photo-360.png"), full_page=True)
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()
