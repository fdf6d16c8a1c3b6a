"""Households: consent by invitation, leaving and removal, hand-over, and household visibility.

Each test runs on SQLite and PostgreSQL (the `client` fixture). The people:
alice owns the household, bob is invited, carol is a stranger.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from boda.apps.vision.models import Anonymization
from boda.core import households
from boda.core.auth import Scope, create_user, get_visible, set_visibility
from boda.core.db import utcnow
from boda.core.errors import Conflict, Forbidden, Gone, InvalidInput, NotFound
from boda.core.models import HouseholdInvite, StoredFile, Visibility
from boda.core.runtime import Runtime
from tests.conftest import PASSWORD, Account, make_account, png_bytes


@pytest.fixture
def carol(runtime: Runtime, client: TestClient) -> Account:
    return make_account(runtime, client, "carol")


def _household(owner: Account, name: str = "우리 집") -> str:
    made = owner.post("/api/v1/households", json={"name": name})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def _invite(owner: Account, household_id: str, **body: object) -> dict:
    made = owner.post(f"/api/v1/households/{household_id}/invites", json=body)
    assert made.status_code == 201, made.text
    return made.json()


def _join(owner: Account, household_id: str, member: Account) -> None:
    code = _invite(owner, household_id)["code"]
    assert member.post(f"/api/v1/invites/{code}/accept").status_code == 200


def _household_file(owner: Account, household_id: str) -> dict:
    made = owner.post("/api/v1/vision/anonymize", files={"file": ("a.png", png_bytes(), "image/png")})
    assert made.status_code == 201, made.text
    file_id = made.json()["anonymized"]["id"]
    shared = owner.patch(f"/api/v1/files/{file_id}", json={"visibility": "household", "household_id": household_id})
    assert shared.status_code == 200, shared.text
    return shared.json()


def _sees(account: Account, file: dict) -> bool:
    meta, content = account.get(f"/api/v1/files/{file['id']}"), account.get(file["url"])
    assert meta.status_code == content.status_code, (meta.text, content.status_code)
    assert meta.status_code in (200, 404), meta.text
    return meta.status_code == 200


def test_household_names_are_what_the_schema_says(client: TestClient, alice: Account) -> None:
    for blank in ("", "\u001c", " \u3000 ", "\ufeff", "\u0000\n"):
        refused = alice.post("/api/v1/households", json={"name": blank})
        assert refused.status_code == 422, repr(blank)
    made = alice.post("/api/v1/households", json={"name": "\u0000 Kim\u001f family "})
    assert made.status_code == 201 and made.json()["name"] == "Kim family"  # controls dropped, then trimmed
    pattern = client.get("/openapi.json").json()["components"]["schemas"]["HouseholdIn"]["properties"]["name"]
    assert pattern["pattern"] == households.NAME_PATTERN


# --- invitations ---------------------------------------------------------------

def test_invite_accept_then_member_reads_household_file(client: TestClient, alice: Account, bob: Account,
                                                        carol: Account) -> None:
    home = _household(alice)
    file = _household_file(alice, home)
    assert file["visibility"] == "household" and file["household_id"] == home
    assert not _sees(bob, file)  # not yet: an invitation is not membership
    invite = _invite(alice, home)
    assert invite["url"] == f"/invite/{invite['code']}" and invite["max_uses"] == 1 and invite["uses"] == 0
    preview = bob.get(f"/api/v1/invites/{invite['code']}")
    assert preview.status_code == 200
    assert set(preview.json()) == {"household_name", "inviter_name", "expires_at"}
    assert preview.json()["household_name"] == "우리 집"
    assert bob.get(f"/api/v1/households/{home}").status_code == 404  # the code shows no members
    joined = bob.post(f"/api/v1/invites/{invite['code']}/accept")
    assert joined.status_code == 200 and joined.json()["role"] == "member"
    assert {m["username"]: m["role"] for m in joined.json()["members"]} == {"alice": "owner", "bob": "member"}
    assert _sees(bob, file) and bob.get(file["url"]).content[:4] == b"\x89PNG"
    assert not _sees(carol, file) and client.get(file["url"]).status_code == 404
    assert [h["id"] for h in bob.get("/api/v1/households").json()] == [home]
    assert carol.get("/api/v1/households").json() == []


def test_member_who_leaves_loses_access_at_once(client: TestClient, alice: Account, bob: Account) -> None:
    home = _household(alice)
    file = _household_file(alice, home)
    _join(alice, home, bob)
    assert _sees(bob, file)
    assert bob.post(f"/api/v1/households/{home}/leave").status_code == 204
    assert not _sees(bob, file)
    assert bob.get(f"/api/v1/households/{home}").status_code == 404
    assert [m["username"] for m in alice.get(f"/api/v1/households/{home}").json()["members"]] == ["alice"]


def test_removed_member_loses_access_at_once(client: TestClient, alice: Account, bob: Account) -> None:
    home = _household(alice)
    file = _household_file(alice, home)
    _join(alice, home, bob)
    assert _sees(bob, file)
    bobs = _household_file(bob, home)
    assert _sees(alice, bobs)
    assert alice.delete(f"/api/v1/households/{home}/members/{bob.id}").status_code == 204
    assert not _sees(bob, file)
    assert not _sees(alice, bobs) and _sees(bob, bobs)  # what bob shared went with him
    gone = alice.delete(f"/api/v1/households/{home}/members/{bob.id}")
    assert gone.status_code == 409 and "not a member" in gone.json()["error"]["message"]  # the household is there
    removing_owner = alice.delete(f"/api/v1/households/{home}/members/{alice.id}")
    assert removing_owner.status_code == 409 and removing_owner.json()["error"]["code"] == "conflict"  # leave instead


def test_expired_invite_is_refused_clearly(client: TestClient, runtime: Runtime, alice: Account,
                                           bob: Account) -> None:
    home = _household(alice)
    invite = _invite(alice, home)
    with runtime.db.session() as session:
        session.execute(update(HouseholdInvite).where(HouseholdInvite.id == invite["id"])
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
    for response in (bob.get(f"/api/v1/invites/{invite['code']}"),
                     bob.post(f"/api/v1/invites/{invite['code']}/accept")):
        assert response.status_code == 410
        assert response.json()["error"]["code"] == "gone" and "expired" in response.json()["error"]["message"]
    korean = bob.post(f"/api/v1/invites/{invite['code']}/accept", headers={"accept-language": "ko"})
    assert "만료" in korean.json()["error"]["message"]
    assert bob.get(f"/api/v1/households/{home}").status_code == 404
    assert alice.get(f"/api/v1/households/{home}/invites").json() == []  # no longer pending


def test_invite_expiry_comes_from_the_setting(client: TestClient, alice: Account) -> None:
    home = _household(alice)
    expires = _invite(alice, home)["expires_at"]
    from datetime import datetime

    days = (datetime.fromisoformat(expires) - utcnow()).total_seconds() / 86400
    assert 6.99 < days <= 7.0


def test_declined_invite_cannot_be_accepted(client: TestClient, alice: Account, bob: Account) -> None:
    home = _household(alice)
    code = _invite(alice, home)["code"]
    assert bob.post(f"/api/v1/invites/{code}/decline").status_code == 204
    refused = bob.post(f"/api/v1/invites/{code}/accept")
    assert refused.status_code == 410 and "declined" in refused.json()["error"]["message"]
    assert bob.get("/api/v1/households").json() == []


def test_used_invite_cannot_be_reused(client: TestClient, alice: Account, bob: Account, carol: Account) -> None:
    home = _household(alice)
    code = _invite(alice, home)["code"]
    assert bob.post(f"/api/v1/invites/{code}/accept").status_code == 200
    refused = carol.post(f"/api/v1/invites/{code}/accept")
    assert refused.status_code == 410 and "already been used" in refused.json()["error"]["message"]
    assert carol.get(f"/api/v1/households/{home}").status_code == 404


def test_multi_use_invite_and_already_member(client: TestClient, alice: Account, bob: Account,
                                             carol: Account) -> None:
    home = _household(alice)
    code = _invite(alice, home, max_uses=2)["code"]
    assert alice.post(f"/api/v1/invites/{code}/accept").status_code == 409  # already in: no use spent
    assert bob.post(f"/api/v1/invites/{code}/accept").status_code == 200
    assert bob.post(f"/api/v1/invites/{code}/accept").status_code == 409
    assert carol.post(f"/api/v1/invites/{code}/accept").status_code == 200
    assert len(alice.get(f"/api/v1/households/{home}").json()["members"]) == 3
    assert alice.post(f"/api/v1/households/{home}/invites", json={"max_uses": 0}).status_code == 422


def test_revoked_invite_is_gone(client: TestClient, alice: Account, bob: Account) -> None:
    home = _household(alice)
    first, second = _invite(alice, home), _invite(alice, home)
    assert [i["id"] for i in alice.get(f"/api/v1/households/{home}/invites").json()] == [first["id"], second["id"]]
    assert "code" not in alice.get(f"/api/v1/households/{home}/invites").json()[0]  # shown once only
    assert alice.delete(f"/api/v1/households/{home}/invites/{first['id']}").status_code == 204
    assert bob.post(f"/api/v1/invites/{first['code']}/accept").status_code == 404
    assert bob.post(f"/api/v1/invites/{second['code']}/accept").status_code == 200


def test_anonymous_callers_cannot_use_invites(client: TestClient, alice: Account) -> None:
    code = _invite(alice, _household(alice))["code"]
    assert client.get(f"/api/v1/invites/{code}").status_code == 401
    assert client.post(f"/api/v1/invites/{code}/accept").status_code == 401


# --- who may do what ---------------------------------------------------------

def test_members_cannot_manage_and_strangers_learn_nothing(client: TestClient, alice: Account, bob: Account,
                                                          carol: Account) -> None:
    home = _household(alice)
    _join(alice, home, bob)
    invite_id = _invite(alice, home)["id"]
    attempts = {
        "invite": ("post", f"/api/v1/households/{home}/invites", {}),
        "invites": ("get", f"/api/v1/households/{home}/invites", None),
        "revoke": ("delete", f"/api/v1/households/{home}/invites/{invite_id}", None),
        "remove": ("delete", f"/api/v1/households/{home}/members/{alice.id}", None),
        "role": ("patch", f"/api/v1/households/{home}/members/{alice.id}", {"role": "member"}),
        "transfer": ("post", f"/api/v1/households/{home}/transfer", {"user_id": bob.id}),
        "rename": ("patch", f"/api/v1/households/{home}", {"name": "mine now"}),
        "delete": ("delete", f"/api/v1/households/{home}", None),
    }
    for name, (method, url, body) in attempts.items():
        kw = {"json": body} if body is not None else {}
        as_member = getattr(bob, method)(url, **kw)
        assert as_member.status_code == 403, (name, as_member.text)  # bob knows it exists
        as_stranger = getattr(carol, method)(url, **kw)
        assert as_stranger.status_code == 404, (name, as_stranger.text)
        # Exactly the answer for a household that does not exist.
        nowhere = getattr(carol, method)(url.replace(home, "0" * len(home)), **kw)
        assert nowhere.status_code == 404
        assert as_stranger.json() == _swap(nowhere.json(), "0" * len(home), home), name
    assert carol.get(f"/api/v1/households/{home}").status_code == 404
    assert carol.post(f"/api/v1/households/{home}/leave").status_code == 404
    assert alice.get(f"/api/v1/households/{home}").json()["name"] == "우리 집"


def _swap(body: dict, old: str, new: str) -> dict:
    import json

    return json.loads(json.dumps(body).replace(old, new))  # type: ignore[no-any-return]


def test_admins_invite_but_do_not_remove(client: TestClient, alice: Account, bob: Account,
                                         carol: Account) -> None:
    home = _household(alice)
    _join(alice, home, bob)
    made = alice.patch(f"/api/v1/households/{home}/members/{bob.id}", json={"role": "admin"})
    assert made.status_code == 200 and {m["id"]: m["role"] for m in made.json()["members"]}[bob.id] == "admin"
    assert alice.patch(f"/api/v1/households/{home}/members/{bob.id}", json={"role": "owner"}).status_code == 422
    assert alice.patch(f"/api/v1/households/{home}/members/{alice.id}", json={"role": "member"}).status_code == 409
    nobody = alice.patch(f"/api/v1/households/{home}/members/{carol.id}", json={"role": "admin"})
    assert nobody.status_code == 409 and nobody.json()["error"]["code"] == "conflict"  # carol is not in it yet
    code = _invite(bob, home)["code"]
    assert carol.post(f"/api/v1/invites/{code}/accept").status_code == 200
    assert bob.delete(f"/api/v1/households/{home}/members/{carol.id}").status_code == 403
    # An admin's links die with their membership.
    pending = _invite(bob, home)["code"]
    assert alice.delete(f"/api/v1/households/{home}/members/{bob.id}").status_code == 204
    dave = make_account(client.app.state.runtime, client, "dave")  # type: ignore[attr-defined]
    assert dave.post(f"/api/v1/invites/{pending}/accept").status_code == 404


def test_owner_hands_over_then_leaves(client: TestClient, alice: Account, bob: Account) -> None:
    home = _household(alice)
    file = _household_file(alice, home)
    _join(alice, home, bob)
    refused = alice.post(f"/api/v1/households/{home}/leave")
    assert refused.status_code == 409 and "Hand the household over" in refused.json()["error"]["message"]
    assert alice.post(f"/api/v1/households/{home}/transfer", json={"user_id": alice.id}).status_code == 409
    assert alice.post(f"/api/v1/households/{home}/transfer", json={"user_id": "x" * 36}).status_code == 409
    handed = alice.post(f"/api/v1/households/{home}/transfer", json={"user_id": bob.id})
    assert handed.status_code == 200 and handed.json()["role"] == "admin"
    assert {m["id"]: m["role"] for m in handed.json()["members"]} == {bob.id: "owner", alice.id: "admin"}
    assert alice.post(f"/api/v1/households/{home}/transfer", json={"user_id": bob.id}).status_code == 403
    assert bob.patch(f"/api/v1/households/{home}", json={"name": "bob's"}).json()["name"] == "bob's"
    assert _sees(bob, file)
    assert alice.post(f"/api/v1/households/{home}/leave").status_code == 204
    assert _sees(alice, file)  # her own file, still
    assert not _sees(bob, file)  # what she shared left with her
    assert alice.get(f"/api/v1/files/{file['id']}").json()["visibility"] == "private"
    assert bob.get(f"/api/v1/households/{home}").json()["role"] == "owner"


def test_the_last_member_deletes_rather_than_leaves(client: TestClient, runtime: Runtime, alice: Account,
                                                    bob: Account) -> None:
    home = _household(alice)
    file = _household_file(alice, home)
    refused = alice.post(f"/api/v1/households/{home}/leave")
    assert refused.status_code == 409 and "delete the household" in refused.json()["error"]["message"]
    assert alice.get(f"/api/v1/households/{home}").status_code == 200  # leaving never deletes
    assert alice.delete(f"/api/v1/households/{home}").status_code == 204
    assert alice.get(f"/api/v1/households/{home}").status_code == 404
    assert _sees(alice, file)
    after = alice.get(f"/api/v1/files/{file['id']}").json()
    assert after["household_id"] is None and after["visibility"] == "private"


def test_household_id_is_set_null_when_the_row_goes(runtime: Runtime, client: TestClient) -> None:
    """The foreign key's own fallback, for households deleted outside the service."""
    with runtime.db.session() as session:
        owner = create_user(session, username="olga", password=PASSWORD)
        home = households.create(session, user_id=owner.id, name="home")
        row = StoredFile(owner_id=owner.id, blob_key="k", content_type="image/png", size=1)
        session.add(row)
        session.flush()
        set_visibility(session, row, Visibility.household, scope=Scope.of(owner), household_id=home.id)
        session.flush()
        session.delete(home)
        session.flush()
        session.expire(row)
        assert row.household_id is None


