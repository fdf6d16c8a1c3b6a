"""Pantry in a real browser: start, add by name, use with an undo toast; at 360 px nothing overflows; no CSP refusal."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import PASSWORD
from tests.web.test_browser import SHOTS, check_fits, server  # noqa: F401  (server: a module fixture)

pytestmark = pytest.mark.browser


def test_pantry_on_a_phone(browser: Any, server: str) -> None:  # noqa: F811
    context = browser.new_context(locale="ko-KR", viewport={"width": 360, "height": 780}, has_touch=True,
                                  is_mobile=True, device_scale_factor=2)
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    context.add_init_script("document.addEventListener('securitypolicyviolation', e => console.error("
                            "'Content Security Policy: ' + e.violatedDirective + ' ' + e.blockedURI))")
    page.goto(f"{server}/pantry")
    page.fill("input[name=username]", "minji")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/pantry")
    page.click("#start-pantry")  # htmx post, then HX-Redirect back to the fridge
    page.wait_for_selector("#add-item")
    assert "오늘의 알림" in page.locator("#digest h2").inner_text()  # today's digest card, above the tabs
    page.click("#digest summary")  # the e-mail opt-in opens inside the card
    page.wait_for_selector("#digest-form input[type=email]", state="visible")
    check_fits(page, "/pantry (empty) at 360 px")
    for name in ("삼겹살", "두부", "김치"):
        page.fill("#add-item input[name=name]", name)
        page.click("#add-item button[type=submit]")
        page.wait_for_selector(f"#fridge .pantry-item:has-text('{name}')")
    assert page.locator("#undo-toast").is_visible()
    assert page.locator(".pantry-item:has-text('삼겹살') .due-soon").is_visible()  # 3 days: amber
    page.locator(".pantry-actions").first.locator("button", has_text="다 먹음").click()
    page.wait_for_function("() => !document.querySelector('#fridge')?.textContent.includes('삼겹살')")
    page.click("#undo")
    page.wait_for_selector("#fridge .pantry-item:has-text('삼겹살')")
    check_fits(page, "/pantry at 360 px")
    page.locator(".pantry-actions").nth(1).locator("button", has_text="버림").click()  # 두부
    page.wait_for_function("() => !document.querySelector('#fridge')?.textContent.includes('두부')")
    page.locator("#fridge form[hx-post$='/open'] button").first.click()  # 삼겹살 opened: in today's digest now
    page.wait_for_function("() => document.querySelectorAll(\"#fridge form[hx-post$='/open']\").length === 1")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "phone-pantry-ko.png"), full_page=True)
    for tab in ("soon", "waste"):
        page.goto(f"{server}/pantry?tab={tab}")
        page.wait_for_load_state("networkidle")
        check_fits(page, f"/pantry?tab={tab} at 360 px")
        assert "삼겹살" in page.locator("#digest").inner_text()  # the card lists it, within the width
        page.screenshot(path=str(SHOTS / f"phone-pantry-{tab}-ko.png"), full_page=True)
    assert page.get_by_text("100%").is_visible()  # the one finished item was thrown away
    assert float(page.locator("rect.thrown").last.get_attribute("height")) > 0
    assert refused == []
    context.close()
