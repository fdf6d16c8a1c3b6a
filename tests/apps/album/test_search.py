"""Album search on real photos: Korean and English sentences, words in photos, similar photos, privacy.

The photos are real ones that ship with scikit-image; indexing runs the offline concepts
backend (EfficientNet-Lite0, YOLOX-nano, a multilingual text encoder), Tesseract and the
face detector, exactly as a user's server does. The Universal Sentence Encoder alone is
used as the text encoder to keep the tests quick (the combined default is measured in
bench/album_quality.py and tested in tests/ai/test_concepts.py).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageDraw, ImageFont
from skimage import data as skdata

from boda.apps.album import search
from boda.core.runtime import Runtime
from boda.web.app import create_app
from tests.conftest import Account, make_account, make_settings

API = "/api/v1/album"
FONT = Path(__file__).parents[3] / "boda/web/static/vendor/pretendard/PretendardVariable.woff2"


def jpeg(image: Image.Image | np.ndarray) -> bytes:
    picture = image if isinstance(image, Image.Image) else Image.fromarray(image)
    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def sign(words: str) -> bytes:
    """A shop sign: dark words on a light board, as OCR meets them on a street."""
    board = Image.new("RGB", (640, 240), (245, 240, 225))
    draw = ImageDraw.Draw(board)
    draw.text((40, 70), words, font=ImageFont.truetype(str(FONT), 72), fill=(30, 30, 30))
    return jpeg(board)


@pytest.fixture(scope="module")
def album(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, Runtime, Account, Account, dict[str, str]]:
    """One server for the module: alice's photos indexed once (the models load once)."""
    tmp = tmp_path_factory.mktemp("album-search")
    settings = make_settings(tmp, f"sqlite:///{tmp / 'boda.db'}", ai={
        "models_dir": tmp / "models", "threads": 1, "downloads": False, "text_encoder": "use-m"})
    with TestClient(create_app(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        alice, bob = make_account(runtime, client, "alice"), make_account(runtime, client, "bob")
        files = {"cat": jpeg(skdata.chelsea()), "coffee": jpeg(skdata.coffee()),
                 "astronaut": jpeg(skdata.astronaut()), "motorcycle": jpeg(skdata.stereo_motorcycle()[0]),
                 "bakery": sign("BAKERY 빵집")}
        response = alice.post(f"{API}/photos", files=[("files", (f"{k}.jpg", v)) for k, v in files.items()])
        assert response.status_code == 201, response.text
        ids = {name: photo["id"] for name, photo in zip(files, response.json(), strict=True)}
        # The upload names its indexing job (a header: the body stays the list of photos).
        job = alice.get(f"/api/v1/jobs/{response.headers['X-Boda-Job-Id']}").json()
        assert job["kind"] == "album.index" and job["status"] == "succeeded", job
        yield client, runtime, alice, bob, ids


def top(account: Account, query: str, **params: object) -> list[str]:
    response = account.get(f"{API}/search", params={"q": query, **params})
    assert response.status_code == 200, response.text
    return [item["photo"]["id"] for item in response.json()["items"]]


@pytest.mark.parametrize(("query", "expected"), [
    ("a cat", "cat"), ("고양이", "cat"),
    ("a cup of coffee", "coffee"), ("커피 한 잔", "coffee"),
    ("a red motorcycle", "motorcycle"), ("오토바이", "motorcycle"),
])
def test_a_sentence_in_either_language_finds_the_photo(album, query: str, expected: str) -> None:  # noqa: ANN001
    _, _, alice, _, ids = album
    assert top(alice, query, limit=5)[0] == ids[expected]


def test_words_written_in_a_photo_find_it(album) -> None:  # noqa: ANN001
    _, _, alice, _, ids = album
    detail = alice.get(f"{API}/photos/{ids['bakery']}").json()
    assert "BAKERY" in (detail["ocr_text"] or "")
    response = alice.get(f"{API}/search", params={"q": "bakery"}).json()
    assert response["items"][0]["photo"]["id"] == ids["bakery"]
    assert "text" in response["items"][0]["matched"]
    assert top(alice, "빵집")[0] == ids["bakery"]
    assert alice.get(f"{API}/photos", params={"has_text": True}).json()["total"] == 1


def test_indexing_records_backend_caption_faces_and_auto_tags(album) -> None:  # noqa: ANN001
    _, runtime, alice, _, ids = album
    cat = alice.get(f"{API}/photos/{ids['cat']}").json()
    assert cat["indexed_at"] and cat["caption"] and "cat" in cat["caption"].lower()
    assert any(t["source"] == "auto" and "cat" in t["name"] for t in cat["tags"])
    assert alice.get(f"{API}/photos/{ids['astronaut']}").json()["faces_count"] == 1
    response = alice.get(f"{API}/search", params={"q": "cat"}).json()
    assert response["backend"].startswith("concepts:") and response["pending"] == 0
    # Tags made by indexing filter the library like a user's own.
    tagged = alice.get(f"{API}/photos", params={"tag": next(t["name"] for t in cat["tags"] if t["source"] == "auto")})
    assert ids["cat"] in [p["id"] for p in tagged.json()["items"]]


def test_similar_photos_and_a_query_photo(album) -> None:  # noqa: ANN001
    _, _, alice, _, ids = album
    similar = alice.get(f"{API}/photos/{ids['cat']}/similar").json()
    found = [item["photo"]["id"] for item in similar["items"]]
    assert ids["cat"] not in found and len(found) == 4
    scores = [item["score"] for item in similar["items"]]
    assert scores == sorted(scores, reverse=True)
    cat_crop = Image.fromarray(skdata.chelsea()).crop((60, 20, 400, 300))
    by_photo = alice.post(f"{API}/search/by-photo", files={"file": ("q.jpg", jpeg(cat_crop))})
    assert by_photo.status_code == 200, by_photo.text
    assert by_photo.json()["items"][0]["photo"]["id"] == ids["cat"]


def test_private_photos_never_reach_another_user(album) -> None:  # noqa: ANN001
    _, _, alice, bob, ids = album
    assert top(bob, "a cat") == [] and top(bob, "bakery") == []
    assert bob.get(f"{API}/photos/{ids['cat']}/similar").status_code == 404
    assert bob.get(f"{API}/photos/{ids['cat']}/thumbnail").status_code == 404
    # Bob's own photo is found by Bob, and never shows Alice's closer matches.
    upload = bob.post(f"{API}/photos", files={"files": ("mine.jpg", jpeg(skdata.chelsea()[::2, ::2]))})
    assert upload.status_code == 201
    mine = upload.json()[0]["id"]
    assert top(bob, "고양이") == [mine]
    assert mine not in top(alice, "고양이")
    similar = bob.get(f"{API}/photos/{mine}/similar").json()
    assert similar["items"] == []


@pytest.mark.parametrize(("share", "fetch", "allowed_ids"), [
    (0.0, 32, False),  # rank the whole space, then keep what the caller may see
    (0.0, 1, True),  # the same, coming back short: falls back to handing the store the allowed ids
    (1.01, 32, True),  # always hand the store the allowed ids
])
def test_every_search_plan_finds_the_same_and_shows_nothing_private(
        album, monkeypatch, share: float, fetch: int, allowed_ids: bool) -> None:  # noqa: ANN001
    client, runtime, alice, _, ids = album
    # A stranger with a private cat of her own: the space holds photos neither may see of the other.
    carol = make_account(runtime, client, f"carol{fetch}{int(share * 100)}")
    upload = carol.post(f"{API}/photos", files={"files": ("mine.jpg", jpeg(skdata.chelsea()[::2, ::2]))})
    assert upload.status_code == 201
    hers = upload.json()[0]["id"]
    expected = top(alice, "a cat", limit=10), top(alice, "bakery", limit=10)
    monkeypatch.setattr(search, "POST_FILTER_SHARE", share)
    monkeypatch.setattr(search, "MIN_FETCH", fetch)
    monkeypatch.setattr(search, "OVERFETCH", 0.0 if fetch == 1 else 1.5)
    calls: list[int] = []
    indexed_ids = search._indexed_ids
    monkeypatch.setattr(search, "_indexed_ids", lambda *args: calls.append(1) or indexed_ids(*args))
    assert (top(alice, "a cat", limit=10), top(alice, "bakery", limit=10)) == expected
    assert bool(calls) is allowed_ids  # the plan asked for is the plan that ran
    assert expected[0][0] == ids["cat"] and set(expected[0]) == set(ids.values())  # all five, the cat first
    assert top(carol, "a cat", limit=10) == [hers]
    similar = alice.get(f"{API}/photos/{ids['cat']}/similar", params={"limit": 10}).json()["items"]
    assert {item["photo"]["id"] for item in similar} == set(ids.values()) - {ids["cat"]}


def test_filters_narrow_a_search_and_bad_queries_say_why(album) -> None:  # noqa: ANN001
    _, _, alice, _, ids = album
    alice.patch(f"{API}/photos/{ids['coffee']}", json={"favorite": True})
    assert top(alice, "a cat", favorite=True) == [ids["coffee"]]  # only favourites are ranked
    by_photo = alice.post(f"{API}/search/by-photo", params={"favorite": True},
                          files={"file": ("q.jpg", jpeg(skdata.chelsea()))}).json()
    assert [item["photo"]["id"] for item in by_photo["items"]] == [ids["coffee"]]  # a query photo obeys them too
    assert alice.get(f"{API}/search", params={"q": "   "}).status_code == 400
    assert alice.get(f"{API}/search", params={"q": "x" * 501}).status_code == 422
    broken = alice.post(f"{API}/search/by-photo", files={"file": ("q.jpg", b"not an image")})
    assert broken.status_code in (400, 415) and broken.json()["error"]["message"]


def test_trashed_photos_leave_search_and_come_back(album) -> None:  # noqa: ANN001
    _, _, alice, _, ids = album
    assert alice.delete(f"{API}/photos/{ids['motorcycle']}").status_code == 204
    assert ids["motorcycle"] not in top(alice, "a red motorcycle")
    assert alice.post(f"{API}/photos/{ids['motorcycle']}/restore").status_code == 200
    assert top(alice, "a red motorcycle")[0] == ids["motorcycle"]


def test_sort_by_date_puts_the_best_matches_newest_first(album) -> None:  # noqa: ANN001
    _, _, alice, _, ids = album
    years = {"cat": 2003, "coffee": 2019, "astronaut": 2011, "motorcycle": 2024, "bakery": 2007}
    for name, year in years.items():
        taken = f"{year}-06-01T12:00:00+00:00"
        assert alice.patch(f"{API}/photos/{ids[name]}", json={"taken_at": taken}).status_code == 200
    relevance = top(alice, "a cat", limit=5)
    assert relevance[0] == ids["cat"]
    by_date = top(alice, "a cat", limit=5, sort="date")
    assert sorted(by_date) == sorted(relevance)  # the same photos ...
    assert by_date == sorted(relevance, key=lambda pid: -years[next(k for k, v in ids.items() if v == pid)])
    paged = top(alice, "a cat", limit=2, offset=2, sort="date")
    assert paged == by_date[2:4]
    assert alice.get(f"{API}/search", params={"q": "cat", "sort": "size"}).status_code == 422
