"""Photo to ingredients on a phone: the camera field, the progress bar, boxes over the photo, chips, add to fridge."""

from __future__ import annotations

from typing import Any

import pytest

from tests.apps.pantry.photos import jpeg, labelled
from tests.conftest import PASSWORD
from tests.web.test_browser import SHOTS, check_fits, server  # noqa: F401  (server: a module fixture)

pytestmark = pytest.mark.browser


def test_a_photo_of_groceries_becomes_items_on_a_phone(browser: Any, server: str, tmp_path: Any) -> None:  # noqa: F811
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
    page.click("#start-pantry")
    page.wait_for_selector("#recognise-form")
    assert page.get_attribute("#recognise-form input[type=file]", "capture") == "environment"
    photo = tmp_path / "groceries.jpg"
    photo.write_bytes(jpeg(labelled()[5][1]))  # the coffee and an orange
    page.set_input_files("#recognise-form input[type=file]", str(photo))
    page.click("#recognise-form button[type=submit]")
    page.wait_for_selector("#recognise-chips li", timeout=60_000)
    assert page.locator("#recognise-job progress").get_attribute("value") == "100"
    names = page.locator("#recognise-chips input[type=text]").evaluate_all("els => els.map(e => e.value)")
    assert {"원두커피", "오렌지"} <= set(names)
    assert page.locator("#recognise-boxes rect").count() >= 2  # a box per thing found, over the photo
    assert page.locator("#recognise-chips .conf").first.inner_text().endswith("%")
    page.wait_for_function("() => document.getElementById('recognise-img').naturalWidth === 800")
    box = page.locator("#recognise-img").bounding_box()
    assert box["width"] <= 360 and abs(page.locator("#recognise-boxes").bounding_box()["width"] - box["width"]) < 1
    check_fits(page, "/pantry photo to ingredients at 360 px")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "phone-pantry-recognise-ko.png"), full_page=True)
    chips = page.locator("#recognise-chips li")
    for n, value in enumerate(names):  # keep only the coffee and the orange
        chips.nth(n).locator("input[type=checkbox]").set_checked(value in ("원두커피", "오렌지"))
    unticked = [n for n, value in enumerate(names) if value not in ("원두커피", "오렌지")]
    assert (page.locator("#recognise-boxes rect.off").count() > 0) == bool(unticked)  # greyed, dashed
    chips.nth(names.index("오렌지")).locator("input[type=number]").fill("3")
    page.click("#recognise-add")
    page.wait_for_selector("#fridge .pantry-item:has-text('오렌지')")
    page.wait_for_selector("#fridge .pantry-item:has-text('원두커피')")
    assert page.locator("#recognise-done").inner_text() == "냉장고에 2개를 추가했습니다."
    assert page.locator("#fridge .pantry-item:has-text('오렌지') .qty").inner_text().startswith("3")
    # The page said which candidate each kept line was: their boxes now teach the household's classifier.
    taught = page.evaluate("async () => { const hid = document.querySelector('[data-confirm-done]').dataset.household;"
                           " return (await (await fetch(`/api/v1/pantry/households/${hid}/classifier`)).json())"
                           ".examples; }")
    assert set(taught) == {"원두커피", "오렌지"}
    assert refused == []
    context.close()


def test_a_receipt_becomes_items_with_amounts(browser: Any, server: str, tmp_path: Any) -> None:  # noqa: F811
    from tests.apps.pantry.photos import receipt

    context = browser.new_context(locale="en-US", viewport={"width": 360, "height": 780})
    page = context.new_page()
    page.goto(f"{server}/login?next=/pantry")
    page.fill("input[name=username]", "minji")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/pantry")
    if page.locator("#start-pantry").count():
        page.click("#start-pantry")
    page.wait_for_selector("#recognise-form")
    photo = tmp_path / "receipt.jpg"
    photo.write_bytes(jpeg(receipt()))
    page.set_input_files("#recognise-form input[type=file]", str(photo))
    page.check("#recognise-form input[name=receipt]")
    page.click("#recognise-form button[type=submit]")
    page.wait_for_selector("#recognise-chips li", timeout=60_000)
    names = page.locator("#recognise-chips input[type=text]").evaluate_all("els => els.map(e => e.value)")
    chip = page.locator("#recognise-chips li").nth(names.index("banana"))
    assert chip.locator("input[type=number]").input_value() == "1.2" and chip.locator(".unit").inner_text() == "kg"
    check_fits(page, "/pantry receipt at 360 px")
    page.click("#recognise-add")
    page.wait_for_selector("#fridge .pantry-item:has-text('kg')")
    context.close()
