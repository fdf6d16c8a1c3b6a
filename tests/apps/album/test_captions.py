"""Captions and "ask this photo" through the real openai SDK against a local server speaking its protocol.

One server for the module: Alice's photos are uploaded and indexed once (the offline concepts
backend, Tesseract and the face detector run as on a user's server), and `llm.provider = openai`
points at tests/ai/openai_server.py, which records every request it is sent.
"""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFont
from sqlalchemy import update

from boda.apps.album import captions
from boda.apps.album.captions import ocr_words
from boda.apps.album.indexing import queue_stale
from boda.apps.album.models import Photo
from boda.core.auth import Scope
from boda.core.errors import NotFound
from boda.core.runtime import Runtime
from boda.web.app import create_app
from tests.ai.openai_server import ChatServer
from tests.apps.album.images import encode, picture
from tests.conftest import Account, make_account, make_settings

API = "/api/v1/album"
FONT = Path(__file__).parents[3] / "boda/web/static/vendor/pretendard/PretendardVariable.woff2"
SIGN_AT = (40, 70)  # where the words are drawn on a 640 x 240 board


def sign(words: str) -> bytes:
    board = Image.new("RGB", (640, 240), (245, 240, 225))
    ImageDraw.Draw(board).text(SIGN_AT, words, font=ImageFont.truetype(str(FONT), 72), fill=(30, 30, 30))
    buffer = io.BytesIO()
    board.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def album(tmp_path_factory: pytest.TempPathFactory, chat_server: ChatServer
          ) -> Iterator[tuple[TestClient, Runtime, Account, Account, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("album-captions")
    settings = make_settings(
        tmp, f"sqlite:///{tmp / 'boda.db'}",
        ai={"models_dir": tmp / "models", "threads": 1, "downloads": False, "text_encoder": "use-m"},
        llm={"provider": "openai", "base_url": chat_server.url, "model": "text-model", "vision_model": "vision-model",
             "api_key": "sk-test", "max_retries": 0, "timeout_seconds": 10})
    with TestClient(create_app(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        alice, bob = make_account(runtime, client, "alice"), make_account(runtime, client, "bob")
        files = {"sign": sign("BAKERY 빵집"), "door": encode(picture(7, (320, 200)), "JPEG", quality=90)}
        response = alice.post(f"{API}/photos", files=[("files", (f"{k}.jpg", v)) for k, v in files.items()])
        assert response.status_code == 201, response.text
        yield client, runtime, alice, bob, {k: p["id"] for k, p in zip(files, response.json(), strict=True)}


@pytest.fixture
def fake(chat_server: ChatServer) -> ChatServer:
    chat_server.reset()
    return chat_server


def finished(account: Account, job: dict[str, Any], timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = account.get(f"/api/v1/jobs/{job['id']}").json()
        if row["status"] in ("succeeded", "failed", "canceled"):
            return row
        time.sleep(0.05)
    raise AssertionError(f"job {job['id']} did not finish: {row}")


def image_parts(body: dict[str, Any]) -> list[str]:
    users = [m for m in body["messages"] if m["role"] == "user"]
    return [p["image_url"]["url"] for p in users[-1]["content"] if p["type"] == "image_url"]


def test_a_caption_job_stores_the_models_caption_and_search_finds_it(album, fake: ChatServer) -> None:  # noqa: ANN001
    _, runtime, alice, _, ids = album
    before = alice.get(f"{API}/photos/{ids['door']}").json()
    assert before["caption_source"] == "concepts" and before["index_backend"].startswith("concepts:")
    fake.script.append({"content": '"A blue garden gate beside a lemon tree."\n'})
    response = alice.post(f"{API}/photos/{ids['door']}/caption", json={"language": "en"})
    assert response.status_code == 202, response.text
    assert response.json()["kind"] == "album.caption"
    job = finished(alice, response.json())
    assert job["status"] == "succeeded", job
    caption = "A blue garden gate beside a lemon tree."
    assert job["result"]["captions"] == {ids["door"]: caption}
    # What the endpoint got: the vision model, an English system prompt, the photo as a JPEG data URL.
    body = fake.last
    assert body["model"] == "vision-model"
    assert body["messages"][0]["role"] == "system" and "English" in body["messages"][0]["content"]
    [url] = image_parts(body)
    assert url.startswith("data:image/jpeg;base64,")
    sent = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert sent.size == (320, 200)
    after = alice.get(f"{API}/photos/{ids['door']}").json()
    assert after["caption"] == caption and after["caption_source"] == "llm:vision-model"
    found = alice.get(f"{API}/search", params={"q": "lemon tree"}).json()
    assert found["items"][0]["photo"]["id"] == ids["door"] and "text" in found["items"][0]["matched"]
    page = alice.get(f"/album/photos/{ids['door']}")
    assert page.status_code == 200 and caption in page.text and "written by vision-model" in page.text
    assert after["index_backend"] in page.text
    # A re-index (another backend was set meanwhile) keeps the model's caption.
    with runtime.db.session() as session:
        session.execute(update(Photo).where(Photo.id == ids["door"]).values(index_key="clip:old"))
        session.commit()
        assert queue_stale(session, runtime) == 1  # jobs run inline in tests
    again = alice.get(f"{API}/photos/{ids['door']}").json()
    assert again["index_backend"] == before["index_backend"] and again["caption"] == caption


def test_a_korean_caption_is_asked_in_korean(album, fake: ChatServer) -> None:  # noqa: ANN001
    _, _, alice, _, ids = album
    fake.script.append({"content": "빵집 간판"})
    response = alice.post(f"{API}/photos/{ids['sign']}/caption", json={"language": "ko"})
    assert finished(alice, response.json())["status"] == "succeeded"
    assert "한국어" in fake.last["messages"][0]["content"]
    assert alice.get(f"{API}/photos/{ids['sign']}").json()["caption"] == "빵집 간판"


def test_ask_returns_the_answer_to_anyone_who_may_see_the_photo(album, fake: ChatServer) -> None:  # noqa: ANN001
    _, runtime, alice, bob, ids = album
    assert bob.post(f"{API}/photos/{ids['sign']}/ask", json={"question": "What shop?"}).status_code == 404
    assert fake.requests == []  # nothing about a photo Bob may not see went to the model
    assert alice.patch(f"{API}/photos/{ids['sign']}", json={"visibility": "public"}).status_code == 200
    fake.script.append({"content": "It is a bakery."})
    response = bob.post(f"{API}/photos/{ids['sign']}/ask", json={"question": "  What shop is this?", "language": "en"})
    assert response.status_code == 202, response.text
    job = finished(bob, response.json())
    assert job["status"] == "succeeded" and job["result"]["answer"] == "It is a bakery."
    assert fake.last["messages"][-1]["content"][0] == {"type": "text", "text": "What shop is this?"}
    assert len(image_parts(fake.last)) == 1
    # The answer is the job's, and the job is the asker's: Alice never sees Bob's question.
    assert alice.get(f"/api/v1/jobs/{job['id']}").status_code == 404
    # Reading is not owning: only Alice captions her photo.
    assert bob.post(f"{API}/photos/{ids['sign']}/caption", json={"language": "en"}).status_code == 404
    assert alice.patch(f"{API}/photos/{ids['sign']}", json={"visibility": "private"}).status_code == 200
    assert bob.post(f"{API}/photos/{ids['sign']}/ask", json={"question": "Again?"}).status_code == 404
    assert alice.post(f"{API}/photos/{ids['sign']}/ask", json={"question": "   "}).status_code == 422
    # A question asked while the photo was public but run after it went private (a busy queue) is refused
    # when it runs, before the photo reaches the model.
    asked = len(fake.requests)
    with runtime.db.session() as session, pytest.raises(NotFound):
        captions.ask_photo(session, runtime, Scope(user_id=bob.id), ids["sign"], "Still?", "en")
    assert len(fake.requests) == asked


@pytest.mark.parametrize(("step", "said"), [
    ({"status": 429, "headers": {"retry-after": "7"}}, "rate limited (429); try again in 7 s"),
    ({"status": 500}, "failed (500)"),
])
def test_a_failing_endpoint_fails_the_job_with_a_readable_error(album, fake: ChatServer, step: dict[str, Any],  # noqa: ANN001
                                                                said: str) -> None:
    _, _, alice, _, ids = album
    caption = alice.get(f"{API}/photos/{ids['door']}").json()["caption"]
    fake.script.append(step)
    response = alice.post(f"{API}/photos/{ids['door']}/caption", json={"language": "en"})
    job = finished(alice, response.json())
    assert job["status"] == "failed" and said in job["error"] and job["attempts"] == 1, job
    assert alice.get(f"{API}/photos/{ids['door']}").json()["caption"] == caption  # the last good one stays
    fake.script.append(step)
    asked = finished(alice, alice.post(f"{API}/photos/{ids['door']}/ask", json={"question": "Why?"}).json())
    assert asked["status"] == "failed" and said in asked["error"]


def test_ocr_words_come_as_boxes_in_fractions_of_the_photo(album) -> None:  # noqa: ANN001
    _, _, alice, _, ids = album
    words = alice.get(f"{API}/photos/{ids['sign']}").json()["ocr_words"]
    assert any("BAKERY" in w["text"] for w in words), words
    for word in words:
        x, y, w, h = word["box"]
        assert 0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 - x and 0 < h <= 1 - y, word
    bakery = next(w for w in words if "BAKERY" in w["text"])
    # Drawn at (40, 70) on 640 x 240: the box starts there, whatever size the models saw.
    assert abs(bakery["box"][0] - SIGN_AT[0] / 640) < 0.03 and abs(bakery["box"][1] - SIGN_AT[1] / 240) < 0.1
    page = alice.get(f"/album/photos/{ids['sign']}").text
    assert 'class="ocr-box"' in page and "BAKERY" in page and 'style="' not in page
    assert alice.get(f"{API}/photos/{ids['door']}").json()["ocr_words"] == []


def test_with_no_llm_the_api_says_so_in_english_and_korean(client: TestClient, alice: Account) -> None:
    upload = alice.post(f"{API}/photos", files={"files": ("p.jpg", encode(picture(3), "JPEG"))})
    photo = upload.json()[0]["id"]
    response = alice.post(f"{API}/photos/{photo}/caption", json={"language": "en"})
    assert response.status_code == 503
    error = response.json()["error"]
    assert "No LLM is configured" in error["message"] and "llm.provider" in error["message"]
    korean = alice.post(f"{API}/photos/{photo}/ask", json={"question": "뭐예요?"}, headers={"Accept-Language": "ko"})
    assert korean.status_code == 503 and "설정된 LLM이 없습니다" in korean.json()["error"]["message"]
    assert alice.get(f"{API}/photos/{photo}").json()["caption_source"] in ("concepts", None)
    page = alice.get(f"/album/photos/{photo}").text
    assert "Captions and questions need an LLM" in page


def test_boxes_stored_in_pixels_before_are_read_as_fractions() -> None:
    """Photos indexed when boxes were pixels of the photo scaled to 1024 on its long side."""
    photo = Photo(width=2048, height=1024, concepts=[
        {"kind": "ocr", "label": "EXIT", "weight": 0.9, "box": [512, 256, 100, 50]},
        {"kind": "ocr", "label": "NEW", "weight": 0.8, "box": [0.25, 0.5, 0.1, 0.05]},
        {"kind": "object", "label": "a door", "weight": 0.7, "box": [1, 2, 3, 4]}])
    assert ocr_words(photo) == [{"text": "EXIT", "box": [0.5, 0.5, 0.09766, 0.09766], "confidence": 0.9},
                                {"text": "NEW", "box": [0.25, 0.5, 0.1, 0.05], "confidence": 0.8}]
