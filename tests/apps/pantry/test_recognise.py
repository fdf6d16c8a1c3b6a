"""Photo to ingredients: the real recognisers on composed photos, the job, the API, the chat model path.

YOLOX-nano and EfficientNet-Lite0 run for real (their weights are carried); the chat model is the real
openai SDK against tests/ai/openai_server.py, which speaks OpenAI's protocol and records requests.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from boda.ai.registry import Providers
from boda.apps.pantry import recognise, shelf_life
from boda.core.config import Settings
from boda.core.models import Job, StoredFile
from boda.core.runtime import Runtime
from boda.web.app import create_app
from tests.ai.openai_server import ChatServer
from tests.apps.pantry.photos import COFFEE, jpeg, labelled, scene
from tests.conftest import Account, make_account, make_settings

API = "/api/v1/pantry"
WEIGHTS = Path(recognise.__file__).parents[2] / "ai" / "weights"


def household(account: Account, name: str = "Home") -> str:
    response = account.post("/api/v1/households", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def upload(account: Account, data: bytes, household_id: str | None = None, name: str = "groceries.jpg"):  # noqa: ANN201
    form = {"household_id": household_id} if household_id else {}
    return account.post(f"{API}/recognitions", files={"file": (name, data, "image/jpeg")}, data=form)


def counts(runtime: Runtime) -> tuple[int, int]:
    with runtime.db.session() as session:
        return (session.scalar(select(func.count()).select_from(StoredFile)) or 0,
                session.scalar(select(func.count()).select_from(Job)) or 0)


# --- the mapping table ----------------------------------------------------------------------------

def test_every_mapped_class_exists_and_points_into_the_ingredient_table() -> None:
    ko = {i.ko for i in shelf_life.ingredients()}
    coco = set((WEIGHTS / "coco_classes.txt").read_text(encoding="utf-8").split("\n"))
    imagenet = {line.split("\t")[2].split(",")[0].strip()
                for line in (WEIGHTS / "imagenet_classes.tsv").read_text(encoding="utf-8").splitlines()[1:] if line}
    with recognise.LABELS.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 45
    for row in rows:
        assert row["label"] in (coco if row["recogniser"] == "coco" else imagenet), row
        assert not row["ko"] or row["ko"] in ko, row
    assert recognise.ingredient_for("imagenet", "Granny Smith").en == "apple"  # type: ignore[union-attr]
    assert recognise.ingredient_for("coco", "hot dog").ko == "소시지"  # type: ignore[union-attr]
    assert recognise.ingredient_for("imagenet", "pretzel") is None  # food with no pantry entry: not offered
    assert recognise.ingredient_for("coco", "cup") is None  # a container: looked into, not an ingredient


# --- the recognisers on composed photos -------------------------------------------------------------

@pytest.fixture(scope="module")
def providers(tmp_path_factory: pytest.TempPathFactory) -> Providers:
    folder = tmp_path_factory.mktemp("recognise")
    return Providers(Settings(_env_file=None, data_dir=folder, ai={"threads": 1, "downloads": False}))  # type: ignore[call-arg]


def run(providers: Providers, image):  # noqa: ANN001, ANN201
    return recognise.recognise(image, detector=providers.object_detector(), classifier=providers.image_classifier())


def by_name(result: dict) -> dict[str, dict]:
    return {c["name_ko"]: c for c in result["candidates"]}


def test_the_coffee_cup_is_found_with_its_box_and_named_inside_it(providers: Providers) -> None:
    from PIL import Image

    result = run(providers, Image.open(COFFEE).convert("RGB"))
    coffee = by_name(result)["원두커피"]
    assert coffee["name_en"] == "coffee beans" and coffee["confidence"] > 0.8
    assert coffee["source"] == "efficientnet_lite0:box"  # the classifier looked inside YOLOX's cup
    x, y, w, h = coffee["box"]
    assert 140 < x < 190 and y < 40 and 220 < w < 300 and 240 < h < 300  # the cup and saucer
    assert {s["source"] for s in coffee["sources"]} == {"efficientnet_lite0:box", "efficientnet_lite0"}
    assert set(result["seconds"]) == {"yolox_nano", "efficientnet_lite0"}


def test_drawn_fruit_is_found_where_it_is_and_an_empty_table_gives_nothing(providers: Providers) -> None:
    found = by_name(run(providers, scene([("orange", 40, 100, 220), ("apple", 360, 110, 210)], seed=5)))
    apple, orange = found["사과"], found["오렌지"]
    assert apple["source"] == orange["source"] == "yolox_nano"
    assert apple["confidence"] > 0.5 and orange["confidence"] > 0.25
    assert 340 < apple["box"][0] < 400 and orange["box"][0] < 80  # each on its own side
    assert orange["name_en"] == "orange" and orange["category"] == "fruit"
    assert run(providers, scene([], seed=9))["candidates"] == []
    two = by_name(run(providers, scene([("orange", 60, 100, 200), ("orange", 360, 120, 190)], seed=3)))["오렌지"]
    assert len(two["boxes"]) >= 1 and two["count"] == len(two["boxes"])


def test_duplicates_merge_keeping_the_best_and_who_said_it() -> None:
    apple = recognise.ingredient_for("coco", "apple")
    merged = recognise.merge([(apple, recognise.Said("yolox_nano", "apple", 0.6, (1, 2, 3, 4))),
                              (apple, recognise.Said("efficientnet_lite0", "Granny Smith", 0.9)),
                              (apple, recognise.Said("yolox_nano", "apple", 0.4, (10, 20, 30, 40)))])
    (one,) = merged
    assert (one.confidence, one.source, one.box) == (0.9, "efficientnet_lite0", (1, 2, 3, 4))
    assert one.boxes == [(1, 2, 3, 4), (10, 20, 30, 40)] and [s.confidence for s in one.sources] == [0.9, 0.6, 0.4]


def test_one_box_holds_one_thing_and_the_other_names_are_offered_for_renaming() -> None:
    orange, apple, lemon = (recognise.ingredient_for("coco", "orange"), recognise.ingredient_for("coco", "apple"),
                            recognise.ingredient_for("imagenet", "lemon"))
    said = [(orange, recognise.Said("yolox_nano", "orange", 0.41, (10, 10, 100, 100))),
            (apple, recognise.Said("yolox_nano", "apple", 0.33, (12, 10, 98, 100))),  # the same fruit
            (lemon, recognise.Said("efficientnet_lite0:box", "lemon", 0.15, (10, 10, 100, 100))),
            (apple, recognise.Said("yolox_nano", "apple", 0.8, (300, 10, 100, 100)))]  # another fruit
    kept, alternatives = recognise.one_name_per_box(said)
    merged = {c.name_ko: c for c in recognise.merge(kept, alternatives)}
    assert set(merged) == {"오렌지", "사과"}
    assert [a["name_ko"] for a in merged["오렌지"].alternatives] == ["사과", "레몬"]
    assert merged["사과"].boxes == [(300, 10, 100, 100)] and merged["사과"].alternatives == []


# --- the API, offline --------------------------------------------------------------------------------

def test_a_photo_becomes_candidates_then_items_with_dates(client: TestClient, runtime: Runtime, alice: Account,
                                                          bob: Account) -> None:
    hid = household(alice)
    photo = jpeg(labelled()[5][1])  # the coffee and an orange
    started = upload(alice, photo, hid)
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["kind"] == "pantry.recognise" and job["title"] == "Recognise ingredients in a photo"
    body = alice.get(f"{API}/recognitions/{job['id']}").json()
    assert body["status"] == "succeeded" and body["progress"] == 100
    assert (body["width"], body["height"], body["household_id"]) == (800, 420, hid)
    names = {c["name_ko"]: c for c in body["candidates"]}
    assert {"원두커피", "오렌지"} <= set(names)
    assert names["오렌지"]["box"] and 0 < names["오렌지"]["confidence"] < 1
    assert alice.get(f"/api/v1/files/{body['file_id']}/content").status_code == 200  # the page shows the photo

    assert bob.get(f"{API}/recognitions/{job['id']}").status_code == 404  # not his household
    assert bob.post(f"{API}/recognitions/{job['id']}/confirm", json={"items": [{"name": "오렌지"}]}).status_code == 404
    assert upload(bob, photo, hid).status_code == 404  # a household he is not in
    assert upload(bob, photo).status_code == 409  # in no household at all

    kept = [{"name": "오렌지", "quantity": 2, "unit": "개"}, {"name": "대파"}]  # one kept, one renamed by the user
    made = alice.post(f"{API}/recognitions/{job['id']}/confirm", json={"items": kept})
    assert made.status_code == 201, made.text
    items = [m["item"] for m in made.json()]
    assert [(i["name_ko"], i["quantity"], i["household_id"]) for i in items] == [("오렌지", 2, hid), ("대파", 1, hid)]
    assert all(i["consume_by"] and i["days_left"] > 0 for i in items)  # shelf-life dates, as any new item
    assert all(i["photo_file_id"] == body["file_id"] for i in items)
    again = alice.post(f"{API}/recognitions/{job['id']}/confirm", json={"items": kept})
    assert again.status_code == 409 and "already added" in again.json()["error"]["message"]
    assert alice.get(f"{API}/recognitions/{job['id']}").json()["confirmed_item_ids"] == [i["id"] for i in items]
    assert len(alice.get(f"{API}/items").json()["items"]) == 2
    assert alice.get(f"{API}/recognitions/nonesuch").status_code == 404

    # Once bob joins the household he sees the recognition and its photo (the items show it too).
    assert bob.get(f"/api/v1/files/{body['file_id']}/content").status_code == 404  # not yet
    code = alice.post(f"/api/v1/households/{hid}/invites", json={}).json()["code"]
    assert bob.post(f"/api/v1/invites/{code}/accept").status_code == 200
    assert bob.get(f"{API}/recognitions/{job['id']}").status_code == 200
    assert bob.get(f"/api/v1/files/{body['file_id']}/content").content == photo


def test_bad_images_are_refused_and_nothing_is_kept(client: TestClient, runtime: Runtime, alice: Account) -> None:
    hid = household(alice)
    before = counts(runtime)
    whole = jpeg(scene([("orange", 200, 80, 240)]))
    broken = upload(alice, whole[: len(whole) // 2], hid)
    assert broken.status_code == 400 and "broken or truncated" in broken.json()["error"]["message"]
    text = upload(alice, b"onions, leeks, tofu", hid, name="list.jpg")
    assert text.status_code == 415 and "Not an image" in text.json()["error"]["message"]
    empty = upload(alice, b"", hid)
    assert empty.status_code == 400
    assert counts(runtime) == before
    assert alice.post(f"{API}/recognitions", data={"household_id": hid}).status_code == 422  # no file


def test_confirm_checks_its_list(client: TestClient, runtime: Runtime, alice: Account) -> None:
    hid = household(alice)
    job = upload(alice, jpeg(scene([("apple", 200, 80, 240)])), hid).json()
    url = f"{API}/recognitions/{job['id']}/confirm"
    assert alice.post(url, json={"items": []}).status_code == 422
    assert alice.post(url, json={"items": [{"name": "  "}]}).status_code == 422
    other = alice.post("/api/v1/households", json={"name": "Cabin"}).json()["id"]
    place = alice.post(f"{API}/places", json={"household_id": other, "name": "Cabin fridge", "kind": "fridge"}).json()
    refused = alice.post(url, json={"items": [{"name": "사과", "place_id": place["id"]}]})
    assert refused.status_code == 409 and "not in this household" in refused.json()["error"]["message"]
    assert alice.get(f"{API}/items", params={"household_id": hid}).json()["total"] == 0  # nothing half-made


# --- the chat model ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def with_llm(tmp_path_factory: pytest.TempPathFactory, chat_server: ChatServer
             ) -> Iterator[tuple[TestClient, Runtime, Account, str]]:
    tmp = tmp_path_factory.mktemp("pantry-llm")
    settings = make_settings(
        tmp, f"sqlite:///{tmp / 'boda.db'}",
        llm={"provider": "openai", "base_url": chat_server.url, "model": "text-model", "vision_model": "vision-model",
             "api_key": "sk-test", "max_retries": 0, "timeout_seconds": 10})
    with TestClient(create_app(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        alice = make_account(runtime, client, "alice")
        yield client, runtime, alice, household(alice)


def test_the_chat_model_lists_ingredients_as_json_and_they_merge(with_llm: tuple, chat_server: ChatServer) -> None:
    _, _, alice, hid = with_llm
    chat_server.reset()
    said = {"ingredients": [{"name_ko": "오렌지", "name_en": "orange", "confidence": 0.95},
                            {"name_ko": "대파", "name_en": "green onion", "confidence": 0.7},
                            {"name_ko": "자부티카바", "name_en": "jabuticaba", "confidence": 0.4}]}
    chat_server.script.append({"content": json.dumps(said)})
    job = upload(alice, jpeg(scene([("orange", 200, 80, 240)])), hid).json()
    body = alice.get(f"{API}/recognitions/{job['id']}").json()
    assert body["status"] == "succeeded" and body["errors"] == {}
    names = {c["name_ko"]: c for c in body["candidates"]}
    orange = names["오렌지"]
    assert (orange["confidence"], orange["source"]) == (0.95, "llm:vision-model")
    assert orange["box"] is not None  # the detector's box stays with the merged candidate
    assert "yolox_nano" in {s["source"] for s in orange["sources"]}
    assert names["대파"]["box"] is None and names["대파"]["name_en"] == "green onion, large (daepa)"  # the table's
    assert names["자부티카바"]["known"] is False and names["자부티카바"]["name_en"] == "jabuticaba"  # offered as said
    assert "llm:vision-model" in body["seconds"]
    sent = chat_server.last
    assert sent["model"] == "vision-model" and sent["response_format"]["type"] == "json_schema"
    content = sent["messages"][-1]["content"]
    assert any(part.get("type") == "image_url" for part in content)
    assert "JSON" in next(part["text"] for part in content if part.get("type") == "text")


def test_a_failing_chat_model_leaves_the_offline_answer(with_llm: tuple, chat_server: ChatServer) -> None:
    _, _, alice, hid = with_llm
    chat_server.reset()
    chat_server.script.append({"status": 500, "message": "the GPU fell over"})
    job = upload(alice, jpeg(scene([("apple", 200, 80, 240)])), hid).json()
    body = alice.get(f"{API}/recognitions/{job['id']}").json()
    assert body["status"] == "succeeded"
    assert "사과" in {c["name_ko"] for c in body["candidates"]}
    (error,) = body["errors"].values()
    assert error


# --- receipts -------------------------------------------------------------------------------------------

def test_receipt_rules_find_names_and_amounts_and_skip_the_rest() -> None:
    from boda.apps.pantry.receipts import find_amount, find_name

    def name(text: str) -> tuple[str, float] | None:
        found = find_name(text)
        return (found[0].ko, found[1]) if found else None

    assert name("대파 1단 2,980") == ("대파", 1.0)
    assert name("유기농대파 1단 2,980") == ("대파", 0.8)  # inside a longer word: less sure
    assert name("서울우유 1L 2,650") == ("우유", 0.8)
    assert name("BANANA 1.2kg 3,990") == ("바나나", 1.0) and name("Bananas 3,990")[0] == "바나나"  # type: ignore[index]
    assert name("무 1개 1,990") == ("무", 1.0)
    assert name("무료배송 0") is None and name("합계 8,570") is None and name("봉투 20L 100") is None
    assert find_amount("두부 300g 1,500") == (300.0, "g") and find_amount("대파 1 단 2,980") == (1.0, "단")
    assert find_amount("우유 1Ｌ 2,650") == (1.0, "L") and find_amount("합계 8,570") is None


def test_a_receipt_photo_is_read_into_candidates_with_amounts(client: TestClient, runtime: Runtime,
                                                              alice: Account, bob: Account) -> None:
    from tests.apps.pantry.photos import receipt

    hid = household(alice)
    started = alice.post(f"{API}/receipts", files={"file": ("receipt.png", jpeg(receipt()), "image/jpeg")},
                         data={"household_id": hid})
    assert started.status_code == 202, started.text
    assert started.json()["kind"] == "pantry.receipt"
    body = alice.get(f"{API}/recognitions/{started.json()['id']}").json()
    assert body["status"] == "succeeded" and body["kind"] == "receipt"
    assert any("BANANA" in line for line in body["lines"])
    names = {c["name_ko"]: c for c in body["candidates"]}
    assert (names["대파"]["quantity"], names["대파"]["unit"]) == (1, "단")
    assert (names["바나나"]["quantity"], names["바나나"]["unit"]) == (1.2, "kg")
    assert names["대파"]["source"] == "tesseract+rules" and 0.5 < names["대파"]["confidence"] <= 1
    assert names["대파"]["box"][1] < names["바나나"]["box"][1]  # each on its own line of the receipt
    assert set(names) <= {"대파", "두부", "바나나"}  # the bag and the total are not food
    assert bob.get(f"{API}/recognitions/{started.json()['id']}").status_code == 404
    made = alice.post(f"{API}/recognitions/{started.json()['id']}/confirm",
                      json={"items": [{"name": "대파", "quantity": 1, "unit": "단"},
                                      {"name": "바나나", "quantity": 1.2, "unit": "kg"}]})
    assert made.status_code == 201
    assert [(m["item"]["name_ko"], m["item"]["unit"], bool(m["item"]["consume_by"])) for m in made.json()] == [
        ("대파", "단", True), ("바나나", "kg", True)]
    assert alice.post(f"{API}/receipts", files={"file": ("r.png", b"not a picture", "image/png")},
                      data={"household_id": hid}).status_code == 415


def test_the_chat_model_reads_the_receipt_text(with_llm: tuple, chat_server: ChatServer) -> None:
    from tests.apps.pantry.photos import receipt

    _, _, alice, hid = with_llm
    chat_server.reset()
    said = {"items": [{"name_ko": "두부", "name_en": "tofu", "quantity": 300, "unit": "g", "confidence": 0.9}]}
    chat_server.script.append({"content": json.dumps(said)})
    job = alice.post(f"{API}/receipts", files={"file": ("receipt.png", jpeg(receipt()), "image/jpeg")},
                     data={"household_id": hid}).json()
    body = alice.get(f"{API}/recognitions/{job['id']}").json()
    tofu = {c["name_ko"]: c for c in body["candidates"]}["두부"]
    assert (tofu["quantity"], tofu["unit"]) in {(300, "g")}
    assert any(s["source"] == "llm:text-model" for s in tofu["sources"])
    prompt = chat_server.last["messages"][-1]["content"]
    assert isinstance(prompt, str) and "BANANA" in prompt  # the OCR text, not the photo
