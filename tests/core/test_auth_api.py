"""Accounts, sessions, CSRF, tokens, and that B never sees A's files (households: test_households.py)."""

from fastapi.testclient import TestClient

from tests.conftest import PASSWORD, Account, png_bytes


def _login(client: TestClient, username: str) -> str:
    response = client.post("/api/v1/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["csrf_token"]


def test_error_shape_for_anonymous(client: TestClient) -> None:
    response = client.get("/api/v1/users/me")
    assert response.status_code == 401
    body = response.json()
    assert body["error"]["code"] == "unauthorized" and body["error"]["message"]
    assert set(body["error"]) == {"code", "message", "details"}


def test_wrong_password_and_unknown_user(client: TestClient, alice: Account) -> None:
    for name, pw in (("alice", "wrong-password"), ("nobody", PASSWORD)):
        response = client.post("/api/v1/auth/login", json={"username": name, "password": pw})
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "Wrong username or password"


def test_session_cookie_needs_csrf_for_writes(client: TestClient, alice: Account) -> None:
    csrf = _login(client, "alice")
    assert client.get("/api/v1/users/me").json()["username"] == "alice"
    refused = client.post("/api/v1/tokens", json={"name": "x"})
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    wrong = client.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": "nope"})
    assert wrong.status_code == 403
    made = client.post("/api/v1/tokens", json={"name": "x"}, headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201 and made.json()["token"].startswith("boda_")


def test_logout_ends_the_session(client: TestClient, alice: Account) -> None:
    csrf = _login(client, "alice")
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/v1/users/me").status_code == 401


def test_tokens_list_and_revoke(client: TestClient, alice: Account) -> None:
    made = alice.post("/api/v1/tokens", json={"name": "laptop"}).json()
    listed = alice.get("/api/v1/tokens").json()
    assert {t["name"] for t in listed} == {"tests", "laptop"}
    assert all("token" not in t or t["token"] is None for t in listed)  # secrets never listed
    assert alice.delete(f"/api/v1/tokens/{made['id']}").status_code == 204
    revoked = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {made['token']}"})
    assert revoked.status_code == 401


def test_bad_bearer_token(client: TestClient) -> None:
    response = client.get("/api/v1/users/me", headers={"Authorization": "Bearer boda_forged"})
    assert response.status_code == 401


def test_only_admins_create_users(client: TestClient, alice: Account, admin: Account) -> None:
    body = {"username": "carol", "password": "long enough pw"}
    assert alice.post("/api/v1/users", json=body).status_code == 403
    created = admin.post("/api/v1/users", json=body)
    assert created.status_code == 201 and created.json()["role"] == "user"
    assert admin.post("/api/v1/users", json=body).status_code == 409
    short = admin.post("/api/v1/users", json={"username": "dave", "password": "short"})
    assert short.status_code == 422 and "8 characters" in short.json()["error"]["message"]


def test_other_users_private_file_is_404(client: TestClient, alice: Account, bob: Account) -> None:
    made = alice.post("/api/v1/vision/anonymize", files={"file": ("a.png", png_bytes(), "image/png")})
    assert made.status_code == 201, made.text
    original = made.json()["original"]
    assert alice.get(original["url"]).status_code == 200
    for url in (original["url"], f"/api/v1/files/{original['id']}"):
        response = bob.get(url)
        assert response.status_code == 404 and b"PNG" not in response.content
    assert client.get(original["url"]).status_code == 404  # anonymous
    assert bob.patch(f"/api/v1/files/{original['id']}", json={"visibility": "public"}).status_code == 404
    assert bob.get(f"/api/v1/vision/anonymizations/{made.json()['id']}").status_code == 404
    assert bob.delete(f"/api/v1/vision/anonymizations/{made.json()['id']}").status_code == 404


def test_unlisted_and_public_sharing(client: TestClient, alice: Account, bob: Account) -> None:
    made = alice.post("/api/v1/vision/anonymize", files={"file": ("a.png", png_bytes(), "image/png")}).json()
    copy_id = made["anonymized"]["id"]
    shared = alice.patch(f"/api/v1/files/{copy_id}", json={"visibility": "unlisted"})
    assert shared.status_code == 200
    from sqlalchemy import select

    from boda.core.models import StoredFile

    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.db.session() as session:
        token = session.scalar(select(StoredFile.share_token).where(StoredFile.id == copy_id))
    assert token and client.get(f"/api/v1/shared/{token}").status_code == 200
    assert bob.get(f"/api/v1/files/{copy_id}").status_code == 404  # unlisted is not listed
    alice.patch(f"/api/v1/files/{copy_id}", json={"visibility": "public"})
    assert bob.get(f"/api/v1/files/{copy_id}/content").status_code == 200
    alice.patch(f"/api/v1/files/{copy_id}", json={"visibility": "private"})
    assert client.get(f"/api/v1/shared/{token}").status_code == 404  # the link dies with privacy


def test_password_guessing_is_throttled(client: TestClient, alice: Account) -> None:
    for _ in range(10):
        wrong = client.post("/api/v1/auth/login", json={"username": "alice", "password": "guess-guess"})
        assert wrong.status_code == 401
    blocked = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD})
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
    assert blocked.json()["error"]["code"] == "rate_limited"
    assert client.post("/api/v1/auth/login", json={"username": "bob", "password": "x" * 9}).status_code == 401
