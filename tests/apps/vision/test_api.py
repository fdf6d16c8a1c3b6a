"""Vision's API end to end: MNIST samples, digits, faces, batches, bad input."""

from __future__ import annotations

import io
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from boda.core.models import StoredFile
from boda.core.runtime import Runtime
from tests.conftest import FIXTURES, PASSWORD, Account, png_bytes

ASTRONAUT = FIXTURES / "faces" / "astronaut.jpg"


def blob_count(runtime: Runtime) -> int:
    """Blobs left once the sweep has run with no grace period."""
    from boda.core.uploads import sweep_orphans

    sweep_orphans(runtime.db, runtime.store, grace_seconds=0)
    root = Path(runtime.store.root)
    return sum(1 for p in root.rglob("*") if p.is_file())


def file_count(runtime: Runtime) -> int:
    from sqlalchemy import func, select

    with runtime.db.session() as session:
        return session.scalar(select(func.count()).select_from(StoredFile)) or 0


# --- MNIST samples -----------------------------------------------------------

def test_mnist_sample_get_and_post(alice: Account, runtime: Runtime) -> None:
    from boda.apps.vision.mnist import load_mnist

    images, labels = load_mnist("train")
    got = alice.get("/api/v1/vision/mnist-sample").json()
    assert got["index"] == 100 and got["label"] == int(labels[100]) and got["has_noise"] is False
    assert file_count(runtime) == 0  # a GET stores nothing
    png = alice.get(got["image_url"])
    assert png.headers["content-type"] == "image/png" and "max-age" in png.headers["cache-control"]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png.content))), images[100])  # exact pixels

    posted = alice.post("/api/v1/vision/mnist-sample",
                        json={"index": 7, "filename": "../../etc/x.png", "add_noise": True, "seed": 3}).json()
    assert posted["label"] == int(labels[7]) and posted["has_noise"] is True
    assert posted["image"]["filename"] == f"x_label{int(labels[7])}_noise.png"  # no path survives
    noisy = np.asarray(Image.open(io.BytesIO(alice.get(posted["image"]["url"]).content))).astype(int)
    assert 5 < np.abs(noisy - images[7]).mean() < 20  # σ=15 noise, clipped