def test_deleting_a_household_ends_sharing(client: TestClient, alice: Account, bob: Account) -> None:
    home = _household(alice)
    file = _household_file(alice, home)
    _join(alice, home, bob)
    bobs = _household_file(bob, home)
    assert _sees(alice, bobs)
    assert alice.delete(f"/api/v1/households/{home}").status_code == 204
    assert not _sees(bob, file) and _sees(alice, file)
    assert not _sees(alice, bobs) and _sees(bob, bobs)
    assert bob.get("/api/v1/households").json() == []


def test_no_username_enumeration(client: TestClient, alice: Account, bob: Account) -> None:
    home = _household(alice)
    # The old add-by-username route is gone: the same answer for a real name and a made-up one.
    real = alice.post(f"/api/v1/households/{home}/members", json={"username": "bob"})
    made_up = alice.post(f"/api/v1/households/{home}/members", json={"username": "nobody-here"})
    assert real.status_code == made_up.status_code and real.status_code in (404, 405)
    assert real.json() == made_up.json()
    assert bob.get("/api/v1/households").json() == []
    schema = client.app.openapi()  # type: ignore[attr-defined]
    bodies = {name: str(body) for name, body in schema["components"]["schemas"].items()
              if name in ("HouseholdIn", "InviteIn", "RoleIn", "TransferIn")}
    assert len(bodies) == 4 and not any("username" in body for body in bodies.values())  # nothing takes a name


