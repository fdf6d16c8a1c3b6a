"""The household's own classifier: renamed boxes teach it, it trains per household, and it names new photos.

Everything runs for real: YOLOX-nano and EfficientNet-Lite0 on composed photos (tests/apps/pantry/photos.py),
the linear head from boda.ai.heads, the jobs (immediate in tests). The detector calls a drawn lime and a
drawn lemon "apple" (a miss the labelled set records); the household renames them, and its classifier
learns what ImageNet's classes cannot say.
"""

from __future__ import annotations

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import select

from boda.ai import heads
from boda.apps.pantry import recognise
from boda.apps.pantry.models import RecognitionExample
from boda.core.runtime import Runtime
from tests.apps.pantry.photos import jpeg, scene
from tests.apps.pantry.test_recognise import API, household, upload
from tests.conftest import Account

# Drawn fruit at different places, sizes and skins (seeds): what the household confirms...
LIMES = [[("lime", 220, 90, 220)], [("lime", 60, 60, 160)], [("lime", 380, 150, 190)]]
LEMONS = [[("lemon", 200, 80, 200)], [("lemon", 300, 120, 150)], [("lemon", 40, 170, 180)]]
# ...and new photos it has not seen.
NEW_LIME = [("lime", 300, 70, 200)]
ORANGE = [("orange", 200, 80, 240)]


def recognition(account: Account, hid: str, items: list, seed: int) -> dict:
    job = upload(account, jpeg(scene(items, seed=seed)), hid)
    assert job.status_code == 202, job.text
    body = account.get(f"{API}/recognitions/{job.json()['id']}").json()
    assert body["status"] == "succeeded", body
    return body


def teach(account: Account, hid: str, items: list, seed: int, name: str) -> dict:
    """Recognise a photo and confirm its boxed candidate under the household's name (a rename when the
    recognisers got it wrong); answers that candidate as it was offered."""
    body = recognition(account, hid, items, seed)
    index, candidate = next((n, c) for n, c in enumerate(body["candidates"]) if c["boxes"])
    made = account.post(f"{API}/recognitions/{body['id']}/confirm",
                        json={"items": [{"name": name, "candidate": index}]})
    assert made.status_code == 201, made.text
    return candidate


def classifier(account: Account, hid: str):  # noqa: ANN201
    return account.get(f"{API}/households/{hid}/classifier")


def test_renamed_boxes_teach_the_household_and_a_new_photo_gets_its_label(
        client: TestClient, runtime: Runtime, alice: Account, bob: Account) -> None:
    hid = household(alice)
    empty = classifier(alice, hid).json()
    assert (empty["examples"], empty["version"], empty["ready"]) == ({}, None, False)
    assert empty["not_ready_reason"] == "too_few_classes" and empty["embedder"] == "efficientnet_lite0:logits"

    offered = [teach(alice, hid, items, n, "라임") for n, items in enumerate(LIMES)]
    offered += [teach(alice, hid, items, 10 + n, "레몬") for n, items in enumerate(LEMONS)]
    # The detector called the first five "apple"; the fifth rename queued a training by itself
    # (pantry.classifier_retrain_examples = 5), and the sixth photo was already named by the household.
    assert [c["name_ko"] for c in offered[:5]] == ["사과"] * 5
    assert (offered[5]["name_ko"], offered[5]["source"]) == ("레몬", "household")
    assert 0.5 < offered[5]["confidence"] < 1
    state = classifier(alice, hid).json()
    assert state["examples"] == {"라임": 3, "레몬": 3}  # one box per photo, under the name the member gave
    assert state["version"]["version"] == 1 and state["version"]["examples"] == 5 and state["new_examples"] == 1
    assert state["training"]["status"] == "succeeded"
    with runtime.db.session() as session:
        rows = session.scalars(select(RecognitionExample).where(RecognitionExample.household_id == hid)).all()
        assert all(len(r.embedding) == 1000 * 4 and r.box and r.file_id for r in rows)

    started = alice.post(f"{API}/households/{hid}/classifier/train")
    assert started.status_code == 202, started.text
    assert started.json()["kind"] == "pantry.train_classifier"
    trained = classifier(alice, hid).json()["version"]
    assert (trained["version"], trained["examples"], trained["classes"]) == (2, 6, ["라임", "레몬"])
    assert trained["counts"] == {"라임": 3, "레몬": 3} and trained["folds"] == 3
    assert trained["accuracy"] >= 0.8  # cross-validated; 1.0 measured

    # The fridge page says what the household taught, and how well it did.
    from tests.apps.pantry.test_pages import login

    login(client)
    page = client.get("/pantry", params={"household_id": hid}, headers={"accept-language": "ko"}).text
    assert "우리 집이 가르친 식재료: 라임, 레몬 (확인한 상자 6개, 버전 2, 처음 보는 상자에서 100% 정답)" in page

    # A lime it never saw: the household's name wins the box, with the head's own probability.
    seen = recognition(alice, hid, NEW_LIME, 42)
    assert seen["household_version"] == 2 and "household" in seen["seconds"]
    lime = {c["name_ko"]: c for c in seen["candidates"]}["라임"]
    assert lime["source"] == "household" and 0.5 < lime["confidence"] < 1
    x, y, w, h = lime["box"]
    assert 280 < x < 340 and 50 < y < 110 and 150 < w < 240  # where the lime is
    assert "사과" in {a["name_ko"] for a in lime["alternatives"]}  # the detector's word, kept for renaming
    # The whole photo's "Granny Smith" was the same misreading: it joins the box's alternatives, not the list.
    assert [c["name_ko"] for c in seen["candidates"]] == ["라임"]

    # An orange looks like none of the household's examples: the head does not name it at all.
    orange = recognition(alice, hid, ORANGE, 43)
    assert all(s["source"] != "household" for c in orange["candidates"] for s in c["sources"])
    assert "오렌지" in {c["name_ko"] for c in orange["candidates"]}

    # Bob's household has taught nothing: the same lime is the detector's apple there.
    bobs = household(bob, "Bob's")
    there = recognition(bob, bobs, NEW_LIME, 42)
    assert there["household_version"] is None and "household" not in there["seconds"]
    assert all(s["source"] != "household" for c in there["candidates"] for s in c["sources"])
    assert classifier(bob, hid).status_code == 404  # not his household
    assert bob.post(f"{API}/households/{hid}/classifier/train").status_code == 404
    assert classifier(alice, "nonesuch").status_code == 404
    assert classifier(bob, bobs).json()["examples"] == {}