def test_mnist_get_writes_nothing_and_its_url_repeats(client: TestClient, alice: Account, runtime: Runtime) -> None:
    from boda.apps.vision.mnist import load_mnist

    images, labels = load_mnist("train")
    noisy = alice.get("/api/v1/vision/mnist-sample", params={"index": 7, "add_noise": "true"}).json()
    assert noisy["label"] == int(labels[7]) and noisy["has_noise"] and isinstance(noisy["seed"], int)
    first, again = (alice.get(noisy["image_url"]).content for _ in range(2))
    assert first == again  # the seed is in the URL: the same URL shows the same image
    pixels = np.asarray(Image.open(io.BytesIO(first))).astype(int)
    assert 5 < np.abs(pixels - images[7]).mean() < 20
    seeded = alice.get("/api/v1/vision/mnist-sample", params={"index": 7, "add_noise": "true", "seed": 3}).json()
    assert seeded["image_url"] == "/api/v1/vision/mnist-sample/7.png?add_noise=true&seed=3"
    posted = alice.post("/api/v1/vision/mnist-sample", json={"index": 7, "add_noise": True, "seed": 3}).json()
    assert alice.get(posted["image"]["url"]).content == alice.get(seeded["image_url"]).content
    assert file_count(runtime) == 1  # only the POST stored a file
    # A cross-site page that makes the victim's browser load the GET (or the page's fragment) stores nothing.
    csrf = client.post("/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}).json()["csrf_token"]
    assert client.get("/api/v1/vision/mnist-sample", headers={"sec-fetch-site": "cross-site"}).status_code == 200
    fragment = client.post("/vision/mnist", data={"index": "7"}, headers={"X-CSRF-Token": csrf, "hx-request": "true"})
    assert fragment.status_code == 200 and 'src="/api/v1/vision/mnist-sample/7.png"' in fragment.text
    assert file_count(runtime) == 1
    assert client.get("/api/v1/vision/mnist-sample/7.png").status_code == 200
    assert alice.get("/api/v1/vision/mnist-sample/-1.png").status_code == 422  # the schema bounds it
    unseeded = alice.get("/api/v1/vision/mnist-sample/7.png", params={"add_noise": "true"})
    assert unseeded.status_code == 200  # seed 0: a URL without one still always shows the same image
    assert unseeded.content == alice.get("/api/v1/vision/mnist-sample/7.png?add_noise=true&seed=0").content


@pytest.mark.parametrize("seed", [-1, 2**32, "x"])
def test_bad_seed_is_422_not_500(alice: Account, seed: object) -> None:
    posted = alice.post("/api/v1/vision/mnist-sample", json={"index": 7, "add_noise": True, "seed": seed})
    assert posted.status_code == 422 and posted.json()["error"]["code"] == "validation_error"
    got = alice.get("/api/v1/vision/mnist-sample", params={"index": 7, "add_noise": "true", "seed": seed})
    assert got.status_code == 422
    png = alice.get("/api/v1/vision/mnist-sample/7.png", params={"add_noise": "true", "seed": seed})
    assert png.status_code == 422


@pytest.mark.parametrize("index", [-1, 10**7])
def test_mnist_index_out_of_range(alice: Account, index: int) -> None:
    response = alice.post("/api/v1/vision/mnist-sample", json={"index": index})
    assert response.status_code == 422 and response.json()["error"]["code"] == "validation_error"
    assert alice.get("/api/v1/vision/mnist-sample", params={"index": index}).status_code == 422


def test_document_bounds_the_index_by_the_installed_set(alice: Account) -> None:
    schema = alice.get("/openapi.json").json()
    size = alice.post("/api/v1/vision/mnist-sample", json={"index": 0}).json()["dataset_size"]
    query = schema["paths"]["/api/v1/vision/mnist-sample"]["get"]["parameters"]
    assert [p["schema"]["maximum"] for p in query if p["name"] == "index"] == [size - 1]
    assert schema["components"]["schemas"]["MnistSampleIn"]["properties"]["index"]["maximum"] == size - 1
    assert alice.post("/api/v1/vision/mnist-sample", json={"index": size - 1}).status_code == 200
    if size < 60_000:  # the bundled sample: past it is inside the static bound, refused by the service
        error = alice.post("/api/v1/vision/mnist-sample", json={"index": size}).json()["error"]
        assert error["code"] == "invalid_input" and "choose one from 0 to" in error["message"]


def test_full_mnist_is_used_by_default(alice: Account) -> None:
    assert alice.get("/api/v1/vision/mnist-sample").json()["label"] == 5  # index 100 of the real training set
    assert alice.post("/api/v1/vision/mnist-sample", json={"index": 59999}).json()["dataset_size"] == 60000


# --- digits ------------------------------------------------------------------

def draw_number(text: str, size: tuple[int, int] = (520, 200)) -> bytes:
    """A number written with a thick pen, like the canvas on the page."""
    canvas = np.full((size[1], size[0]), 255, np.uint8)
    cv2.putText(canvas, text, (30, 150), cv2.FONT_HERSHEY_SIMPLEX, 4, 0, 18, cv2.LINE_AA)
    ok, data = cv2.imencode(".png", canvas)
    assert ok
    return data.tobytes()


def test_read_a_number(alice: Account) -> None:
    response = alice.post("/api/v1/vision/digits", data={"multi": "true"},
                          files={"file": ("n.png", draw_number("4071"), "image/png")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] == "4071"
    xs = [d["box"][0] for d in body["digits"]]
    assert xs == sorted(xs) and all(0 <= d["confidence"] <= 1 for d in body["digits"])
    assert all(len(d["probabilities"]) == 10 for d in body["digits"])


def test_read_a_page_into_lines(alice: Account) -> None:
    canvas = np.full((520, 700), 255, np.uint8)
    for row, (text, indent) in enumerate((("4071", 30), ("25", 200), ("386", 80))):
        cv2.putText(canvas, text, (indent, 140 + 160 * row), cv2.FONT_HERSHEY_SIMPLEX, 4, 0, 18, cv2.LINE_AA)
    ok, data = cv2.imencode(".png", np.ascontiguousarray(np.rot90(canvas)))  # photographed sideways
    assert ok
    response = alice.post("/api/v1/vision/digits", data={"multi": "true"},
                          files={"file": ("page.png", data.tobytes(), "image/png")})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] == "4071\n25\n386" and body["rotation"] == 270
    assert [line["text"] for line in body["lines"]] == ["4071", "25", "386"]
    assert [d["digit"] for d in body["digits"]] == [int(c) for c in "407125386"]
    assert body["lines"][1]["confidence"] == min(d["confidence"] for d in body["lines"][1]["digits"])


def test_read_one_digit(alice: Account) -> None:
    drawn = draw_number("7", (200, 200))
    body = alice.post("/api/v1/vision/digits", files={"file": ("d.png", drawn, "image/png")}).json()
    assert body["text"] == "7" and len(body["digits"]) == 1
    assert body["lines"] == [{"text": "7", "confidence": body["confidence"], "digits": body["digits"]}]


def test_blank_canvas_is_a_clear_400(alice: Account) -> None:
    blank = png_bytes(color=(255, 255, 255))
    response = alice.post("/api/v1/vision/digits", files={"file": ("blank.png", blank, "image/png")})
    assert response.status_code == 400 and response.json()["error"]["message"]


# --- faces -------------------------------------------------------------------

def test_anonymize_one_photo(alice: Account, runtime: Runtime) -> None:
    image = Image.open(ASTRONAUT)
    exif = image.getexif()
    exif[0x8825] = {2: (37.0, 33.0, 0.0), 1: "N"}  # GPS
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    response = alice.post("/api/v1/vision/anonymize", data={"method": "mosaic", "threshold": "0.5"},
                          files={"file": ("astronaut.jpg", buffer.getvalue(), "image/jpeg")})
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["faces"]) >= 1 and body["detector"] == "yunet"
    assert body["original"]["visibility"] == "private"
    copy = Image.open(io.BytesIO(alice.get(body["anonymized"]["url"]).content))
    assert copy.size == image.size
    assert not copy.getexif().get(0x8825) and not copy.getexif()  # no EXIF, no GPS
    original = Image.open(io.BytesIO(alice.get(body["original"]["url"]).content))
    assert original.getexif().get(0x8825)  # the private original is kept as it came
    x, y, w, h = body["faces"][0]["box"]
    face_before = np.asarray(original.convert("RGB"))[y:y + h, x:x + w].astype(int)
    face_after = np.asarray(copy.convert("RGB"))[y:y + h, x:x + w].astype(int)
    assert np.abs(face_before - face_after).mean() > 8
    listed = alice.get("/api/v1/vision/anonymizations").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == body["id"]


