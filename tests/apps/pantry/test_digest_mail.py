"""The daily digest e-mail through a real SMTP server (tests/smtp.py): in the reader's language, from the hour
in its time zone, once a day, only to those who asked and have something to read; a refused send is retried."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from boda.apps.pantry import digest
from boda.apps.pantry.models import DigestPreference
from boda.core.errors import Unavailable
from boda.core.models import Job, User
from boda.core.runtime import Runtime
from tests.apps.pantry.test_api import household
from tests.apps.pantry.test_digest import _add, at
from tests.conftest import Account, make_account, make_settings
from tests.smtp import smtp_server

API = "/api/v1/pantry"


@pytest.fixture
def smtp() -> Iterator[Any]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def settings(tmp_path: Path, db_url: str, smtp: Any):  # noqa: ANN201 - overrides conftest's: mail goes to `smtp`
    return make_settings(tmp_path, db_url, smtp={"url": f"smtp://digest%40boda:s3cret%21@127.0.0.1:{smtp.port}",
                                                 "sender": "boda@example.org"},
                         pantry={"digest_hour": 9, "digest_timezone": "Asia/Seoul"})


def _locale(runtime: Runtime, account: Account, locale: str) -> None:
    with runtime.db.session() as session:
        session.get(User, account.id).locale = locale


def _jobs(runtime: Runtime) -> list[Job]:
    with runtime.db.session() as session:
        return list(session.scalars(select(Job).where(Job.kind == "pantry.digest_mail").order_by(Job.id)))


def test_the_daily_mail_goes_once_a_day_to_those_who_asked(runtime: Runtime, client: TestClient, smtp: Any,
                                                           alice: Account, bob: Account) -> None:
    carol = make_account(runtime, client, "carol")
    hid = household(alice, "우리 집")
    _add(alice, hid, "우유", -1)
    _add(alice, hid, "두부", 1)
    _add(alice, hid, "쌀", 300)
    bob_home = household(bob, "Bob's")
    _add(bob, bob_home, "milk", -1)  # bob has something past but never asked for mail
    household(carol, "Carol's")
    _add(carol, household(carol, "Carol's 2"), "rice", 300)  # carol asked, but nothing is due: no mail
    _locale(runtime, alice, "ko")
    for account, enabled in ((alice, True), (bob, False), (carol, True)):
        wish = {"enabled": enabled, "email": f"{account.username}@example.org"}
        assert account.put(f"{API}/digest/preference", json=wish).status_code == 200
    assert alice.get(f"{API}/digest/preference").json()["mail_configured"] is True

    from boda.core.jobs import _app_periodic

    declared = {task.name: task for task in _app_periodic(runtime.settings)}["pantry.digest"]  # the spec's periodic
    assert declared.func is digest.queue_digests and declared.every == digest.CHECK_SECONDS
    today = datetime.now(UTC).date()
    before = at(today - timedelta(days=1), 23, 50)  # 08:50 in Seoul: before pantry.digest_hour (9)
    assert digest.queue_digests(runtime, now=before) == 0 and smtp.messages == []
    morning = at(today, 0, 10)  # 09:10 in Seoul
    assert digest.queue_digests(runtime, now=morning) == 2  # alice and carol (bob did not opt in)
    assert len(smtp.messages) == 1  # the jobs ran (jobs.immediate): carol had nothing to read
    sender, recipients, mail = smtp.messages[0]
    assert (sender, recipients) == ("boda@example.org", ["alice@example.org"])
    assert mail["Subject"] == f"[Boda] 오늘의 알림 {today.isoformat()}: 기한 지남 1, 곧 먹을 것 1"
    text = mail.get_content()
    assert "우유: 1일 지남" in text and "두부: 내일까지" in text and "쌀" not in text and "milk" not in text
    assert smtp.logins == [("digest@boda", "s3cret!")]  # URL-encoded credentials, decoded
    assert sorted(j.result["reason"] if not j.result["sent"] else "sent" for j in _jobs(runtime)) == [
        "nothing_due", "sent"]

    assert digest.queue_digests(runtime, now=morning + timedelta(hours=5)) == 0  # not twice the same day
    assert digest.send_digest(runtime, alice.id, today) == {"sent": False, "reason": "already_sent"}
    assert len(smtp.messages) == 1
    with runtime.db.session() as session:
        assert session.get(DigestPreference, alice.id).sent_on == today

    tomorrow = morning + timedelta(days=1)
    assert digest.queue_digests(runtime, now=tomorrow) == 2
    assert len(smtp.messages) == 2 and "기한 지남 1, 곧 먹을 것 1" in smtp.messages[1][2]["Subject"]
    text = smtp.messages[1][2].get_content()
    assert "우유: 2일 지남" in text and "두부: 오늘까지" in text  # days count from Seoul's date


def test_smtp_settings_are_checked_at_start_and_the_password_hidden() -> None:
    from boda.core.config import Settings, masked

    shown = masked(Settings(smtp={"url": "smtp://boda:pw123@mail.example.org:587"}))["smtp"]["url"]
    assert shown == "smtp://boda:********@mail.example.org:587"
    for wrong in ("mailto://boda@example.org", "smtp://", "mail.example.org:25"):
        with pytest.raises(ValueError, match="smtp://user:password@host:587"):
            Settings(smtp={"url": wrong})


def test_a_refused_send_gives_the_day_back(runtime: Runtime, smtp: Any, alice: Account) -> None:
    hid = household(alice)
    _add(alice, hid, "milk", 0)
    alice.put(f"{API}/digest/preference", json={"enabled": True, "email": "alice@example.org"})
    today = datetime.now(UTC).date()
    smtp.refuse = True
    with pytest.raises(Unavailable):
        digest.send_digest(runtime, alice.id, today)
    with runtime.db.session() as session:
        assert session.get(DigestPreference, alice.id).sent_on is None  # the job's retry will send
    smtp.refuse = False
    assert digest.send_digest(runtime, alice.id, today)["sent"] is True
    _, _, mail = smtp.messages[0]
    assert mail["Subject"].startswith("[Boda] Today's digest") and "milk: due today" in mail.get_content()


def test_cli_digest_prints_and_sends(run: Callable[..., str], monkeypatch: pytest.MonkeyPatch) -> None:
    with smtp_server() as server:
        monkeypatch.setenv("BODA_SMTP__URL", f"smtp://127.0.0.1:{server.port}")
        monkeypatch.setenv("BODA_PANTRY__DIGEST_DAYS", "3")
        run("user", "create", "mina", "--password", "correct horse battery")
        run("pantry", "add", "삼겹살", "--user", "mina")  # 3 days in the fridge
        run("pantry", "add", "쌀", "--user", "mina")
        shown = run("pantry", "digest", "--user", "mina")
        assert "Today's digest" in shown and "pork belly" in shown and "3 days left" in shown and "rice" not in shown
        assert "Not sent: opted_out" in run("pantry", "digest", "--user", "mina", "--send")
        assert server.messages == []
        assert "not an e-mail address" in run("pantry", "digest", "--user", "mina", "--email", "nope", code=1)
        sent = run("pantry", "digest", "--user", "mina", "--email", "mina@example.org", "--send")
        assert "Sent to mina@example.org" in sent and len(server.messages) == 1
        assert "pork belly (samgyeopsal): 3 days left" in server.messages[0][2].get_content()
        assert "Not sent: already_sent" in run("pantry", "digest", "--user", "mina", "--send")
        assert len(server.messages) == 1



def test_the_job_retries_after_the_mail_server_refused(runtime: Runtime, smtp: Any, alice: Account) -> None:
    """The first attempt meets a 451; the job is queued again (the immediate test queue keeps the delayed
    message, so the worker's own entry point runs the retry) and the second attempt sends it, once."""
    from boda.core.jobs import execute

    hid = household(alice)
    _add(alice, hid, "milk", 0)
    alice.put(f"{API}/digest/preference", json={"enabled": True, "email": "alice@example.org"})
    smtp.refuse_next = 1
    assert digest.queue_digests(runtime, now=at(datetime.now(UTC).date(), 0, 10)) == 1
    [job] = _jobs(runtime)
    assert (job.status, job.attempts, smtp.refused, smtp.messages) == ("queued", 1, 1, [])
    with runtime.db.session() as session:
        assert session.get(DigestPreference, alice.id).sent_on is None  # the day was given back
    execute(runtime, job.id)
    [job] = _jobs(runtime)
    assert (job.status, job.attempts, job.result["sent"]) == ("succeeded", 2, True)
    assert [m[1] for m in smtp.messages] == [["alice@example.org"]]