def test_one_label_cannot_train_and_says_why(client: TestClient, alice: Account) -> None:
    hid = household(alice)
    for n, items in enumerate(LIMES[:2]):
        teach(alice, hid, items, n, "라임")
    refused = alice.post(f"{API}/households/{hid}/classifier/train")
    assert refused.status_code == 409
    assert "at least two different groceries" in refused.json()["error"]["message"]
    korean = alice.post(f"{API}/households/{hid}/classifier/train", headers={"Accept-Language": "ko"})
    assert "두 가지 이상" in korean.json()["error"]["message"]
    teach(alice, hid, LEMONS[0], 10, "레몬")
    short = alice.post(f"{API}/households/{hid}/classifier/train")
    assert short.status_code == 409 and "too few: 레몬" in short.json()["error"]["message"]
    state = classifier(alice, hid).json()
    assert (state["ready"], state["not_ready_reason"], state["version"]) == (False, "too_few_photos", None)


def test_a_line_kept_as_offered_teaches_by_its_name_and_a_receipt_teaches_nothing(
        client: TestClient, runtime: Runtime, alice: Account) -> None:
    from tests.apps.pantry.photos import receipt

    hid = household(alice)
    body = recognition(alice, hid, ORANGE, 5)
    kept = alice.post(f"{API}/recognitions/{body['id']}/confirm", json={"items": [{"name": "오렌지"}]})
    assert kept.status_code == 201
    assert classifier(alice, hid).json()["examples"] == {"오렌지": 1}
    started = alice.post(f"{API}/receipts", files={"file": ("r.png", jpeg(receipt()), "image/jpeg")},
                         data={"household_id": hid}).json()
    read = alice.get(f"{API}/recognitions/{started['id']}").json()
    index = next(n for n, c in enumerate(read["candidates"]) if c["name_ko"] == "대파")
    assert alice.post(f"{API}/recognitions/{started['id']}/confirm",
                      json={"items": [{"name": "대파", "candidate": index}]}).status_code == 201
    assert classifier(alice, hid).json()["examples"] == {"오렌지": 1}  # a line of text is not a grocery's look


def test_prototypes_refuse_what_looks_like_no_example() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=8), rng.normal(size=8)
    x = np.stack([a + rng.normal(scale=0.05, size=8) for _ in range(3)] +
                 [b + rng.normal(scale=0.05, size=8) for _ in range(3)])
    labels = ["a"] * 3 + ["b"] * 3
    near = heads.Prototypes.fit(x, labels)
    assert near.near(np.stack([a, b]), ["a", "b"]) == [True, True]
    assert near.near(np.stack([a, -a]), ["b", "a"]) == [False, False]
    again = heads.Prototypes.from_json(near.to_json())
    assert again.near(a[None], ["a"]) == [True] and again.classes == ["a", "b"]
    head = recognise.HouseholdHead(heads.train(x, labels).head, near)
    assert head.name(a)[0] == "a" and head.name(-a) is None  # type: ignore[index]


def test_candidate_index_is_a_small_whole_number(client: TestClient, alice: Account) -> None:
    hid = household(alice)
    body = recognition(alice, hid, ORANGE, 5)
    for index in (-1, 1.5, True, 1000):
        refused = alice.post(f"{API}/recognitions/{body['id']}/confirm",
                             json={"items": [{"name": "오렌지", "candidate": index}]})
        assert refused.status_code == 422, index
    beyond = alice.post(f"{API}/recognitions/{body['id']}/confirm",
                        json={"items": [{"name": "오렌지", "candidate": 999}]})
    assert beyond.status_code == 201  # no such candidate: the item is made, nothing is learnt
    assert classifier(alice, hid).json()["examples"] == {}
