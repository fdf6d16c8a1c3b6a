"""Pantry pages: start a pantry, add with the camera field, act with an undo toast, use soon, waste chart, PWA."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from tests.conftest import PASSWORD, Account, png_bytes


def login(client: TestClient, username: str = "alice") -> dict[str, str]:
    csrf = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD}).json()["csrf_token"]
    return {"X-CSRF-Token": csrf, "hx-request": "true"}


def test_fridge_page_add_act_undo(client: TestClient, alice: Account) -> None:
    headers = login(client)
    start = client.get("/pantry")
    assert start.status_code == 200 and 'hx-post="/pantry/start"' in start.text
    assert client.post("/pantry/start", headers=headers).headers["hx-redirect"] == "/pantry"
    page = client.get("/pantry", headers={"accept-language": "ko"})
    assert 'accept="image/*" capture="environment"' in page.text
    assert 'list="ingredient-names"' in page.text and '<option value="양파">' in page.text
    assert '<link rel="manifest" href="/static/pantry/manifest.webmanifest">' in page.text
    assert "style=" not in page.text and "<script>" not in page.text  # the CSP allows neither
    hid = re.search(r'name="household_id" value="([^"]+)"', page.text).group(1)

    added = client.post("/pantry/items", headers=headers, data={"household_id": hid, "name": "두부", "quantity": "1"},
                        files={"photo": ("tofu.png", png_bytes(), "image/png")})
    assert added.status_code == 200
    assert 'id="undo-toast"' in added.text and "due-ok" in added.text and "두부" in added.text
    item_id = re.search(r'data-item="([^"]+)"', added.text).group(1)
    photo = alice.get(f"/api/v1/pantry/items/{item_id}").json()["photo_file_id"]
    assert photo and alice.get(f"/api/v1/files/{photo}").status_code == 200
    described = alice.get(f"/api/v1/files/{photo}").json()  # the household sees the item, so its photo too
    assert (described["visibility"], described["household_id"]) == ("household", hid)

    used = client.post(f"/pantry/items/{item_id}/consume", headers=headers, data={"household_id": hid})
    assert "data-item" not in used.text  # gone from the fridge
    event_id = re.search(r'name="event_id" value="([^"]+)"', used.text).group(1)
    back = client.post("/pantry/undo", headers=headers, data={"household_id": hid, "event_id": event_id})
    assert f'data-item="{item_id}"' in back.text
    too_much = client.post(f"/pantry/items/{item_id}/consume", headers=headers,
                           data={"household_id": hid, "quantity": "5"})
    assert 'class="alert error"' in too_much.text

    soon = client.get("/pantry?tab=soon")
    assert soon.status_code == 200 and 'id="use-soon"' in soon.text
    client.post(f"/pantry/items/{item_id}/discard", headers=headers, data={"household_id": hid})
    waste = client.get("/pantry?tab=waste")
    assert waste.status_code == 200 and '<rect class="thrown"' in waste.text and "100%" in waste.text


def test_pwa_manifest_and_icons_are_served(client: TestClient) -> None:
    manifest = client.get("/static/pantry/manifest.webmanifest")
    assert manifest.status_code == 200
    body = json.loads(manifest.text)
    assert body["start_url"] == "/pantry" and body["display"] == "standalone"
    for icon in body["icons"]:
        assert client.get(icon["src"]).status_code == 200
    assert client.get("/static/pantry/pantry.css").status_code == 200


def test_recommend_plain_form_post_needs_the_hidden_csrf_token(client: TestClient, alice: Account) -> None:
    """Without JavaScript the form posts its hidden token (no header): it counts, a wrong or missing one does not."""
    login(client)
    page = client.get("/pantry/recommend", headers={"accept-language": "ko"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert 'method="post" action="/pantry/recommend"' in page.text and "/static/pantry/recommend.js" in page.text
    form = {"extra": "두부, 김치", "exclude": "두부조림"}
    for bad in ({}, {"csrf_token": "wrong"}):
        refused = client.post("/pantry/recommend", data={**form, **bad}, headers={"accept": "text/html"})
        assert refused.status_code == 403
    answered = client.post("/pantry/recommend", data={**form, "csrf_token": token},
                           headers={"accept": "text/html", "accept-language": "ko"})
    # No model configured here: the whole page again, with the reason in the reader's language.
    assert answered.status_code == 200
    assert '<div id="msg" class="alert error" role="alert">설정된 LLM이 없습니다' in answered.text
    assert 'id="recommend-form"' in answered.text


def test_a_photo_stored_for_an_item_the_form_then_refuses_is_swept(client: TestClient, alice: Account) -> None:
    """The photo is stored before the place is checked; the refusal rolls the rows back, and the blob
    (left in the store for good before) becomes a sweep candidate."""
    from boda.core.models import BlobOrphan, StoredFile
    from boda.core.uploads import sweep_orphans

    headers = login(client)
    client.post("/pantry/start", headers=headers)
    hid = re.search(r'name="household_id" value="([^"]+)"', client.get("/pantry").text).group(1)
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    photo = png_bytes((96, 64), color=(12, 200, 90))
    refused = client.post("/pantry/items", headers=headers, files={"photo": ("leek.png", photo, "image/png")},
                          data={"household_id": hid, "name": "대파", "place_id": "no-such-place"})
    assert refused.status_code == 200 and 'class="alert error"' in refused.text
    with runtime.db.session() as session:
        assert session.query(StoredFile).count() == 0
        orphans = [o.blob_key for o in session.query(BlobOrphan)]
    assert len(orphans) == 1 and runtime.store.exists(orphans[0])
    assert sweep_orphans(runtime.db, runtime.store, grace_seconds=0) == 1 and not runtime.store.exists(orphans[0])