# --- household visibility ----------------------------------------------------

def test_household_visibility_needs_a_household_of_mine(client: TestClient, alice: Account,
                                                        carol: Account) -> None:
    mine, theirs = _household(alice), _household(carol, "carol's")
    made = alice.post("/api/v1/vision/anonymize", files={"file": ("a.png", png_bytes(), "image/png")}).json()
    url = f"/api/v1/files/{made['anonymized']['id']}"
    # The schema says it: household visibility names a household, the others none.
    for body in ({"visibility": "household"}, {"visibility": "public", "household_id": mine},
                 {"visibility": "private", "household_id": mine}):
        refused = alice.patch(url, json=body)
        assert refused.status_code == 422, body
    # A household she is not in is not found, exactly like one that does not exist.
    theirs_answer = alice.patch(url, json={"visibility": "household", "household_id": theirs})
    nowhere = alice.patch(url, json={"visibility": "household", "household_id": "0" * 36})
    assert theirs_answer.status_code == nowhere.status_code == 404
    assert theirs_answer.json() == _swap(nowhere.json(), "0" * 36, theirs)
    assert alice.get(url).json()["visibility"] == "private"
    shared = alice.patch(url, json={"visibility": "household", "household_id": mine}).json()
    assert shared["household_id"] == mine and shared["share_url"] is None
    private = alice.patch(url, json={"visibility": "private"}).json()
    assert private["household_id"] is None and private["visibility"] == "private"


