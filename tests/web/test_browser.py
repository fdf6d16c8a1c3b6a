"""The web UI in headless Chromium (Debian's), driven by Playwright, against a live server."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from boda.web.app import create_app
from tests.conftest import FIXTURES, PASSWORD, make_settings
from tests.services import live_app

pytestmark = pytest.mark.browser
SHOTS = Path(os.environ.get("BODA_SCREENSHOTS", "/tmp/boda-screenshots"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("live")
    settings = make_settings(tmp, f"sqlite:///{tmp / 'boda.db'}",
                             jobs={"immediate": False, "in_process": True, "workers": 1})
    with live_app(create_app(settings), username="minji", password=PASSWORD) as url:
        yield url


def logged_in(browser: Any, server: str, locale: str = "en-US") -> Any:
    context = browser.new_context(locale=locale, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/vision")
    page.wait_for_url("**/login?next=/vision")
    page.fill("input[name=username]", "minji")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/vision")
    return page


def stroke(page: Any, points: list[tuple[float, float]]) -> None:
    box = page.locator("#pad").bounding_box()
    sx, sy = box["width"] / 560, box["height"] / 280
    page.mouse.move(box["x"] + points[0][0] * sx, box["y"] + points[0][1] * sy)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * sx, box["y"] + y * sy, steps=12)
    page.mouse.up()


def test_korean_home_with_served_font(browser: Any, server: str) -> None:
    context = browser.new_context(locale="ko-KR")
    page = context.new_page()
    page.goto(server)
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.get_by_text("비전 도구").first.is_visible()
    page.evaluate("document.fonts.ready")
    assert page.evaluate("document.fonts.check('20px \"Pretendard Variable\"', '보다')")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "home-ko.png"), full_page=True)
    page.click("a[data-lang=en]")
    page.wait_for_load_state()
    assert page.get_by_text("Vision tools").first.is_visible()
    context.close()


def test_draw_a_number_and_read_it(browser: Any, server: str) -> None:
    page = logged_in(browser, server)
    stroke(page, [(60, 60), (170, 60), (110, 230)])  # a 7
    stroke(page, [(300, 50), (300, 235)])  # a 1
    stroke(page, [(470, 60), (410, 140), (470, 140), (470, 60), (470, 235)])  # a 4
    page.click("#pad-read")
    page.wait_for_function("() => document.querySelector('#digit-text').textContent.length >= 3")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "digits.png"), full_page=True)
    assert page.text_content("#digit-text") == "714"
    assert page.locator("#digit-list .digit").count() == 3
    # An error clears the earlier reading: it must not pass for the answer to the refused file.
    page.set_input_files("#digit-file", {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not an image"})
    page.wait_for_selector("#digit-error .alert")
    assert page.text_content("#digit-text") == "–" and page.locator("#digit-list .digit").count() == 0
    page.click("#pad-clear")
    page.click("#pad-read")
    page.wait_for_selector("#digit-error .alert")  # an empty canvas is a clear error
    page.context.close()


def test_upload_a_face_and_see_it_anonymised(browser: Any, server: str) -> None:
    page = logged_in(browser, server)
    page.goto(f"{server}/vision?tab=faces")
    page.set_input_files("#face-files", str(FIXTURES / "faces" / "astronaut.jpg"))
    page.click("#face-submit")
    after = page.wait_for_selector("img[data-testid=anonymized]")
    page.wait_for_function("() => document.querySelector('img[data-testid=anonymized]').naturalWidth > 0")
    assert "/api/v1/files/" in after.get_attribute("src")
    assert "1 face(s) found" in page.text_content("#face-result")
    page.wait_for_selector(".facebox")  # the detected box is drawn over the original
    page.screenshot(path=str(SHOTS / "faces.png"), full_page=True)
    page.context.close()


def test_batch_shows_live_progress(browser: Any, server: str) -> None:
    page = logged_in(browser, server)
    page.goto(f"{server}/vision?tab=faces")
    photo = str(FIXTURES / "faces" / "astronaut.jpg")
    page.set_input_files("#face-files", [photo, photo, photo])
    page.click("#face-submit")
    page.wait_for_selector("#face-job [data-job-id] progress")
    page.wait_for_function("() => document.querySelector('#face-job [data-job-id]').dataset.status === 'succeeded'",
                           timeout=60_000)
    assert page.eval_on_selector("#face-job progress", "el => el.value") == 100
    page.wait_for_function("() => document.querySelectorAll('#face-job .thumbs img').length === 3")
    page.wait_for_function("() => [...document.querySelectorAll('#face-job .thumbs img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)")
    href = page.get_attribute("#face-job a.download-all", "href")
    assert href.endswith("/zip")
    archive = page.context.request.get(f"{server}{href}")
    assert archive.status == 200 and archive.headers["content-type"] == "application/zip"
    assert len(zipfile.ZipFile(io.BytesIO(archive.body())).namelist()) == 3
    page.goto(f"{server}/jobs")
    assert page.locator(".job .status-succeeded").count() >= 1
    assert page.locator(".job .thumbs img").count() >= 3 and page.locator(".job a.download-all").count() >= 1
    page.context.close()


def test_jobs_page_shows_jobs_started_elsewhere(browser: Any, server: str) -> None:
    jobs = logged_in(browser, server)
    jobs.goto(f"{server}/jobs")
    jobs.wait_for_load_state("networkidle")
    before = jobs.locator("[data-job-id]").count()
    other = jobs.context.new_page()  # another tab of the same person
    other.goto(f"{server}/vision?tab=faces")
    photo = str(FIXTURES / "faces" / "group.jpg")
    other.set_input_files("#face-files", [photo, photo])
    other.click("#face-submit")
    job_id = other.wait_for_selector("#face-job [data-job-id]").get_attribute("data-job-id")
    row = jobs.wait_for_selector(f"#job-list [data-job-id='{job_id}']", timeout=15_000)  # no reload
    assert jobs.locator("[data-job-id]").count() == before + 1
    assert jobs.locator("#job-list [data-job-id]").first.get_attribute("data-job-id") == job_id  # newest first
    row_js = f"document.querySelector(\"[data-job-id='{job_id}']\")"
    jobs.wait_for_function(f"() => {row_js}.dataset.status === 'succeeded'", timeout=60_000)
    jobs.wait_for_function(f"() => document.querySelectorAll(\"[data-job-id='{job_id}'] .thumbs img\").length === 2")
    assert row.query_selector("a.download-all") is not None and row.query_selector("[data-cancel]") is None
    assert jobs.eval_on_selector(f"[data-job-id='{job_id}'] progress", "el => el.value") == 100
    jobs.context.close()


def test_mnist_samples_through_htmx(browser: Any, server: str) -> None:
    from boda.apps.vision.mnist import load_mnist

    _, labels = load_mnist("train")
    page = logged_in(browser, server, locale="ko-KR")
    page.goto(f"{server}/vision?tab=mnist")
    assert f"{len(labels):,}개" in page.text_content("#mnist-help")  # counted from the loaded set
    assert page.get_attribute("input[name=index]", "max") == str(len(labels) - 1)
    page.fill("input[name=index]", "7")
    page.click("#mnist-form button[type=submit]")
    sample = page.wait_for_selector("#mnist-result figure.mnist-sample")
    assert sample.get_attribute("data-label") == str(int(labels[7]))
    page.wait_for_function("() => document.querySelector('#mnist-result img').naturalWidth === 28")
    assert "정답" in sample.text_content()  # Korean UI
    page.fill("input[name=index]", "-1")
    page.click("#mnist-form button[type=submit]")
    alert = page.wait_for_selector("#mnist-error .alert")
    assert "잘못된 번호입니다: 0부터 59999까지" in alert.text_content()  # in the UI's language
    page.screenshot(path=str(SHOTS / "mnist-ko.png"), full_page=True)
    page.context.close()


def test_api_docs_render_offline(browser: Any, server: str) -> None:
    page = browser.new_page()
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url) if not request.url.startswith(server) else None)
    # Swagger UI draws a long document lazily (only what is in view): a deep link brings the tag into view.
    page.goto(f"{server}/docs#/vision")
    page.get_by_text("/api/v1/vision/digits", exact=True).first.wait_for()
    assert outside == []
    page.close()


def test_delete_has_an_undo(browser: Any, server: str) -> None:
    page = logged_in(browser, server)
    page.goto(f"{server}/vision?tab=faces")
    page.set_input_files("#face-files", str(FIXTURES / "faces" / "group.jpg"))
    page.click("#face-submit")
    page.wait_for_selector("img[data-testid=anonymized]")
    page.goto(f"{server}/vision?tab=faces")
    first = page.locator("[data-anonymization]").first
    item_id = first.get_attribute("data-anonymization")
    count = lambda: page.evaluate("fetch('/api/v1/vision/anonymizations').then(r => r.json()).then(b => b.total)")  # noqa: E731
    before = count()
    first.locator("button.remove").click()
    assert not first.is_visible() and page.locator("#undo-toast").is_visible()
    page.click("#undo")
    assert first.is_visible() and count() == before  # nothing was deleted
    first.locator("button.remove").click()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.wait_for_selector("#undo-toast", state="hidden", timeout=15_000)
    assert dialogs == []
    page.wait_for_function(f"() => !document.querySelector('[data-anonymization=\"{item_id}\"]')")
    assert count() == before - 1
    page.context.close()


def test_no_content_security_policy_violations(browser: Any, server: str) -> None:
    """Every page, the htmx fragment and the API docs run under the policy without a refusal."""
    page = logged_in(browser, server)
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    page.context.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Content Security Policy: ' + e.violatedDirective + ' ' + e.blockedURI))")
    for path in ("/", "/vision", "/vision?tab=faces", "/vision?tab=mnist", "/jobs", "/account", "/about",
                 "/nope", "/docs#/vision"):
        response = page.goto(f"{server}{path}")
        assert "script-src 'self'" in response.headers["content-security-policy"]
        page.wait_for_load_state("networkidle")
        if path == "/vision?tab=mnist":
            page.fill("input[name=index]", "7")
            page.click("#mnist-form button[type=submit]")
            page.wait_for_function("() => document.querySelector('#mnist-result img')?.naturalWidth === 28")
        if path.startswith("/docs"):
            page.get_by_text("/api/v1/vision/digits", exact=True).first.wait_for()
            page.get_by_text("/api/v1/vision/digits", exact=True).first.click()  # open one operation
            page.wait_for_timeout(300)
    assert refused == []
    page.context.close()


PHONE_PAGES = ("/", "/vision", "/vision?tab=faces", "/vision?tab=mnist", "/jobs", "/account", "/about")


@pytest.mark.parametrize("locale", ["en-US", "ko-KR"])
def test_phone_viewport_nothing_overflows(browser: Any, server: str, locale: str) -> None:
    """At 360-390 px nothing is wider than the screen, the nav never wraps inside a word, the pad still reads."""
    lang = locale[:2]
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (360, 375, 390):
        context = browser.new_context(locale=locale, viewport={"width": width, "height": 780}, has_touch=True,
                                      is_mobile=True, device_scale_factor=2)
        page = context.new_page()
        page.goto(f"{server}/login")
        check_fits(page, f"/login at {width} px ({lang})")
        page.fill("input[name=username]", "minji")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        for path in PHONE_PAGES:
            page.goto(f"{server}{path}")
            page.wait_for_load_state("networkidle")
            check_fits(page, f"{path} at {width} px ({lang})")
            if width == 375:
                name = path.strip("/").replace("?tab=", "-") or "home"
                page.screenshot(path=str(SHOTS / f"phone-{name}-{lang}.png"), full_page=True)
        page.goto(f"{server}/vision")
        pad = page.locator("#pad").bounding_box()
        assert pad["width"] <= width - 20  # scaled down to the screen, drawable
        stroke(page, [(200, 40), (360, 40), (260, 250)])  # a 7, in canvas units
        page.uncheck("#pad-multi")
        page.click("#pad-read")
        page.wait_for_function("() => /^[0-9]$/.test(document.querySelector('#digit-text').textContent)")
        assert page.text_content("#digit-text") == "7"
        context.close()
    page = browser.new_context(locale=locale, viewport={"width": 375, "height": 780}).new_page()
    page.goto(f"{server}/login")
    check_fits(page, f"/login at 375 px ({lang})")
    page.screenshot(path=str(SHOTS / f"phone-login-{lang}.png"), full_page=True)
    page.context.close()


def check_fits(page: Any, where: str) -> None:
    wide = page.evaluate("""() => {
        const width = window.innerWidth;
        const over = [...document.querySelectorAll('body *')].filter(el => {
            const r = el.getBoundingClientRect();
            if (!r.width || getComputedStyle(el).visibility === 'hidden') return false;
            let p = el.parentElement;  // what sits inside a scrolling strip (nav, tabs) may run past the edge
            while (p && p !== document.body) {
                if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return false;
                p = p.parentElement;
            }
            return r.right > width + 0.5 || r.left < -0.5;
        }).map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + (el.className ? '.' + el.className : ''));
        return {scroll: document.documentElement.scrollWidth, width, over};
    }""")
    assert wide["scroll"] <= wide["width"] and not wide["over"], f"{where}: {wide}"
    # The navigation's links each stay on one line (no letter-by-letter wrap).
    heights = page.eval_on_selector_all(".topbar nav a", "els => els.map(a => [a.textContent.trim(), "
                                        "a.getClientRects().length, a.getBoundingClientRect().height])")
    assert all(rects == 1 and height < 40 for _, rects, height in heights), f"{where}: {heights}"


def test_share_an_anonymised_photo_by_link(browser: Any, server: str) -> None:
    page = logged_in(browser, server)
    page.goto(f"{server}/vision?tab=faces")
    page.set_input_files("#face-files", str(FIXTURES / "faces" / "astronaut.jpg"))
    page.click("#face-submit")
    page.wait_for_selector("img[data-testid=anonymized]")
    page.click("#face-result [data-share-file]")
    page.wait_for_selector("#share-dialog[open]")
    assert page.locator("#share-form input[value=private]").is_checked()
    page.check("#share-form input[value=unlisted]")
    page.click("#share-save")
    page.wait_for_selector("#share-link-field:not([hidden])")
    link = page.input_value("#share-form input[name=link]")
    assert "/api/v1/shared/" in link
    anonymous = browser.new_context()
    assert anonymous.request.get(link).status == 200  # anyone with the link sees the copy
    page.check("#share-form input[value=private]")
    page.click("#share-save")
    page.wait_for_selector("#share-link-field[hidden]", state="attached")
    assert anonymous.request.get(link).status == 404  # and no one once it is private again
    anonymous.close()
    page.context.close()


def test_change_password_and_revoke_a_token_on_the_account_page(browser: Any, server: str) -> None:
    page = logged_in(browser, server)
    page.goto(f"{server}/account")
    page.fill("#token-form input[name=name]", "browser test")
    page.click("#token-form button[type=submit]")
    secret = page.wait_for_selector("#token-secret:not([hidden])").text_content()
    page.reload()
    page.on("dialog", lambda d: d.accept())
    page.click("tr:has-text('browser test') [data-revoke]")
    page.wait_for_selector("tr:has-text('browser test')", state="detached")
    assert page.context.request.get(f"{server}/api/v1/users/me",
                                    headers={"Authorization": f"Bearer {secret}"}).status == 401
    page.fill("#password-form input[name=current_password]", PASSWORD)
    page.fill("#password-form input[name=new_password]", "a changed password")
    page.fill("#password-form input[name=repeat]", "a changed password")
    page.click("#password-form button[type=submit]")
    page.wait_for_selector("#password-result:not([hidden])")
    assert "Password changed" in page.text_content("#password-result")
    page.fill("#password-form input[name=current_password]", "a changed password")  # and back, for other tests
    page.fill("#password-form input[name=new_password]", PASSWORD)
    page.fill("#password-form input[name=repeat]", PASSWORD)
    page.click("#password-form button[type=submit]")
    page.wait_for_function("() => !document.querySelector('#password-form input[name=current_password]').value")
    page.context.close()


def test_a_video_shows_progress_and_plays_anonymised(browser: Any, server: str, tmp_path: Path) -> None:
    from tests.apps.vision.clips import make_clip

    clip = tmp_path / "walk.webm"  # WebM stays WebM (VP9 + Opus): every Chromium build plays it
    make_clip(clip, container="webm", seconds=1.0)
    page = logged_in(browser, server)
    page.goto(f"{server}/vision?tab=videos")
    page.set_input_files("#video-file", str(clip))
    page.click("#video-submit")
    page.wait_for_selector("#video-job [data-job-id] progress")
    page.wait_for_function("() => document.querySelector('#video-job [data-job-id]').dataset.status === 'succeeded'",
                           timeout=60_000)
    assert page.eval_on_selector("#video-job progress", "el => el.value") == 100
    player = page.wait_for_selector("video[data-testid=video-player]")
    assert "/api/v1/vision/videos/" in player.get_attribute("src")
    page.wait_for_function("() => { const v = document.querySelector('video[data-testid=video-player]');"
                           " return v.readyState >= 2 && v.videoWidth === 320 && v.videoHeight === 240; }",
                           timeout=20_000)
    assert page.eval_on_selector("video[data-testid=video-player]", "v => Math.round(v.duration)") == 1
    assert "10 frames" in page.text_content("#video-result")
    page.screenshot(path=str(SHOTS / "video.png"), full_page=True)
    page.goto(f"{server}/jobs")  # the Jobs page plays it too
    page.wait_for_function("() => [...document.querySelectorAll('.job video.result-video')]"
                           ".some(v => v.readyState >= 1 && v.videoWidth === 320)", timeout=20_000)
    page.context.close()
