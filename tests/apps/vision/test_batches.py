"""A batch's results: listed by job, downloaded as one ZIP, kept when the batch is canceled."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, update

from boda.apps.vision.models import Anonymization
from boda.core.models import Job
from boda.core.runtime import Runtime
from tests.apps.vision.test_api import ASTRONAUT
from tests.apps.vision.test_heic import heic
from tests.conftest import Account, png_bytes


def start(account: Account, files: list[tuple[str, bytes, str]]) -> dict[str, Any]:
    response = account.post("/api/v1/vision/anonymize/batch", data={"method": "box"},
                            files=[("files", f) for f in files])
    assert response.status_code == 202, response.text
    return account.get(f"/api/v1/jobs/{response.json()['id']}").json()  # the test settings run jobs inline


def test_a_batch_zips_all_its_photos(alice: Account, bob: Account, runtime: Runtime) -> None:
    photo = ASTRONAUT.read_bytes()
    job = start(alice, [("party.jpg", photo, "image/jpeg"), ("party.jpg", photo[:-2] + b"\xff\xd9", "image/jpeg"),
                        ("IMG_1.HEIC", heic(photo), "image/heic")])
    assert job["status"] == "succeeded" and job["result"]["done"] == 3
    assert job["result"]["download_url"] == f"/api/v1/vision/batches/{job['id']}/zip"
    listed = alice.get(f"/api/v1/vision/anonymizations?job_id={job['id']}").json()
    assert listed["total"] == 3

    response = alice.get(job["result"]["download_url"])
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].startswith('attachment; filename="boda-anonymized-')
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.testzip() is None
    assert archive.namelist() == ["party_anonymized.jpg", "party_anonymized (2).jpg", "IMG_1_anonymized.jpg"]
    by_url = {item["anonymized"]["filename"]: item for item in listed["items"]}
    made = alice.get(by_url["IMG_1_anonymized.jpg"]["anonymized"]["url"]).content
    assert archive.read("IMG_1_anonymized.jpg") == made  # the stored copy, byte for byte

    assert bob.get(job["result"]["download_url"]).status_code == 404  # someone else's batch
    assert bob.get(f"/api/v1/vision/anonymizations?job_id={job['id']}").json()["total"] == 0
    assert alice.get("/api/v1/vision/batches/nope/zip").json()["error"]["code"] == "not_found"


def test_a_job_that_is_not_a_batch_has_no_zip(alice: Account, runtime: Runtime) -> None:
    kind = "core.selftest"
    with runtime.db.session() as session:
        row = Job(owner_id=alice.id, kind=kind, title="other")
        session.add(row)
        session.flush()
        job_id = row.id
    response = alice.get(f"/api/v1/vision/batches/{job_id}/zip")
    assert response.status_code == 404 and "not a batch" in response.json()["error"]["message"]


@pytest.fixture
def cancel_after_first_photo() -> Iterator[None]:
    """Ask for a cancel in the same transaction that records the batch's first photo, as a click would then."""
    def listener(mapper: Any, connection: Any, target: Anonymization) -> None:
        connection.execute(update(Job).where(Job.id == target.job_id).values(cancel_requested=True))

    event.listen(Anonymization, "after_insert", listener)
    yield
    event.remove(Anonymization, "after_insert", listener)


def test_a_canceled_batch_lists_and_zips_what_it_made(alice: Account, cancel_after_first_photo: None) -> None:
    photo = ASTRONAUT.read_bytes()
    job = start(alice, [("a.jpg", photo, "image/jpeg"), ("b.png", png_bytes((120, 90)), "image/png"),
                        ("c.jpg", photo, "image/jpeg")])
    assert job["status"] == "canceled", job
    assert job["result"]["done"] == 1 and job["result"]["photos"] == 3
    assert [i["anonymized_url"].startswith("/api/v1/files/") for i in job["result"]["items"]] == [True]
    assert alice.get(f"/api/v1/vision/anonymizations?job_id={job['id']}").json()["total"] == 1
    archive = zipfile.ZipFile(io.BytesIO(alice.get(job["result"]["download_url"]).content))
    assert archive.namelist() == ["a_anonymized.jpg"]


def test_a_batch_that_made_nothing_has_no_zip(alice: Account, runtime: Runtime) -> None:
    job = start(alice, [("a.png", png_bytes(), "image/png")])
    with runtime.db.session() as session:
        session.query(Anonymization).delete()
    response = alice.get(f"/api/v1/vision/batches/{job['id']}/zip")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_batch_errors_speak_korean(alice: Account, runtime: Runtime) -> None:
    job = start(alice, [("a.png", png_bytes(), "image/png")])
    with runtime.db.session() as session:
        session.query(Anonymization).delete()
    answer = alice.get(f"/api/v1/vision/batches/{job['id']}/zip", headers={"Accept-Language": "ko"}).json()
    assert answer["error"]["message"] == "이 묶음 작업은 아직 만든 사진이 없습니다."