def test_scope_reads_and_writes_on_every_owned_model(runtime: Runtime, client: TestClient) -> None:
    """The core rule, below the API: member, ex-member and stranger, for files and Vision's rows."""
    with runtime.db.session() as session:
        owner, member, stranger = (create_user(session, username=n, password=PASSWORD)
                                   for n in ("olga", "mina", "sam"))
        home = households.create(session, user_id=owner.id, name="home")
        _, code = households.invite(session, household_id=home.id, user_id=owner.id, days=1)
        households.accept(session, code=code, user_id=member.id)
        original = StoredFile(owner_id=owner.id, blob_key="k", content_type="image/png", size=1)
        copy = StoredFile(owner_id=owner.id, blob_key="k", content_type="image/png", size=1)
        session.add_all([original, copy])
        session.flush()
        photo = Anonymization(owner_id=owner.id, original_id=original.id, anonymized_id=copy.id, method="blur",
                              detector="haar", threshold=0.5, strength=1.0)
        session.add(photo)
        session.flush()
        rows: list[StoredFile | Anonymization] = [copy, photo]
        for row in rows:
            model = type(row)
            set_visibility(session, row, Visibility.household, scope=Scope.of(owner), household_id=home.id)
            session.flush()
            assert get_visible(session, model, row.id, Scope.of(member)) is row
            with pytest.raises(NotFound):  # read, not write, unless the app says so
                get_visible(session, model, row.id, Scope.of(member), write=True)
            assert get_visible(session, model, row.id, Scope.of(member), write=True, household_write=True) is row
            for outsider in (Scope.of(stranger), Scope.of(None)):
                with pytest.raises(NotFound):
                    get_visible(session, model, row.id, outsider)
                with pytest.raises(NotFound):
                    get_visible(session, model, row.id, outsider, write=True, household_write=True)
        with pytest.raises(NotFound):
            set_visibility(session, original, Visibility.household, scope=Scope.of(stranger), household_id=home.id)
        households.leave(session, household_id=home.id, user_id=member.id)
        for row in rows:
            with pytest.raises(NotFound):
                get_visible(session, type(row), row.id, Scope.of(member))
        assert session.scalars(select(StoredFile.id).where(Scope.of(member).readable(StoredFile))).all() == []


