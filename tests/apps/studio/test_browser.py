"""The 3D Studio story in a real browser: "빨간 소방차 장난감" → the enhanced prompt → a generation with live
progress → the model orbits in the viewer → FBX and GLB downloads that open again → published → found in the
gallery by text → its score. On a phone too; no CSP refusal anywhere."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import trimesh
from PIL import Image

from boda.apps.studio import formats
from boda.web.app import create_app
from tests.ai.openai_server import ChatServer
from tests.conftest import PASSWORD, make_settings
from tests.services import live_app
from tests.web.test_browser import SHOTS, check_fits

pytestmark = pytest.mark.browser

ENHANCED = ("빨간색 소방차 장난감, 반짝이는 플라스틱 재질, 둥근 모서리와 굵은 바퀴, 사다리와 경광등이 달린 "
            "귀여운 장난감 디자인, 정면에서 본 3D 모델")
SCENE = {"title": "Fire truck toy", "parts": [
    {"name": "body", "shape": "box", "size": [2.0, 0.8, 0.9], "position": [0, 0.7, 0], "rotation": [0, 0, 0],
     "color": "red", "metallic": 0.1, "roughness": 0.4},
    {"name": "cab", "shape": "box", "size": [0.7, 0.6, 0.9], "position": [0.75, 1.4, 0], "rotation": [0, 0, 0],
     "color": "#cc1111", "metallic": 0.1, "roughness": 0.4},
    {"name": "ladder", "shape": "box", "size": [1.6, 0.08, 0.3], "position": [-0.2, 1.2, 0], "rotation": [0, 0, 8],
     "color": "silver", "metallic": 0.8, "roughness": 0.3},
    *[{"name": f"wheel {i}", "shape": "cylinder", "size": [0.5, 0.25, 0.5],
       "position": [x, 0.25, z], "rotation": [90, 0, 0], "color": "black", "metallic": 0.0, "roughness": 0.9}
      for i, (x, z) in enumerate([(0.7, 0.45), (0.7, -0.45), (-0.7, 0.45), (-0.7, -0.45)])]]}


@pytest.fixture(scope="module")
def server(chat_server: ChatServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("studio-live")
    settings = make_settings(tmp, f"sqlite:///{tmp / 'boda.db'}",
                             jobs={"immediate": False, "in_process": True, "workers": 2, "heavy_workers": 1,
                                   "progress_interval": 0},
                             studio={"poll_seconds": 0.2},
                             llm={"provider": "openai", "base_url": chat_server.url, "model": "text-model",
                                  "api_key": "sk-test", "max_retries": 0, "timeout_seconds": 10})
    with live_app(create_app(settings), username="haneul", password=PASSWORD) as url:
        yield url


def watch_csp(context: Any, page: Any) -> list[str]:
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    context.add_init_script("document.addEventListener('securitypolicyviolation', e => console.error("
                            "'Content Security Policy: ' + e.violatedDirective + ' ' + e.blockedURI))")
    return refused


def canvas_pixels(page: Any) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.locator(".studio-viewer canvas").screenshot())).convert("RGB"),
                      np.int32)


def test_from_a_sentence_to_a_scored_published_model(browser: Any, server: str, chat_server: ChatServer,
                                                     tmp_path: Path) -> None:
    chat_server.reset()
    chat_server.script = [{"content": ENHANCED}, {"content": json.dumps(SCENE)}]
    context = browser.new_context(locale="ko-KR", viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    refused = watch_csp(context, page)
    page.goto(f"{server}/studio")
    page.fill("input[name=username]", "haneul")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/studio")

    # The prompt, enhanced by the LLM: before and after, editable.
    page.fill("#studio-prompt", "빨간 소방차 장난감")
    page.click("[data-testid=enhance]")
    page.wait_for_function("() => document.getElementById('studio-enhanced').value.length > 0")
    assert page.input_value("[data-testid=enhanced]") == ENHANCED
    assert page.locator("#studio-before").text_content() == "빨간 소방차 장난감"

    # Generate with the primitive composer; the job's progress is shown, then the model's page.
    assert page.input_value("[data-testid=provider]") == "composer"
    page.click("[data-testid=generate]")
    page.wait_for_selector("[data-testid=studio-job]:not([hidden])")
    page.wait_for_url("**/studio/models/*", timeout=120_000)
    model_id = page.url.rsplit("/", 1)[-1]
    assert page.locator("[data-testid=model-enhanced]").text_content() == ENHANCED
    # The composer was given the enhanced prompt.
    assert "사다리" in json.dumps(chat_server.requests[-1]["body"]["messages"], ensure_ascii=False)

    # The viewer renders the red truck, and dragging orbits it.
    page.wait_for_selector(".studio-viewer.is-ready", timeout=60_000)  # its first frame is drawn
    page.wait_for_timeout(300)
    before = canvas_pixels(page)
    assert before.std() > 10, "the viewer drew nothing"
    red = (before[..., 0] > 120) & (before[..., 0] > before[..., 1] + 60) & (before[..., 0] > before[..., 2] + 60)
    assert red.mean() > 0.01, "the truck's red is not on screen"
    box = page.locator(".studio-viewer canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 150, box["y"] + box["height"] / 2 + 20, steps=8)
    page.mouse.up()
    page.wait_for_timeout(500)
    assert np.abs(canvas_pixels(page) - before).mean() > 1.0, "dragging did not turn the model"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "studio-model-ko.png"), full_page=True)

    # Downloads named for Blender and Unity that open again.
    opened = {}
    for fmt in ("glb", "fbx"):
        with page.expect_download() as info:
            page.click(f"[data-testid=downloads] a[data-format={fmt}]")
        download = info.value
        assert download.suggested_filename.endswith(f".{fmt}") and model_id[:8] in download.suggested_filename
        path = tmp_path / download.suggested_filename
        download.save_as(str(path))
        opened[fmt] = formats.stats(formats.load_upload(path.name, path.read_bytes()))
    assert opened["glb"].triangles == opened["fbx"].triangles > 100
    assert len(trimesh.load(tmp_path / next(p.name for p in tmp_path.iterdir() if p.suffix == ".glb")).geometry) >= 7

    # Its score is shown, and said to be technical quality until people rate enough models.
    score = page.locator("[data-testid=model-score]").text_content()
    assert "/ 10" in score and "BRISQUE" in score

    # Published, it is found in the gallery by text.
    page.select_option("[data-testid=visibility]", "public")
    with page.expect_navigation():  # saved, the page reloads
        page.click("[data-testid=share]")
    assert page.input_value("[data-testid=visibility]") == "public"
    page.goto(f"{server}/studio/gallery?q=소방차")
    page.wait_for_selector(f".model-card[data-model-id='{model_id}']")
    assert page.locator(f".model-card[data-model-id='{model_id}'] img").count() == 1
    assert refused == []
    context.close()


def test_studio_pages_fit_a_phone(browser: Any, server: str) -> None:
    context = browser.new_context(locale="ko-KR", viewport={"width": 360, "height": 780}, has_touch=True,
                                  is_mobile=True, device_scale_factor=2)
    page = context.new_page()
    refused = watch_csp(context, page)
    page.goto(f"{server}/studio")
    page.fill("input[name=username]", "haneul")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/studio")
    check_fits(page, "/studio at 360 px")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "phone-studio-ko.png"), full_page=True)
    page.goto(f"{server}/studio/gallery")
    check_fits(page, "/studio/gallery at 360 px")
    cards = page.locator(".model-card a")
    if cards.count():
        cards.first.click()
        page.wait_for_selector(".studio-viewer")
        check_fits(page, "a model at 360 px")
        page.screenshot(path=str(SHOTS / "phone-studio-model-ko.png"), full_page=True)
    assert refused == []
    context.close()
