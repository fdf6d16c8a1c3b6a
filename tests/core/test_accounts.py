"""Accounts: one's own password, disabling, roles, deletion and the last administrator."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from boda.core.models import BlobOrphan, HouseholdRole, StoredFile
from boda.core.runtime import Runtime
from tests.conftest import PASSWORD, Account

NEW = "a brand new passphrase"


def _login(client: TestClient, username: str, password: str = PASSWORD) -> tuple[str, str]:
    """Log in with a fresh cookie jar entry; returns (session cookie, CSRF token)."""
    client.cookies.clear()
    response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.cookies["boda_session"], response.json()["csrf_token"]


def _as_session(client: TestClient, cookie: str, method: str, url: str, csrf: str = "", **kw: object):  # noqa: ANN202
    client.cookies.clear()
    client.cookies.set("boda_session", cookie)
    return client.request(method, url, headers={"X-CSRF-Token": csrf}, **kw)  # type: ignore[arg-type]


def test_change_password_ends_other_sessions_and_keeps_tokens(client: TestClient, alice: Account) -> None:
    first, _ = _login(client, "alice")
    second, csrf = _login(client, "alice")
    wrong = _as_session(client, second, "PUT", "/api/v1/users/me/password", csrf,
                        json={"current_password": "not it at all", "new_password": NEW})
    assert wrong.status_code == 403 and wrong.json()["error"]["message"] == "The current password is wrong"
    done = _as_session(client, second, "PUT", "/api/v1/users/me/password", csrf,
                       json={"current_password": PASSWORD, "new_password": NEW})
    assert done.status_code == 200, done.text
    assert done.json() == {"sessions_ended": 1, "tokens_kept": True}
    assert _as_session(client, first, "GET", "/api/v1/users/me").status_code == 401
    assert _as_session(client, second, "GET", "/api/v1/users/me").status_code == 200  # the one that asked
    client.cookies.clear()
    assert alice.get("/api/v1/users/me").status_code == 200  # tokens keep working
    old = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert old.status_code == 401
    _login(client, "alice", NEW)


def test_password_errors_in_korean_and_short_passwords(client: TestClient, alice: Account) -> None:
    ko = {"accept-language": "ko"}
    wrong = alice.put("/api/v1/users/me/password", headers=ko,
                      json={"current_password": "nope nope", "new_password": NEW})
    assert wrong.json()["error"]["message"] == "현재 비밀번호가 틀렸습니다."
    same = alice.put("/api/v1/users/me/password", json={"current_password": PASSWORD, "new_password": PASSWORD})
    assert same.status_code == 400 and "same" in same.json()["error"]["message"]
    short = alice.put("/api/v1/users/me/password", json={"current_password": PASSWORD, "new_password": "short"})
    assert short.status_code == 422


def test_disabled_users_tokens_and_sessions_stop_at_once(client: TestClient, admin: Account,
                                                         bob: Account) -> None:
    cookie, _ = _login(client, "bob")
    client.cookies.clear()
    off = admin.patch(f"/api/v1/users/{bob.id}", json={"is_active": False})
    assert off.status_code == 200 and off.json()["is_active"] is False
    assert bob.get("/api/v1/users/me").status_code == 401
    assert _as_session(client, cookie, "GET", "/api/v1/users/me").status_code == 401
    client.cookies.clear()
    assert client.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD}).status_code == 401
    assert admin.patch(f"/api/v1/users/{bob.id}", json={"is_active": True}).status_code == 200
    assert bob.get("/api/v1/users/me").status_code == 200  # the token works again; the session was ended
    assert _as_session(client, cookie, "GET", "/api/v1/users/me").status_code == 401


def test_admin_resets_a_password(client: TestClient, admin: Account, bob: Account) -> None:
    assert admin.patch(f"/api/v1/users/{bob.id}", json={"password": NEW}).status_code == 200
    _login(client, "bob", NEW)


def test_only_admins_manage_users(client: TestClient, alice: Account, bob: Account) -> None:
    assert alice.get("/api/v1/users").status_code == 403
    assert alice.patch(f"/api/v1/users/{bob.id}", json={"is_active": False}).status_code == 403
    assert alice.delete(f"/api/v1/users/{bob.id}").status_code == 403
    assert bob.get("/api/v1/users/me").status_code == 200


def test_the_last_admin_stays(client: TestClient, admin: Account, alice: Account) -> None:
    for change in ({"is_active": False}, {"role": "user"}):
        refused = admin.patch(f"/api/v1/users/{admin.id}", json=change)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "conflict"
    assert admin.delete(f"/api/v1/users/{admin.id}").status_code == 409
    assert admin.patch(f"/api/v1/users/{alice.id}", json={"role": "admin"}).status_code == 200
    assert admin.patch(f"/api/v1/users/{admin.id}", json={"role": "user"}).status_code == 200  # alice is one now
    assert alice.patch(f"/api/v1/users/{alice.id}", json={"is_active": False}).status_code == 409
    assert admin.get("/api/v1/users").status_code == 403
    assert {u["username"] for u in alice.get("/api/v1/users").json()} == {"alice", "root"}
    assert alice.delete("/api/v1/users/00000000-0000-0000-0000-000000000000").status_code == 404


def test_deleting_a_user_hands_over_households_and_frees_blobs(client: TestClient, runtime: Runtime,
                                                                admin: Account, alice: Account,
                                                                bob: Account) -> None:
    house = bob.post("/api/v1/households", json={"name": "flat"}).json()
    alone = bob.post("/api/v1/households", json={"name": "bob alone"}).json()
    code = bob.post(f"/api/v1/households/{house['id']}/invites", json={}).json()["code"]
    assert alice.post(f"/api/v1/invites/{code}/accept").status_code == 200
    stored = bob.post("/api/v1/vision/mnist-sample", json={"index": 3})
    assert stored.status_code == 200, stored.text
    assert admin.delete(f"/api/v1/users/{bob.id}").status_code == 204
    assert bob.get("/api/v1/users/me").status_code == 401
    flat = alice.get(f"/api/v1/households/{house['id']}").json()
    assert [(m["username"], m["role"]) for m in flat["members"]] == [("alice", HouseholdRole.owner)]
    assert alice.get(f"/api/v1/households/{alone['id']}").status_code == 404
    with runtime.db.session() as session:
        assert session.scalars(select(StoredFile).where(StoredFile.owner_id == bob.id)).all() == []
        assert session.scalars(select(BlobOrphan)).all()  # the sweep will remove the blob
    assert admin.delete(f"/api/v1/users/{bob.id}").status_code == 404


def test_tokens_have_names_and_dates(client: TestClient, alice: Account) -> None:
    made = alice.post("/api/v1/tokens", json={"name": "backup script"}).json()
    assert made["token"].startswith("boda_") and made["last_used_at"] is None
    client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {made['token']}"})
    listed = {t["name"]: t for t in alice.get("/api/v1/tokens").json()}
    assert listed["backup script"]["last_used_at"] is not None and listed["backup script"]["created_at"]
    assert "token" not in listed["backup script"] or listed["backup script"]["token"] is None
    assert alice.delete(f"/api/v1/tokens/{made['id']}").status_code == 204
    gone = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {made['token']}", "accept-language": "ko"})
    assert gone.status_code == 401 and gone.json()["error"]["message"] == "API 토큰이 잘못되었거나 취소되었습니다."


def test_account_page_lists_tokens_and_the_password_form(client: TestClient, alice: Account) -> None:
    alice.post("/api/v1/tokens", json={"name": "laptop"})
    _login(client, "alice")
    page = client.get("/account")
    assert page.status_code == 200
    assert 'id="password-form"' in page.text and "laptop" in page.text and "data-revoke=" in page.text
    assert 'id="households"' in page.text  # the households section stays