def test_service_rules(runtime: Runtime, client: TestClient) -> None:
    with runtime.db.session() as session:
        owner, member = (create_user(session, username=n, password=PASSWORD) for n in ("olga", "mina"))
        home = households.create(session, user_id=owner.id, name="  home  ")
        assert home.name == "home"
        for blank in ("   ", "\x1c", "\x00\u3000", "\ufeff"):
            with pytest.raises(InvalidInput):
                households.rename(session, household_id=home.id, user_id=owner.id, name=blank)
        assert households.rename(session, household_id=home.id, user_id=owner.id, name="\x00 home\x1f").name == "home"
        _, code = households.invite(session, household_id=home.id, user_id=owner.id, days=1)
        households.accept(session, code=code, user_id=member.id)
        with pytest.raises(Forbidden):
            households.invite(session, household_id=home.id, user_id=member.id, days=1)
        with pytest.raises(Gone):
            households.accept(session, code=code, user_id=member.id)
        with pytest.raises(NotFound):
            households.open_invite(session, code="no-such-code")
        with pytest.raises(Conflict):
            households.leave(session, household_id=home.id, user_id=owner.id)


# --- pages -------------------------------------------------------------------

def _browser_login(client: TestClient, username: str) -> None:
    ok = client.post("/login", data={"username": username, "password": PASSWORD}, follow_redirects=False)
    assert ok.status_code == 303


