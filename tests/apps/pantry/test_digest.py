"""Today's digest: the pure builder at many dates, the API (another household is 404), the page's card and
the e-mail opt-in (the e-mail itself: test_digest_mail.py)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient

from boda.apps.pantry import digest
from boda.apps.pantry.models import Item, ItemStatus
from tests.apps.pantry.test_api import household
from tests.apps.pantry.test_pages import login
from tests.conftest import Account

API = "/api/v1/pantry"
DAY = date(2026, 12, 2)


def at(day: date, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def item(name: str, by: int | None, *, opened: int | None = None, status: str = "active", ko: str | None = None,
         en: str | None = None, hour: int = 0) -> Item:
    """An item due `by` days after DAY (at `hour` UTC), opened `opened` days before it."""
    return Item(id=name, name=name, name_ko=ko, name_en=en, quantity=1.0, unit="", status=status,
                consume_by=at(DAY + timedelta(days=by), hour) if by is not None else None,
                opened_at=at(DAY - timedelta(days=opened), 9) if opened is not None else None)


def test_builder_sorts_items_by_date_and_words_them_in_the_readers_language() -> None:
    items = [item("d+3", 3), item("d-1", -1), item("d+2", 2, opened=5), item("d0", 0, hour=23), item("d-10", -10),
             item("d+1", 1), item("none", None), item("open-late", 30, opened=4), item("open-today", None, opened=0),
             item("eaten", -2, status=ItemStatus.consumed), item("d+60", 60, opened=1),
             item("우유", -1, ko="우유", en="milk")]
    ko = digest.build(items, day=DAY, within_days=2, locale="ko", household_id="h", household_name="우리 집")
    assert [i.id for i in ko.expired] == ["d-10", "d-1", "우유"]  # most overdue first
    assert [i.text for i in ko.expired] == ["10일 지남", "1일 지남", "1일 지남"]
    assert [(i.id, i.text) for i in ko.due] == [("d0", "오늘까지"), ("d+1", "내일까지"), ("d+2", "2일 남음")]
    assert [(i.id, i.text) for i in ko.opened] == [("open-late", "4일 전 개봉"), ("d+60", "어제 개봉"),
                                                    ("open-today", "오늘 개봉")]  # opened longest ago first
    assert ko.counts == {"expired": 3, "due": 3, "opened": 3, "in_stock": 11}  # the eaten one is not in stock
    assert ko.title == "오늘의 알림" and ko.summary == "기한 지남 3 · 2일 안에 3 · 개봉 3 (재고 11)"
    assert ko.due[0].consume_by == DAY and ko.expired[0].days_left == -10

    en = digest.build(items, day=DAY, within_days=0, locale="en")
    assert [i.name for i in en.expired][-1] == "milk"
    assert [(i.id, i.text) for i in en.due] == [("d0", "due today")]  # 23:00 UTC is still the day's date
    assert "d+1" not in {i.id for i in en.due + en.opened} and "d+2" in {i.id for i in en.opened}
    assert en.title == "Today's digest" and en.expired[0].text == "10 days past" and en.expired[1].text == "1 day past"
    quiet = digest.build([item("later", 9), item("gone", -1, status="discarded")], day=DAY, within_days=2,
                         locale="en")
    assert quiet.empty and quiet.summary == "Nothing needs eating first today." and quiet.counts["in_stock"] == 1


def _add(account: Account, hid: str, name: str, days: int | None, **extra: object) -> dict:
    body: dict[str, object] = {"household_id": hid, "name": name, **extra}
    if days is not None:
        body["consume_by"] = (datetime.now(UTC) + timedelta(days=days)).date().isoformat()
    response = account.post(f"{API}/items", json=body)
    assert response.status_code == 201, response.text
    return response.json()["item"]


def test_digest_api_answers_members_only_in_their_language(client: TestClient, alice: Account, bob: Account) -> None:
    assert bob.get(f"{API}/digest").status_code == 409  # in no household yet
    hid = household(alice)
    _add(alice, hid, "우유", -2)
    _add(alice, hid, "두부", 1)
    _add(alice, hid, "케첩", 40, opened_at=(datetime.now(UTC) - timedelta(days=3)).isoformat())
    _add(alice, hid, "쌀", 200)
    body = alice.get(f"{API}/digest", params={"household_id": hid}, headers={"accept-language": "ko"}).json()
    assert body["title"] == "오늘의 알림" and body["household_name"] == "Home" and body["within_days"] == 2
    assert body["counts"] == {"expired": 1, "due": 1, "opened": 1, "in_stock": 4}
    assert [(i["name"], i["text"]) for i in body["expired"] + body["due"] + body["opened"]] == [
        ("우유", "2일 지남"), ("두부", "내일까지"), ("케첩", "3일 전 개봉")]
    assert body["day"] == datetime.now(UTC).date().isoformat()
    english = alice.get(f"{API}/digest").json()  # the caller's first household, in English
    assert english["summary"] == "1 past · 1 due within 2 days · 1 opened (4 in stock)"
    assert english["expired"][0]["name"] == "milk"

    household(bob, "Bob's")  # bob has a household of his own now, and still cannot read alice's
    stranger = bob.get(f"{API}/digest", params={"household_id": hid})
    assert stranger.status_code == 404 and "우유" not in stranger.text
    assert bob.get(f"{API}/digest").json()["counts"]["in_stock"] == 0

    assert alice.get(f"{API}/digest/preference").json() == {
        "enabled": False, "email": "", "sent_on": None, "mail_configured": False, "hour": 7, "timezone": "UTC"}
    refused = alice.put(f"{API}/digest/preference", json={"enabled": True}, headers={"accept-language": "ko"})
    assert refused.status_code == 400 and refused.json()["error"]["message"] == "알림을 받을 메일 주소를 입력하세요."
    for bad in ("alice", "a@b", "a@b.c\r\nBcc: x@y.z", "<a@b.c>"):
        assert alice.put(f"{API}/digest/preference", json={"enabled": True, "email": bad}).status_code == 422
    saved = alice.put(f"{API}/digest/preference", json={"enabled": True, "email": "alice@example.org"}).json()
    assert saved["enabled"] and saved["email"] == "alice@example.org"
    assert not alice.put(f"{API}/digest/preference", json={"enabled": False}).json()["enabled"]  # address kept
    assert alice.get(f"{API}/digest/preference").json()["email"] == "alice@example.org"


def test_the_pantry_page_shows_the_card_and_saves_the_opt_in(client: TestClient, alice: Account) -> None:
    headers = login(client)
    hid = household(alice)
    _add(alice, hid, "두부", 0)
    page = client.get("/pantry", headers={"accept-language": "ko"})
    assert 'id="digest"' in page.text and "오늘의 알림" in page.text and "오늘까지" in page.text
    assert "style=" not in page.text and "<script>" not in page.text
    assert "이 서버는 메일을 보내지 않습니다" in page.text  # no smtp.url here
    form = {"household_id": hid, "email": "not-an-address", "enabled": "1"}
    wrong = client.post("/pantry/digest/preference", headers=headers | {"accept-language": "ko"}, data=form)
    assert wrong.status_code == 200 and "메일 주소 형식이 아닙니다" in wrong.text
    saved = client.post("/pantry/digest/preference", headers=headers | {"accept-language": "ko"},
                        data=form | {"email": "alice@example.org"})
    assert "저장했습니다" in saved.text and re.search(r'name="enabled" value="1" checked', saved.text)
    assert alice.get(f"{API}/digest/preference").json()["enabled"] is True
