"""Pantry's "Done when", the whole story on a phone in a real browser: a household photographs its groceries,
confirms them, sees their consume-by dates, imports a Korean recipe page, asks in Korean what to cook tonight
with an exclusion and watches the answer stream in, cooks a recipe and sees the stock go down, throws one
thing away and sees it on the waste chart. The LLM is a local server speaking OpenAI's protocol; no CSP refusal.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from boda.web.app import create_app
from tests.ai.openai_server import ChatServer
from tests.apps.pantry.photos import jpeg, labelled
from tests.conftest import PASSWORD, make_settings
from tests.services import live_app
from tests.web.test_browser import SHOTS, check_fits

pytestmark = pytest.mark.browser

PAGES = Path(__file__).parents[2] / "fixtures" / "recipes"
EXCLUDED = "삼겹살 덮밥"  # the imported recipe: tonight, something else
ANSWER = {"recipe_name": "오렌지 삼겹살 볶음",
          "recipe_ingredients": ["삼겹살 300g", "양파 1개", "오렌지 1개", "간장 1큰술"],
          "recipes": ["삼겹살을 한입 크기로 썰어 주세요.", "양파는 채를 썰고 오렌지는 즙을 짜 주세요.",
                      "달군 팬에 삼겹살을 노릇하게 굽고 양파를 넣어 볶아 주세요.",
                      "오렌지즙과 간장을 넣고 윤기 나게 조려 주세요."]}


@pytest.fixture(scope="module")
def server(chat_server: ChatServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("pantry-done")
    settings = make_settings(tmp, f"sqlite:///{tmp / 'boda.db'}",
                             jobs={"immediate": False, "in_process": True, "workers": 1},
                             llm={"provider": "openai", "base_url": chat_server.url, "model": "text-model",
                                  "api_key": "sk-test", "max_retries": 0, "timeout_seconds": 10})
    with live_app(create_app(settings), username="minji", password=PASSWORD) as url:
        yield url


def phone(browser: Any, **options: Any) -> tuple[Any, Any, list[str]]:
    context = browser.new_context(locale="ko-KR", viewport={"width": 360, "height": 740}, has_touch=True,
                                  is_mobile=True, device_scale_factor=2, **options)
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("response", lambda r: refused.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    context.add_init_script("document.addEventListener('securitypolicyviolation', e => console.error("
                            "'Content Security Policy: ' + e.violatedDirective + ' ' + e.blockedURI))")
    return context, page, refused


def login(page: Any, server: str, target: str) -> None:
    page.goto(f"{server}{target}")
    page.fill("input[name=username]", "minji")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**{target}")


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"phone-pantry-done-{name}-ko.png"), full_page=True)


def qty(page: Any, name: str) -> str:
    return page.locator(f"#fridge li.pantry-item:has(.name:text-is('{name}')) .qty").inner_text()


def test_the_pantry_story_on_a_phone(browser: Any, server: str, chat_server: ChatServer, tmp_path: Path) -> None:
    context, page, errors = phone(browser)
    login(page, server, "/pantry")
    page.click("#start-pantry")
    page.wait_for_selector("#recognise-form")

    # 1. A photo of the groceries becomes chips; the household keeps the coffee and the orange.
    photo = tmp_path / "groceries.jpg"
    photo.write_bytes(jpeg(labelled()[5][1]))  # the coffee and an orange
    page.set_input_files("#recognise-form input[type=file]", str(photo))
    page.click("#recognise-form button[type=submit]")
    page.wait_for_selector("#recognise-chips li", timeout=60_000)
    names = page.locator("#recognise-chips input[type=text]").evaluate_all("els => els.map(e => e.value)")
    assert {"원두커피", "오렌지"} <= set(names)
    chips = page.locator("#recognise-chips li")
    for n, value in enumerate(names):
        chips.nth(n).locator("input[type=checkbox]").set_checked(value in ("원두커피", "오렌지"))
    page.click("#recognise-add")
    page.wait_for_selector("#fridge .pantry-item:has-text('오렌지')")
    page.wait_for_selector("#fridge .pantry-item:has-text('원두커피')")
    # What the photo could not show, added by name: the pork belly and the onions.
    for name, amount, unit in (("삼겹살", "600", "g"), ("양파", "2", "")):
        page.fill("#add-item input[name=name]", name)
        page.fill("#add-item input[name=quantity]", amount)
        page.fill("#add-item input[name=unit]", unit)
        page.click("#add-item button[type=submit]")
        page.wait_for_selector(f"#fridge .pantry-item:has-text('{name}')")
    # Every item with its consume-by date: days left, from the shelf-life table (pork belly 3 days: amber).
    dues = {name: page.locator(f"#fridge li.pantry-item:has(.name:text-is('{name}')) .due")
            for name in ("오렌지", "원두커피", "삼겹살", "양파")}
    for name, due in dues.items():
        assert re.fullmatch(r"\d+일", due.inner_text()), (name, due.inner_text())
        assert due.get_attribute("title") == "소비기한"
    assert dues["삼겹살"].inner_text() == "3일" and "due-soon" in dues["삼겹살"].get_attribute("class")
    assert qty(page, "삼겹살") == "600g"
    check_fits(page, "/pantry with the photographed groceries at 360 px")
    shot(page, "fridge")

    # 2. A saved Korean recipe page, imported through the recipes page.
    page.goto(f"{server}/pantry/recipes")
    page.set_input_files("#import-recipe input[type=file]", str(PAGES / "samgyeopsal-deopbap.ko.html"))
    page.fill("#import-recipe input[name=url]", "https://jipbap.example.kr/recipes/samgyeopsal-deopbap")
    page.click("#import-recipe button[type=submit]")
    page.wait_for_url("**/pantry/recipes/*")
    recipe_url = page.url
    assert page.locator("#recipe h2").inner_text() == EXCLUDED
    assert page.locator("#recipe ol li").count() == 5

    # 3. What to cook tonight, asked in Korean, not the dish just imported; the answer streams in.
    chat_server.reset()
    chat_server.script.append({"content": json.dumps(ANSWER, ensure_ascii=False), "pace": 0.05})
    page.goto(f"{server}/pantry/recommend")
    offered = page.locator("#recommend-form input[name=ingredient]").evaluate_all("els => els.map(e => e.value)")
    assert {"오렌지", "삼겹살", "양파", "원두커피"} <= set(offered)
    page.locator("#recommend-form input[name=ingredient][value='원두커피']").uncheck()
    page.fill("#recommend-form input[name=exclude]", EXCLUDED)
    check_fits(page, "/pantry/recommend at 360 px")
    page.evaluate("""() => {
        window.seen = [];
        const live = document.getElementById('recommend-live');
        new MutationObserver(() => window.seen.push([document.getElementById('recommend-text').textContent.length,
                                                     !!document.querySelector('.recommendation')]))
            .observe(live, {subtree: true, childList: true, characterData: true});
    }""")
    page.click("#recommend-form button[type=submit]")
    page.wait_for_function("() => Number(document.getElementById('recommend-live').dataset.updates) >= 5")
    assert page.locator("#recommend-live").get_attribute("aria-live") == "polite"
    assert page.locator("#recommend-live").get_attribute("aria-busy") == "true"
    assert "쓰는 중" in page.locator("#recommend-status").inner_text()
    shot(page, "recommend-writing")
    page.wait_for_selector("#msg.recommendation h2", timeout=20_000)
    final = len(page.locator("#recommend-text").text_content())
    seen = page.evaluate("window.seen")
    partial = [n for n, rendered in seen if 0 < n < final and not rendered]
    assert len(partial) >= 3, seen  # the text grew piece by piece before the recipe appeared
    assert int(page.locator("#recommend-live").get_attribute("data-updates")) >= 10
    assert page.locator("#recommend-live").get_attribute("data-state") == "done"
    assert page.locator("#recommend-status").inner_text() == "레시피가 준비되었습니다."
    assert page.locator("#msg.recommendation h2").inner_text() == ANSWER["recipe_name"] != EXCLUDED
    assert page.locator("#msg.recommendation ol li").all_inner_texts() == ANSWER["recipes"]
    assert page.locator("#msg.recommendation ul li").all_inner_texts() == ANSWER["recipe_ingredients"]
    page.click("#msg.recommendation summary")
    assert json.loads(page.locator("#msg.recommendation pre.json").inner_text()) == ANSWER
    # What the model was asked: the household's ingredients, the exclusion, and the rule, in Korean.
    assert len(chat_server.requests) == 1
    sent = chat_server.requests[0]["body"]
    assert sent["stream"] is True
    asked = json.loads(sent["messages"][1]["content"].split("\n\n")[0])
    assert asked["except_recipe"] == [EXCLUDED]
    assert {"오렌지", "삼겹살", "양파"} <= set(asked["ingredients"]) and "원두커피" not in asked["ingredients"]
    assert "except_recipe에 있는 요리" in sent["messages"][0]["content"]  # the Korean system prompt
    assert f". {EXCLUDED}\n" not in sent["messages"][1]["content"]  # not even shown as a reference
    check_fits(page, "/pantry/recommend with the streamed recipe at 360 px")
    shot(page, "recommend")

    # 4. Cook the imported recipe: the preview says what it takes, confirming takes it from stock.
    page.goto(recipe_url)
    preview = page.locator("#cook-preview").inner_text()
    assert "삼겹살" in preview and "양파" in preview
    check_fits(page, "recipe detail with the cook preview at 360 px")
    shot(page, "cook-preview")
    page.click("#cook-confirm")
    page.wait_for_url("**/pantry/shopping?cooked=1")
    assert page.locator("#shopping .alert").is_visible()
    page.goto(f"{server}/pantry")
    assert qty(page, "삼겹살") == "300g"  # 300 g of 600 g went into the dish
    assert qty(page, "양파") == "1.5"  # half an onion

    # 5. The orange went off: thrown away, it shows on the waste chart.
    page.locator("#fridge li.pantry-item:has(.name:text-is('오렌지')) + li.pantry-actions "
                 "form[hx-post$='/discard'] button").click()
    page.wait_for_function("() => ![...document.querySelectorAll('#fridge .name')]"
                           ".some(e => e.textContent.trim() === '오렌지')")
    page.goto(f"{server}/pantry?tab=waste")
    assert float(page.locator("rect.thrown").last.get_attribute("height")) > 0
    assert page.locator("#waste .waste-share").inner_text() == "버린 비율: 다 쓴 것 중 33%"  # 1 of 3 finished
    check_fits(page, "/pantry?tab=waste at 360 px")
    shot(page, "waste")
    assert errors == []
    context.close()


def test_the_recommendation_without_javascript(browser: Any, server: str, chat_server: ChatServer) -> None:
    """The plain form post: the whole page comes back with the recipe (the hidden field carries the CSRF token)."""
    context, page, errors = phone(browser, java_script_enabled=False)
    login(page, server, "/pantry/recommend")
    chat_server.reset()
    chat_server.script.append({"content": json.dumps(ANSWER, ensure_ascii=False)})
    page.fill("#recommend-form input[name=extra]", "삼겹살, 양파")
    page.fill("#recommend-form input[name=exclude]", EXCLUDED)
    page.click("#recommend-form button[type=submit]")
    page.wait_for_selector("#msg.recommendation h2")
    assert page.locator("#msg.recommendation h2").inner_text() == ANSWER["recipe_name"]
    assert page.locator("#recommend-live").is_hidden()
    asked = json.loads(chat_server.last["messages"][1]["content"].split("\n\n")[0])
    assert asked["except_recipe"] == [EXCLUDED] and not chat_server.last.get("stream")
    assert errors == []
    context.close()


@pytest.fixture(scope="module")
def no_llm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("pantry-no-llm")
    settings = make_settings(tmp, f"sqlite:///{tmp / 'boda.db'}", jobs={"immediate": True})
    with live_app(create_app(settings), username="minji", password=PASSWORD) as url:
        yield url


def test_recommendation_errors_are_said_in_korean(browser: Any, server: str, no_llm: str,
                                                  chat_server: ChatServer) -> None:
    """A refusal once the stream has started comes in-band; with no model the stream answers 503: both in Korean."""
    for base, step, said in ((server, {"status": 401, "message": "Incorrect API key provided"},
                              "LLM 서버가 API 키를 거부했습니다."),
                             (no_llm, None, "설정된 LLM이 없습니다.")):
        context, page, errors = phone(browser)
        login(page, base, "/pantry/recommend")
        chat_server.reset()
        if step:
            chat_server.script.append(step)
        else:
            assert page.locator("#recommend .alert").inner_text().startswith("언어 모델이 설정되지 않아")
        page.fill("#recommend-form input[name=extra]", "두부, 김치")
        page.click("#recommend-form button[type=submit]")
        page.wait_for_selector("#msg.alert.error")
        assert page.locator("#msg").get_attribute("role") == "alert"
        assert page.locator("#msg").inner_text().startswith(said)
        assert page.locator("#recommend-live").get_attribute("data-state") == "error"
        assert page.locator("#recommend-live").is_hidden()  # no half answer, no spinner left
        assert page.locator("#recommend-form button[type=submit]").is_enabled()  # ask again
        assert len(chat_server.requests) == (1 if step else 0)
        check_fits(page, "/pantry/recommend with an error at 360 px")
        shot(page, "recommend-error" if step else "recommend-off")
        assert [e for e in errors if not e.startswith("503 ")] == []  # the 503 is the answer, not a fault
        context.close()