def test_account_page_lists_households_and_invite_page(client: TestClient, alice: Account, bob: Account) -> None:
    home = _household(alice, "Kim <family>")
    _join(alice, home, bob)
    code = _invite(alice, home)["code"]
    away = client.get(f"/invite/{code}", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"] == f"/login?next=/invite/{code}"
    _browser_login(client, "alice")
    page = client.get("/account", headers={"accept-language": "en"}).text
    assert "Kim &lt;family&gt;" in page and "Kim <family>" not in page
    assert f'data-household="{home}"' in page and "@bob" in page and "Make an invitation link" in page
    assert "/static/households.js" in page and "<script>" not in page  # no inline script (CSP)
    assert client.get("/static/households.js").status_code == 200
    assert "이미 이 가구의 구성원입니다" in client.get(f"/invite/{code}", headers={"accept-language": "ko"}).text
    _browser_login(client, "bob")
    bob_page = client.get("/account", headers={"accept-language": "ko"}).text
    assert "초대 링크 만들기" not in bob_page and "나가기" in bob_page  # members do not invite


def test_invite_page_shows_who_invites_and_why_a_link_is_dead(client: TestClient, alice: Account,
                                                              bob: Account) -> None:
    code = _invite(alice, _household(alice, "우리 집"))["code"]
    _browser_login(client, "bob")
    page = client.get(f"/invite/{code}", headers={"accept-language": "ko"})
    assert page.status_code == 200 and "우리 집" in page.text and "alice" in page.text
    assert 'data-invite-action="accept"' in page.text
    assert bob.post(f"/api/v1/invites/{code}/decline").status_code == 204
    dead = client.get(f"/invite/{code}", headers={"accept": "text/html", "accept-language": "ko"})
    assert dead.status_code == 410 and "거절된 초대" in dead.text
    assert client.get("/invite/nonsense", headers={"accept": "text/html"}).status_code == 404
