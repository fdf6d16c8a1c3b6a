"""The classifier pages in headless Chromium, in Korean: create, label, refusals said in words, train as a
job the page follows, train again, roll back, tags on the photos, delete; at 360 px too.

Photos: scikit-image's cat and coffee cup, three examples each (the photo, a crop, a mirror image),
indexed by the offline concepts backend as a user's server does (jobs run at once here).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageOps
from skimage import data as skdata
from sqlalchemy import select

from boda.apps.album import service
from boda.core.models import User
from boda.core.runtime import Runtime
from boda.web.app import create_app
from tests.apps.album.test_search import jpeg
from tests.apps.album.test_search_browser import not_blank
from tests.conftest import PASSWORD, make_settings
from tests.services import live_app

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("BODA_SCREENSHOTS", "/tmp/boda-screenshots"))


def examples(image: Image.Image) -> list[bytes]:
    w, h = image.size
    return [jpeg(image), jpeg(image.crop((w // 8, h // 8, w - w // 8, h - h // 8))), jpeg(ImageOps.mirror(image))]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("album-classify-live")
    settings = make_settings(tmp, f"sqlite:///{tmp / 'boda.db'}", ai={
        "models_dir": tmp / "models", "threads": 1, "downloads": False, "text_encoder": "use-m"})
    app = create_app(settings)
    with live_app(app, username="hana", password=PASSWORD) as url:
        runtime: Runtime = app.state.runtime
        files = {f"cat{i}.jpg": data for i, data in enumerate(examples(Image.fromarray(skdata.chelsea())))}
        files |= {f"cup{i}.jpg": data for i, data in enumerate(examples(Image.fromarray(skdata.coffee())))}
        with runtime.db.session() as session:
            owner = session.scalar(select(User.id).where(User.username == "hana"))
            assert owner is not None
            service.upload_photos(session, runtime, owner_id=owner,  # indexed at once (jobs run inline)
                                  files=[(io.BytesIO(data), name) for name, data in files.items()])
            session.commit()
        yield url


def label(page: Any, names: list[str], as_class: str) -> None:
    for name in names:
        page.locator(f".pick-grid label:has(img[alt='{name}']) input").check()
    page.select_option("#classifier-label select[name=label]", as_class)
    with page.expect_navigation():
        page.click("#classifier-label button[type=submit]")


def train(page: Any) -> None:
    with page.expect_navigation(timeout=60_000):  # the page follows the job and reloads at its end
        page.click("#classifier-train")


def test_label_train_roll_back_and_delete(browser: Any, server: str) -> None:
    context = browser.new_context(locale="ko-KR", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{server}/album/classifiers")
    page.fill("input[name=username]", "hana")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/album/classifiers")
    assert "아직 분류기가 없습니다." in page.text_content("body")

    # One class twice ("Cat" and "cat " are one tag): refused, in Korean, and nothing is made.
    page.fill("#classifier-create input[name=name]", "고양이인가")
    page.fill("#classifier-create input[name=classes]", "Cat, cat ")
    page.click("#classifier-create button[type=submit]")
    page.wait_for_selector("#album-error .alert")
    assert "두 개 이상" in page.text_content("#album-error")
    page.fill("#classifier-create input[name=classes]", "cat, cup")
    page.click("#classifier-create button[type=submit]")
    page.wait_for_url("**/album/classifiers/*")
    assert page.locator(".pick-grid img").count() == 6

    # Too few examples: the training is refused with the reason, not silently.
    label(page, ["cat0.jpg"], "cat")
    page.click("#classifier-train")
    page.wait_for_selector("#album-error .alert")
    assert "학습하기 전에" in page.text_content("#album-error")

    label(page, ["cat1.jpg", "cat2.jpg", "cup1.jpg"], "cat")  # a cup labelled a cat by mistake...
    assert page.locator(".pick-grid .pick-label").count() == 4
    page.locator(".pick-grid label:has(img[alt='cup1.jpg']) input").check()  # ...taken back out
    with page.expect_navigation():
        page.click("button[data-classify=unlabel]")
    assert page.locator(".pick-grid .pick-label").count() == 3
    label(page, ["cup0.jpg", "cup1.jpg", "cup2.jpg"], "cup")
    counts = page.locator(".class-counts li").all_text_contents()
    assert any("cat" in c and "3" in c for c in counts) and any("cup" in c and "3" in c for c in counts), counts

    train(page)
    assert page.text_content("[data-testid=accuracy]").strip() == "100.0%"  # cat and cup: no mistakes
    assert page.locator(".confusion-box svg").count() == 1
    train(page)
    versions = page.locator("[data-testid=versions] li")
    assert versions.count() == 2 and page.locator("button[data-classify=activate]").count() == 1
    with page.expect_navigation():  # roll back to version 1: it is the active one now
        page.click("button[data-classify=activate]")
    active = page.locator("[data-testid=versions] li:has(.tag)")
    assert active.count() == 1 and active.text_content().strip().startswith("버전 1 ·")
    assert page.locator("[data-testid=versions] li:has(button[data-classify=activate])").text_content().strip(
        ).startswith("버전 2 ·")

    # Its classes are tags on the photos it is sure about.
    page.goto(f"{server}/album")
    page.locator("[data-testid=photo-grid] img[alt='cat0.jpg']").click()
    page.wait_for_selector("[data-testid=photo-large]")
    assert "cat" in [t.strip() for t in page.locator(".photo-meta .tag").all_text_contents()]

    # A phone: nothing wider than the screen.
    page.goto(f"{server}/album/classifiers")
    page.locator("[data-testid=classifiers] a").first.click()
    page.wait_for_selector("[data-testid=accuracy]")
    page.set_viewport_size({"width": 360, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "album-classifier-360.png"), full_page=True)
    not_blank(SHOTS / "album-classifier-360.png")

    # Delete, after the browser's confirmation: the list is empty again.
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("button[data-classify=delete]")
    page.wait_for_url("**/album/classifiers")
    assert page.locator("[data-testid=classifiers]").count() == 0
    assert "아직 분류기가 없습니다." in page.text_content("body")
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()
