"""HEIC photos, the iPhone's default, are accepted wherever an image is (pillow-heif)."""

from __future__ import annotations

import io

import pillow_heif
from PIL import Image

from boda.core.runtime import Runtime
from tests.apps.vision.test_api import ASTRONAUT, draw_number
from tests.conftest import Account


def heic(source: bytes | Image.Image) -> bytes:
    """A real HEVC-coded HEIF file, as an iPhone writes, made from a fixture."""
    image = source if isinstance(source, Image.Image) else Image.open(io.BytesIO(source))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="HEIF", quality=90)
    data = buffer.getvalue()
    assert data[4:12] == b"ftypheic"
    return data


def test_read_digits_from_a_heic(alice: Account) -> None:
    response = alice.post("/api/v1/vision/digits", data={"multi": "true"},
                          files={"file": ("IMG_0001.HEIC", heic(draw_number("4071")), "image/heic")})
    assert response.status_code == 200, response.text
    assert response.json()["text"] == "4071"


def test_anonymize_a_heic_keeps_the_original_and_makes_a_jpeg(alice: Account, runtime: Runtime) -> None:
    response = alice.post("/api/v1/vision/anonymize", data={"method": "box"},
                          files={"file": ("IMG_0002.HEIC", heic(ASTRONAUT.read_bytes()), "image/heic")})
    assert response.status_code == 201, response.text
    body = response.json()
    assert len(body["faces"]) >= 1
    assert body["original"]["content_type"] == "image/heic"
    assert body["anonymized"]["content_type"] == "image/jpeg"
    assert body["anonymized"]["filename"] == "IMG_0002_anonymized.jpg"
    original = alice.get(body["original"]["url"] + "?download=true")
    assert original.headers["content-type"] == "image/heic" and original.content[4:12] == b"ftypheic"
    assert original.headers["content-disposition"].endswith(".heic")
    copy = Image.open(io.BytesIO(alice.get(body["anonymized"]["url"]).content))
    assert copy.format == "JPEG" and copy.size == Image.open(ASTRONAUT).size


def test_a_batch_takes_heic(alice: Account) -> None:
    files = [("files", ("a.heic", heic(ASTRONAUT.read_bytes()), "image/heic")),
             ("files", ("b.jpg", ASTRONAUT.read_bytes(), "image/jpeg"))]
    job = alice.post("/api/v1/vision/anonymize/batch", files=files).json()
    job = alice.get(f"/api/v1/jobs/{job['id']}").json()  # the test settings run jobs inline
    assert job["status"] == "succeeded", job
    assert [item["faces"] >= 1 for item in job["result"]["items"]] == [True, True]


def test_a_broken_heic_is_a_clear_400(alice: Account) -> None:
    data = heic(ASTRONAUT.read_bytes())
    response = alice.post("/api/v1/vision/anonymize", files={"file": ("x.heic", data[: len(data) // 2], "image/heic")})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_input"


def test_pillow_heif_is_registered_once_by_uploads() -> None:
    from boda.core import uploads

    assert "HEIF" in Image.OPEN and uploads.sniff_format(heic(Image.new("RGB", (8, 8)))[:64]) == "HEIF"
    assert pillow_heif.__version__