def test_haar_fallback_detector(alice: Account) -> None:
    body = alice.post("/api/v1/vision/anonymize", data={"detector": "haar", "method": "box"},
                      files={"file": ("a.jpg", ASTRONAUT.read_bytes(), "image/jpeg")}).json()
    assert body["detector"] == "haar" and len(body["faces"]) >= 1


def test_delete_removes_both_files(alice: Account, runtime: Runtime) -> None:
    photo = ASTRONAUT.read_bytes()
    body = alice.post("/api/v1/vision/anonymize", files={"file": ("a.jpg", photo, "image/jpeg")}).json()
    assert alice.delete(f"/api/v1/vision/anonymizations/{body['id']}").status_code == 204
    assert alice.get(body["original"]["url"]).status_code == 404
    assert file_count(runtime) == 0 and blob_count(runtime) == 0


def test_batch_runs_as_a_job(alice: Account, runtime: Runtime) -> None:
    files = [("files", (f"p{i}.jpg", ASTRONAUT.read_bytes(), "image/jpeg")) for i in range(3)]
    response = alice.post("/api/v1/vision/anonymize/batch", files=files, data={"method": "blur"})
    assert response.status_code == 202, response.text
    job = response.json()
    deadline = time.monotonic() + 60
    while job["status"] not in ("succeeded", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = alice.get(f"/api/v1/jobs/{job['id']}").json()
    assert job["status"] == "succeeded" and job["progress"] == 100
    assert job["result"]["photos"] == 3 and all(i["faces"] >= 1 for i in job["result"]["items"])
    assert alice.get("/api/v1/vision/anonymizations").json()["total"] == 3



def test_a_retried_batch_goes_on_from_the_photos_done(alice: Account, runtime: Runtime) -> None:
    """Attempt 2 (its worker was killed after 2 of 4 photos) reports 50 % at once, not 0 %."""
    from sqlalchemy import select

    from boda.apps.vision.jobs import anonymize_batch
    from boda.apps.vision.models import Anonymization
    from boda.apps.vision.schemas import AnonymizeBatch
    from boda.core.jobs import JobContext
    from boda.core.models import Job, JobEvent, JobStatus

    files = [("files", (f"p{i}.png", png_bytes(color=(i, 90, 200)), "image/png")) for i in range(4)]
    job_id = alice.post("/api/v1/vision/anonymize/batch", files=files).json()["id"]
    with runtime.db.session() as session:
        job = session.get(Job, job_id)
        assert job is not None and job.status == "succeeded"
        payload = AnonymizeBatch.model_validate(job.payload)
        for file_id in payload.file_ids[2:]:  # as if attempt 1 had finished only the first two
            session.delete(session.scalar(select(Anonymization).where(Anonymization.original_id == file_id)))
        job.status, job.attempts, job.progress = JobStatus.running, 2, 50.0
        last_event = session.scalar(select(JobEvent.id).where(JobEvent.job_id == job_id).order_by(JobEvent.id.desc()))
    result = anonymize_batch(JobContext(runtime, job_id, alice.id, attempt=2, resumed_from=0.5), payload)
    with runtime.db.session() as session:
        later = session.scalars(select(JobEvent).where(JobEvent.job_id == job_id, JobEvent.id > last_event,
                                                       JobEvent.type == "progress").order_by(JobEvent.id)).all()
    assert [e.data["progress"] for e in later] == [50.0, 75.0, 100.0]
    assert result["photos"] == 4 and len({i["anonymization_id"] for i in result["items"]}) == 4

# --- bad input ---------------------------------------------------------------

BAD = {
    "text": (b"just some text, not an image", 415),
    "truncated": (png_bytes((300, 300), format="JPEG")[:500], 400),
    "empty": (b"", 400),
}


@pytest.mark.parametrize("kind", sorted(BAD))
@pytest.mark.parametrize("endpoint", ["anonymize", "digits"])
def test_bad_images_are_refused_and_nothing_is_kept(alice: Account, runtime: Runtime, kind: str,
                                                    endpoint: str) -> None:
    data, status = BAD[kind]
    response = alice.post(f"/api/v1/vision/{endpoint}", files={"file": ("../../x.png", data, "image/png")})
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]
    assert file_count(runtime) == 0 and blob_count(runtime) == 0


