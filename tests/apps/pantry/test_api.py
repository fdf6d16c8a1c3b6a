"""The pantry API: items by name, the change log and undo, split and partial use, households, waste."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account

API = "/api/v1/pantry"


def household(account: Account, name: str = "Home") -> str:
    response = account.post("/api/v1/households", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def places(account: Account, hid: str) -> dict[str, str]:
    made = {}
    for name, kind in (("Fridge", "fridge"), ("Freezer", "freezer"), ("Shelf", "pantry")):
        response = account.post(f"{API}/places", json={"household_id": hid, "name": name, "kind": kind})
        assert response.status_code == 201, response.text
        made[kind] = response.json()["id"]
    return made


def add(account: Account, name: str, **body: object) -> dict:
    response = account.post(f"{API}/items", json={"name": name, **body})
    assert response.status_code == 201, response.text
    return response.json()


def test_item_by_name_gets_place_and_date_and_the_log_undoes(alice: Account) -> None:
    assert alice.get(f"{API}/items").status_code == 409  # no household yet
    hid = household(alice)
    where = places(alice, hid)
    made = add(alice, "삼겹살", quantity=600, unit="g")
    item = made["item"]
    assert (item["name_ko"], item["category"], item["place_id"], item["days_left"]) == (
        "삼겹살", "meat", where["fridge"], 3)
    assert made["event"]["action"] == "add"
    unknown = add(alice, "플럼보블")["item"]
    assert unknown["consume_by"] is None and unknown["category"] == "other"

    moved = alice.post(f"{API}/items/{item['id']}/move", json={"place_id": where["freezer"]}).json()
    assert moved["item"]["place_id"] == where["freezer"] and moved["item"]["days_left"] == 120  # frozen: freezer days
    used = alice.post(f"{API}/items/{item['id']}/consume", json={"quantity": 200}).json()
    assert (used["item"]["quantity"], used["item"]["status"]) == (400, "active")

    log = alice.get(f"{API}/items/{item['id']}/events").json()
    assert [e["action"] for e in log["items"]] == ["consume", "move", "add"]
    assert log["items"][0]["before"]["quantity"] == 600 and log["items"][0]["after"]["quantity"] == 400

    undo = alice.post(f"{API}/undo", json={}).json()  # the latest change: the partial use
    assert undo["action"] == "undo" and undo["undo_of_id"] == used["event"]["id"]
    back = alice.get(f"{API}/items/{item['id']}").json()
    assert back["quantity"] == 600 and back["place_id"] == where["freezer"]
    # the move is not the latest change of the household (the undo of unknown's add would be) — name it:
    assert alice.post(f"{API}/undo", json={"event_id": used["event"]["id"]}).status_code == 409  # done already
    alice.post(f"{API}/undo", json={"event_id": moved["event"]["id"]})
    assert alice.get(f"{API}/items/{item['id']}").json()["place_id"] == where["fridge"]
    alice.post(f"{API}/undo", json={})  # the latest not undone: unknown's add → removes it
    assert alice.get(f"{API}/items/{unknown['id']}").status_code == 404
    log = alice.get(f"{API}/events").json()["items"]
    assert [e["action"] for e in log][:3] == ["undo", "undo", "undo"]


def test_split_and_partial_use_and_discard(alice: Account) -> None:
    hid = household(alice)
    where = places(alice, hid)
    eggs = add(alice, "달걀", quantity=10, unit="개")["item"]
    split = alice.post(f"{API}/items/{eggs['id']}/split", json={"quantity": 4, "place_id": where["freezer"]})
    assert split.status_code == 201
    body = split.json()
    assert body["item"]["quantity"] == 6 and body["part"]["quantity"] == 4
    assert body["part"]["place_id"] == where["freezer"]
    assert alice.post(f"{API}/items/{eggs['id']}/split", json={"quantity": 6}).status_code == 409  # not less than all
    assert alice.post(f"{API}/items/{eggs['id']}/consume", json={"quantity": 7}).status_code == 409
    alice.post(f"{API}/items/{eggs['id']}/consume", json={"quantity": 2})
    gone = alice.post(f"{API}/items/{eggs['id']}/discard", json={}).json()["item"]
    assert (gone["status"], gone["quantity"]) == ("discarded", 0)
    assert alice.post(f"{API}/items/{eggs['id']}/consume", json={}).status_code == 409  # finished
    # undo the discard, then the split-off part: the split cannot be undone before the later use
    alice.post(f"{API}/undo", json={})
    assert alice.get(f"{API}/items/{eggs['id']}").json()["quantity"] == 4
    assert alice.post(f"{API}/undo", json={"event_id": body["event"]["id"]}).status_code == 409
    alice.post(f"{API}/undo", json={})  # the use of 2
    alice.post(f"{API}/undo", json={})  # the split: part back
    assert alice.get(f"{API}/items/{eggs['id']}").json()["quantity"] == 10
    assert alice.get(f"{API}/items/{body['part']['id']}").status_code == 404


def test_household_isolation(alice: Account, bob: Account, client: TestClient) -> None:
    hid = household(alice)
    where = places(alice, hid)
    item = add(alice, "두부", household_id=hid)["item"]
    bob_home = household(bob, "Bob's")
    bob_place = places(bob, bob_home)["fridge"]
    for url in (f"{API}/items/{item['id']}", f"{API}/places/{where['fridge']}"):
        assert bob.get(url).status_code == 404
    assert bob.post(f"{API}/items/{item['id']}/consume", json={}).status_code == 404
    assert bob.get(f"{API}/items", params={"household_id": hid}).status_code == 404
    assert bob.post(f"{API}/items", json={"name": "양파", "household_id": hid}).status_code == 404
    assert bob.post(f"{API}/undo", json={"household_id": hid}).status_code == 404
    assert bob.post(f"{API}/undo", json={"event_id": "x"}).status_code == 404  # not in his household
    # a place of another household named in a request: 409
    assert alice.post(f"{API}/items/{item['id']}/move", json={"place_id": bob_place}).status_code == 409
    assert alice.post(f"{API}/items", json={"name": "양파", "place_id": bob_place}).status_code == 409
    # bob joins: now he sees and changes the shared fridge
    code = alice.post(f"/api/v1/households/{hid}/invites", json={}).json()["code"]
    assert bob.post(f"/api/v1/invites/{code}/accept").status_code in (200, 201)
    assert bob.get(f"{API}/items/{item['id']}").status_code == 200
    assert bob.get(f"{API}/items", params={"household_id": hid}).json()["total"] == 1
    assert bob.post(f"{API}/items/{item['id']}/consume", json={}).json()["item"]["status"] == "consumed"
    assert alice.get(f"{API}/events").json()["items"][0]["user_id"] == bob.id


def test_use_soon_waste_stats_and_overrides(alice: Account, bob: Account) -> None:
    hid = household(alice)
    places(alice, hid)
    now = datetime.now(UTC)
    tofu = add(alice, "두부", added_at=(now - timedelta(days=6)).isoformat())["item"]  # 1 day left
    old = add(alice, "삼겹살", added_at=(now - timedelta(days=5)).isoformat())["item"]  # 2 days past
    add(alice, "김치")
    soon = alice.get(f"{API}/use-soon").json()
    assert [(i["name"], i["days_left"]) for i in soon] == [("삼겹살", -2), ("두부", 1)]
    assert len(alice.get(f"{API}/use-soon", params={"days": 365}).json()) == 3

    alice.post(f"{API}/items/{tofu['id']}/consume", json={})
    alice.post(f"{API}/items/{old['id']}/discard", json={"quantity": 0.5})
    onion = add(alice, "양파", quantity=3)["item"]
    alice.post(f"{API}/items/{onion['id']}/discard", json={"quantity": 1})
    alice.post(f"{API}/undo", json={})  # an undone discard does not count
    stats = alice.get(f"{API}/stats/waste").json()
    assert stats["totals"] == {"consumed_count": 1, "consumed_quantity": 1.0,
                               "discarded_count": 1, "discarded_quantity": 0.5}
    assert stats["waste_share"] == 0.5
    assert stats["months"][-1]["month"] == now.strftime("%Y-%m") and stats["months"][-1]["discarded_count"] == 1
    assert len(stats["months"]) == 12
    assert {c["category"]: c["discarded_count"] for c in stats["categories"]} == {"meat": 1, "tofu_soy": 0}

    rule = alice.put(f"{API}/shelf-life/overrides", json={"name": "대 파", "place": "freezer", "days": {"freezer": 30}})
    assert rule.status_code == 200
    life = alice.get(f"{API}/shelf-life", params={"name": "대파"}).json()
    assert (life["place"], life["days"], life["overridden"]) == ("freezer", 30, True)
    assert alice.get(f"{API}/shelf-life", params={"name": "플럼보블"}).json()["known"] is False
    assert alice.get(f"{API}/ingredients", params={"q": "양"}).json()[0]["ko"] == "양파"
    assert alice.get(f"{API}/shelf-life/overrides").json()[0]["name"] == "대 파"
    assert bob.delete(f"{API}/shelf-life/overrides/{rule.json()['id']}").status_code == 404
    assert alice.delete(f"{API}/shelf-life/overrides/{rule.json()['id']}").status_code == 204
    assert alice.get(f"{API}/shelf-life", params={"name": "대파"}).json()["place"] == "fridge"


def test_places_crud(alice: Account) -> None:
    hid = household(alice)
    fridge = places(alice, hid)["fridge"]
    drawer = alice.post(f"{API}/places", json={"name": "야채칸", "kind": "compartment", "parent_id": fridge})
    assert drawer.status_code == 201
    assert alice.post(f"{API}/places", json={"name": "x", "kind": "compartment"}).status_code == 409  # in what?
    assert alice.patch(f"{API}/places/{fridge}", json={"parent_id": drawer.json()["id"]}).status_code == 409  # cycle
    item = add(alice, "대파", place_id=drawer.json()["id"])["item"]
    assert item["days_left"] == 7  # a compartment keeps like the fridge it is in
    assert alice.delete(f"{API}/places/{fridge}").status_code == 409
    assert alice.patch(f"{API}/places/{fridge}", json={"name": "김치냉장고"}).json()["name"] == "김치냉장고"
    assert alice.delete(f"{API}/items/{item['id']}").status_code == 204
    assert alice.delete(f"{API}/places/{drawer.json()['id']}").status_code == 204
    assert [p["kind"] for p in alice.get(f"{API}/places").json()] == ["fridge", "freezer", "pantry"]


@pytest.mark.parametrize(("field", "moment"), [("added_at", "9999-12-31T23:59:59Z"),
                                               ("consume_by", "0001-01-01T00:00:00+14:00"),
                                               ("added_at", "1850-06-01T00:00:00Z")])
def test_a_date_at_the_ends_of_the_calendar_is_refused_by_name(alice: Account, field: str, moment: str) -> None:
    """Year 1 at +14:00 has no UTC time and 9999 plus a shelf life overflows: both were 500s."""
    household(alice)
    refused = alice.post(f"{API}/items", json={"name": "두부", field: moment})
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"]["errors"][0]["field"] == field
