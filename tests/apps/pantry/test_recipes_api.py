"""Pantry's recipe API: import, what can I cook, the LLM recommendation, cooking, the shopping list."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from boda.web.app import create_app
from tests.ai.openai_server import ChatServer
from tests.conftest import FIXTURES, PASSWORD, Account, make_account, make_settings

API = "/api/v1/pantry"
PAGES = FIXTURES / "recipes"
GOOD = {"recipe_name": "삼겹살 덮밥", "recipe_ingredients": ["삼겹살", "양파", "대파", "밥", "간장"],
        "recipes": ["양파를 채 썬다.", "삼겹살을 굽는다.", "간장 소스에 조린다.", "밥 위에 올린다."]}
EXCLUDED = {"recipe_name": "양파조림", "recipe_ingredients": ["양파", "간장"], "recipes": ["양파를 조린다."]}


def household(account: Account) -> str:
    response = account.post("/api/v1/households", json={"name": "Home"})
    assert response.status_code == 201, response.text
    account.post(f"{API}/places", json={"household_id": response.json()["id"], "name": "Fridge", "kind": "fridge"})
    return response.json()["id"]


def add(account: Account, name: str, **body: object) -> dict:
    response = account.post(f"{API}/items", json={"name": name, **body})
    assert response.status_code == 201, response.text
    return response.json()["item"]


def upload(account: Account, page: str, url: str | None = None, **form: str) -> object:
    data = {"url": url, **form} if url else form
    return account.client.post(f"{API}/recipes/import", headers=account.headers,
                               files={"file": (page, (PAGES / page).read_bytes(), "text/html")}, data=data)


def test_import_saved_pages_and_refuse_what_is_not_a_recipe(alice: Account) -> None:
    made = upload(alice, "samgyeopsal-deopbap.ko.html", "https://jipbap.example.kr/recipes/samgyeopsal-deopbap")
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["title"] == "삼겹살 덮밥" and len(body["steps"]) == 5 and len(body["ingredients"]) == 11
    assert body["ingredients"][0]["text"] == "삼겹살 300g" and body["ingredients"][0]["unit"] == "g"
    assert body["source_url"] == "https://jipbap.example.kr/recipes/samgyeopsal-deopbap"
    assert alice.get(f"{API}/recipes/{body['id']}").json()["title"] == "삼겹살 덮밥"  # stored
    english = upload(alice, "shakshuka.en.html")
    assert english.status_code == 201 and english.json()["title"] == "Easy Shakshuka"

    none = upload(alice, "no-recipe.en.html", "https://weeknightpan.example.com/fridge-tips/")
    assert none.status_code == 400 and "no recipe" in none.json()["error"]["message"]
    png = alice.client.post(f"{API}/recipes/import", headers=alice.headers,
                            files={"file": ("x.png", (FIXTURES / "faces" / "astronaut.jpg").read_bytes()[:5000])})
    assert png.status_code == 415, png.text
    offline = alice.post(f"{API}/recipes/import", json={"url": "ftp://nowhere.invalid/x"})
    assert offline.status_code == 400  # only http(s) pages, said by the schema
    inside = alice.post(f"{API}/recipes/import", json={"url": "http://127.0.0.1:9/recipe"})
    assert inside.status_code == 403  # never the server's own network
    unreachable = alice.post(f"{API}/recipes/import", json={"url": "https://no-such-host.invalid/recipe"})
    assert unreachable.status_code == 503
    assert alice.get(f"{API}/recipes", params={"which": "mine"}).json()["total"] == 2


def test_visibility_and_household_isolation(alice: Account, bob: Account) -> None:
    hid = household(alice)
    mine = alice.post(f"{API}/recipes", json={"title": "Secret kimchi stew", "steps": ["Boil."],
                                              "ingredients": ["김치 200g", "돼지고기 100g"]}).json()
    shared = alice.post(f"{API}/recipes", json={"title": "Family soup", "ingredients": ["2 onions"],
                                                "visibility": "household", "household_id": hid}).json()
    public = alice.post(f"{API}/recipes", json={"title": "Public toast", "ingredients": ["2 slices bread"],
                                                "visibility": "public"}).json()
    assert bob.get(f"{API}/recipes/{mine['id']}").status_code == 404
    assert bob.get(f"{API}/recipes/{shared['id']}").status_code == 404
    assert bob.get(f"{API}/recipes/{public['id']}").status_code == 200
    assert bob.patch(f"{API}/recipes/{public['id']}", json={"title": "Mine now"}).status_code == 404
    assert [r["title"] for r in bob.get(f"{API}/recipes").json()["items"]] == ["Public toast"]
    household(bob)
    assert bob.post(f"{API}/recipes/{mine['id']}/cook/preview", json={}).status_code == 404
    assert bob.post(f"{API}/recipes/{mine['id']}/cook", json={}).status_code == 404
    assert bob.post(f"{API}/recipes/{public['id']}/cook/preview", json={"household_id": hid}).status_code == 409
    line = alice.post(f"{API}/shopping", json={"name": "milk"}).json()
    assert bob.patch(f"{API}/shopping/{line['id']}", json={"done": True}).status_code == 404
    assert bob.get(f"{API}/shopping").json() == []
    found = alice.get(f"{API}/search/recipes", params={"q": "kimchi"}).json()
    assert found[0]["title"] == "Secret kimchi stew" and found[0]["source"] == "household"
    assert all(f["id"] != mine["id"] for f in bob.get(f"{API}/search/recipes", params={"q": "kimchi"}).json())


def test_what_can_i_cook_ranks_a_recipe_in_stock_first_with_attribution(alice: Account) -> None:
    household(alice)
    for name in ("삼겹살", "양파", "대파", "간장"):
        add(alice, name)
    lines = ["삼겹살 300g", "양파 1개", "대파 1대", "간장 2큰술"]
    own = alice.post(f"{API}/recipes", json={"title": "우리집 삼겹살 볶음", "ingredients": lines}).json()
    ranked = alice.get(f"{API}/cook", params={"limit": 10}).json()
    assert ranked[0]["id"] == own["id"] and ranked[0]["source"] == "household" and ranked[0]["coverage"] == 1.0
    corpus = [r for r in ranked if r["source"] == "corpus"]
    assert corpus and all("CC BY-SA 4.0" in r["attribution"] and r["url"].startswith("https://en.wikibooks.org/")
                          for r in corpus)
    left = alice.get(f"{API}/cook", params={"exclude": "우리집 삼겹살 볶음"}).json()
    assert all(r["id"] != own["id"] for r in left)


def test_cook_preview_then_cook_reduces_stock_shops_the_missing_and_undo_restores(alice: Account) -> None:
    household(alice)
    pork = add(alice, "삼겹살", quantity=600, unit="g")
    onion = add(alice, "양파", quantity=3, unit="개")
    recipe = alice.post(f"{API}/recipes", json={"title": "덮밥", "ingredients": [
        "삼겹살 300g", "양파 1개", "표고버섯 2개", "소금 약간"]}).json()
    preview = alice.post(f"{API}/recipes/{recipe['id']}/cook/preview", json={}).json()
    assert {(u["item_id"], u["quantity"]) for u in preview["uses"]} == {(pork["id"], 300.0), (onion["id"], 1.0)}
    assert [m["name"] for m in preview["missing"]] == ["표고버섯"] and preview["staples"] == ["소금 약간"]
    assert alice.get(f"{API}/items/{pork['id']}").json()["quantity"] == 600  # a preview changes nothing

    cooked = alice.post(f"{API}/recipes/{recipe['id']}/cook", json={})
    assert cooked.status_code == 200, cooked.text
    events = cooked.json()["events"]
    assert [e["action"] for e in events] == ["consume", "consume"]
    assert alice.get(f"{API}/items/{pork['id']}").json()["quantity"] == 300
    assert alice.get(f"{API}/items/{onion['id']}").json()["quantity"] == 2
    shopping = alice.get(f"{API}/shopping").json()
    assert [(s["name"], s["quantity"], s["unit"], s["recipe_id"]) for s in shopping] == [
        ("표고버섯", 2.0, "개", recipe["id"])]
    done = alice.patch(f"{API}/shopping/{shopping[0]['id']}", json={"done": True}).json()
    assert done["done"] is True

    for event in reversed(events):
        assert alice.post(f"{API}/undo", json={"event_id": event["id"]}).status_code == 200
    assert alice.get(f"{API}/items/{pork['id']}").json()["quantity"] == 600
    assert alice.get(f"{API}/items/{onion['id']}").json()["quantity"] == 3


def test_recommend_without_a_model_is_503_with_the_reason(alice: Account) -> None:
    response = alice.post(f"{API}/recommend", json={"ingredients": ["양파"], "except_recipe": []})
    assert response.status_code == 503 and response.json()["error"]["message"]
    stream = alice.post(f"{API}/recommend/stream", json={"ingredients": ["양파"]})
    assert stream.status_code == 503


@pytest.fixture
def llm(chat_server: ChatServer, tmp_path: Path, db_url: str) -> Iterator[tuple[ChatServer, Account]]:
    chat_server.reset()
    settings = make_settings(tmp_path, db_url, llm={"provider": "openai", "base_url": chat_server.url,
                                                    "model": "text-model", "api_key": "sk-test", "max_retries": 0,
                                                    "timeout_seconds": 5})
    with TestClient(create_app(settings)) as client:
        yield chat_server, make_account(client.app.state.runtime, client, "carol")


def test_recommend_answers_the_exact_contract_and_never_an_excluded_dish(llm: tuple[ChatServer, Account]) -> None:
    server, carol = llm
    server.script += [{"content": json.dumps(EXCLUDED, ensure_ascii=False)},
                      {"content": json.dumps(GOOD, ensure_ascii=False)}]
    response = carol.post(f"{API}/recommend", json={"ingredients": ["양파", "파", "삼겹살"],
                                                    "except_recipe": ["양파 조림"], "language": "ko"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert {k: body[k] for k in GOOD} == GOOD and body["recipe_name"] != "양파조림"
    assert body["language"] == "ko" and body["attempts"] == 2
    assert len(server.requests) == 2

    server.script.append({"content": json.dumps(GOOD, ensure_ascii=False)})
    streamed = carol.post(f"{API}/recommend/stream", json={"ingredients": ["양파", "삼겹살"]})
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    events = [json.loads(line[6:]) for line in streamed.text.splitlines() if line.startswith("data: ")]
    assert any("delta" in e for e in events)
    assert {k: events[-1]["result"][k] for k in GOOD} == GOOD


def test_cli_import_cook_and_recommend_without_a_model(run: Callable[..., str]) -> None:
    run("user", "create", "mina", "--password", "correct horse battery")
    run("pantry", "add", "삼겹살", "--qty", "600", "--unit", "g", "--user", "mina")
    run("pantry", "add", "양파", "--user", "mina")
    imported = run("pantry", "import", str(PAGES / "samgyeopsal-deopbap.ko.html"), "--url",
                   "https://jipbap.example.kr/recipes/samgyeopsal-deopbap", "--user", "mina")
    assert "Imported 삼겹살 덮밥: 11 ingredients" in imported and "5 steps" in imported
    assert "no recipe" in run("pantry", "import", str(PAGES / "no-recipe.en.html"), "--user", "mina", code=1)
    cooked = run("pantry", "cook", "--user", "mina")
    assert "[corpus]" in cooked and "https://en.wikibooks.org/" in cooked and "CC BY-SA 4.0" in cooked
    assert run("pantry", "recommend", "양파, 삼겹살", code=1).strip()  # llm.provider off: a clear reason


def test_recipe_pages_import_preview_cook_and_shopping(client: TestClient, alice: Account) -> None:
    csrf = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}).json()["csrf_token"]
    headers = {"X-CSRF-Token": csrf, "hx-request": "true"}
    household(alice)
    add(alice, "삼겹살", quantity=600, unit="g")
    listing = client.get("/pantry/recipes", headers={"accept-language": "ko"})
    assert listing.status_code == 200 and 'name="file"' in listing.text and 'name="url"' in listing.text
    bad = client.post("/pantry/recipes/import", headers=headers,
                      files={"file": ("x.html", (PAGES / "no-recipe.en.html").read_bytes(), "text/html")})
    assert 'class="alert error"' in bad.text
    made = client.post("/pantry/recipes/import", headers=headers, data={"url": "https://jipbap.example.kr/r"},
                       files={"file": ("r.html", (PAGES / "samgyeopsal-deopbap.ko.html").read_bytes(), "text/html")})
    target = made.headers["hx-redirect"]
    detail = client.get(target)
    assert "삼겹살 덮밥" in detail.text and 'id="cook-preview"' in detail.text and 'id="cook-confirm"' in detail.text
    cooked = client.post(f"{target}/cook", headers=headers)
    assert cooked.headers["hx-redirect"].startswith("/pantry/shopping")
    shopping = client.get("/pantry/shopping")
    assert "양파" in shopping.text
    cook = client.get("/pantry/cook")
    assert cook.status_code == 200 and "<meter" in cook.text and "CC BY-SA 4.0" in cook.text
    suggest = client.get("/pantry/recommend")
    assert suggest.status_code == 200 and 'name="ingredient"' in suggest.text
    for page in (listing, detail, shopping, cook, suggest):
        assert "style=" not in page.text and "<script>" not in page.text


def test_an_import_in_the_wrong_shape_is_a_4xx_on_the_api_and_the_page(client: TestClient, alice: Account) -> None:
    """A form-encoded body read the stream twice (RuntimeError, 500); the page form parsed a hostile page without
    the guard the API had (TypeError, 500)."""
    form = alice.client.post(f"{API}/recipes/import", headers=alice.headers, data={"url": "https://x.example/r"})
    assert form.status_code == 415 and "multipart" in form.json()["error"]["message"]
    shouted = alice.client.post(f"{API}/recipes/import", content=b"url=https%3A%2F%2Fx.example%2Fr",
                                headers={**alice.headers, "content-type": "Application/X-WWW-Form-URLEncoded"})
    assert shouted.status_code == 415, shouted.text  # media types are case-insensitive; the form reader knew it
    # The import reads its own form with its own limits (the app's repeated-value check parsed it first, with
    # the defaults of 1,000 files and fields, and the import's limits were never applied).
    page = ("r.html", b"<html><body>recipe</body></html>", "text/html")
    two = alice.client.post(f"{API}/recipes/import", headers=alice.headers, files=[("file", page), ("file", page)])
    assert two.status_code == 400 and "Too many files" in two.json()["error"]["message"], two.text
    fields = alice.client.post(f"{API}/recipes/import", headers=alice.headers, files={"file": page},
                               data={f"field{i}": "x" for i in range(20)})
    assert fields.status_code == 400 and "Too many fields" in fields.json()["error"]["message"], fields.text
    csrf = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}).json()["csrf_token"]
    hostile = b'<script type="application/ld+json">{"@type": 5, "name": "x", "recipeIngredient": ["a"]}</script>'
    page = client.post("/pantry/recipes/import", headers={"X-CSRF-Token": csrf, "hx-request": "true"},
                       files={"file": ("r.html", hostile, "text/html")})
    assert page.status_code == 200 and 'class="alert error"' in page.text and "no recipe" in page.text
    binary = client.post("/pantry/recipes/import", headers={"X-CSRF-Token": csrf, "hx-request": "true"},
                         files={"file": ("r.html", b"\x00\x01PK" * 100, "text/html")})
    assert 'class="alert error"' in binary.text and "not a web page" in binary.text


def test_a_recipe_photo_is_one_of_ones_own_files(client: TestClient, alice: Account, bob: Account) -> None:
    """Any file id was stored before: someone else's (found by the review) would have been shown with the recipe."""
    from PIL import Image

    from boda.core import uploads

    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.db.session() as session:
        files = {who.username: uploads.save_derived_image(session, runtime.store, owner_id=who.id, app="pantry",
                                                          image=Image.new("RGB", (8, 8), colour),
                                                          filename="dish.png").id
                 for who, colour in ((alice, (200, 0, 0)), (bob, (0, 0, 200)))}
    body = {"title": "Toast", "ingredients": ["2 slices bread"]}
    theirs = alice.post(f"{API}/recipes", json={**body, "photo_file_id": files["bob"]})
    assert theirs.status_code == 404 and alice.get(f"{API}/recipes", params={"which": "mine"}).json()["total"] == 0
    mine = alice.post(f"{API}/recipes", json={**body, "photo_file_id": files["alice"]})
    assert mine.status_code == 201 and mine.json()["photo_file_id"] == files["alice"]