def test_decompression_bomb_is_413(alice: Account, runtime: Runtime) -> None:
    from tests.core.test_uploads import bomb_png

    bomb = bomb_png(60_000, 60_000)
    response = alice.post("/api/v1/vision/anonymize", files={"file": ("bomb.png", bomb, "image/png")})
    assert response.status_code == 413 and "pixels" in response.json()["error"]["message"]
    assert file_count(runtime) == 0


def test_too_large_upload_is_413(client: TestClient, alice: Account, runtime: Runtime) -> None:
    runtime.settings.max_upload_mb = 0.01  # 10 KB for this test
    photo = ASTRONAUT.read_bytes()
    response = alice.post("/api/v1/vision/anonymize", files={"file": ("big.jpg", photo, "image/jpeg")})
    assert response.status_code == 413 and "limit" in response.json()["error"]["message"]
    assert file_count(runtime) == 0 and blob_count(runtime) == 0


def test_one_bad_file_refuses_the_whole_batch(alice: Account, runtime: Runtime) -> None:
    files = [("files", ("good.jpg", ASTRONAUT.read_bytes(), "image/jpeg")),
             ("files", ("bad.png", b"not an image", "image/png"))]
    response = alice.post("/api/v1/vision/anonymize/batch", files=files)
    assert response.status_code == 415 and "bad.png" in response.json()["error"]["message"]
    assert file_count(runtime) == 0 and blob_count(runtime) == 0
    assert alice.get("/api/v1/jobs").json()["total"] == 0


@pytest.mark.parametrize("form", [{"method": "paint"}, {"threshold": "2"}, {"strength": "-1"},
                                  {"detector": "yolo"}])
def test_bad_options_are_422(alice: Account, form: dict[str, str]) -> None:
    response = alice.post("/api/v1/vision/anonymize", data=form, files={"file": ("a.png", png_bytes(), "image/png")})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_anonymous_is_401(client: TestClient) -> None:
    assert client.post("/api/v1/vision/digits", files={"file": ("a.png", png_bytes(), "image/png")}).status_code == 401


@pytest.mark.parametrize("size", [(20000, 1), (1, 30000), (3, 3)])
def test_odd_shapes_are_a_clear_answer(alice: Account, size: tuple[int, int]) -> None:
    thin = png_bytes(size, color=(0, 0, 0))
    response = alice.post("/api/v1/vision/digits", files={"file": ("thin.png", thin, "image/png")})
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        assert response.json()["error"]["message"]
