"""3D Studio's API: upload, files and downloads, visibility, gallery, likes and ratings, bad input."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import trimesh
from fastapi.testclient import TestClient
from PIL import Image

from boda.core.runtime import Runtime
from tests.apps.studio.test_formats import MALFORMED, corrupt_deflate_zip, cut_texture_glb
from tests.apps.vision.test_api import blob_count
from tests.conftest import Account


def coloured_box(color: tuple[int, int, int, int] = (220, 30, 30, 255)) -> bytes:
    mesh = trimesh.creation.box(extents=(2.0, 1.0, 1.0))
    mesh.visual.face_colors = np.tile(np.array(color, np.uint8), (len(mesh.faces), 1))
    return trimesh.Scene(mesh).export(file_type="glb")


def upload(account: Account, data: bytes, name: str = "red_box.glb", content_type: str = "model/gltf-binary"):
    return account.post("/api/v1/studio/models", files={"file": (name, data, content_type)})


@pytest.fixture
def box_model(alice: Account) -> dict:
    response = upload(alice, coloured_box())
    assert response.status_code == 201, response.text
    model = alice.get(f"/api/v1/studio/models/{response.json()['id']}").json()
    assert model["status"] == "ready", model
    return model


def test_an_uploaded_glb_gets_stats_pictures_formats_and_a_score(box_model: dict, alice: Account) -> None:
    stats = box_model["stats"]
    assert stats["triangles"] == 12 and stats["watertight"] is True
    assert [round(v, 3) for v in stats["size"]] == [2.0, 1.0, 1.0]
    assert {"glb", "obj", "stl", "usdz"} <= set(box_model["formats"])
    assert box_model["score"] is not None and 1.0 <= box_model["score"] <= 10.0
    assert box_model["score_method"] == "technical" and len(box_model["score_probs"]) == 10
    thumb = alice.get(box_model["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
    image = np.asarray(Image.open(io.BytesIO(thumb.content)).convert("RGB"), np.int32)
    reddish = (image[..., 0] > 120) & (image[..., 0] > image[..., 1] + 50) & (image[..., 0] > image[..., 2] + 50)
    assert reddish.mean() > 0.02, "the red box is not in its thumbnail"
    turntable = Image.open(io.BytesIO(alice.get(box_model["turntable_url"]).content))
    assert getattr(turntable, "n_frames", 1) > 1


def test_every_download_opens_again_and_is_named_for_blender_and_unity(box_model: dict, alice: Account) -> None:
    for fmt in box_model["formats"]:
        response = alice.get(box_model["download_urls"][fmt])
        assert response.status_code == 200, (fmt, response.text)
        disposition = response.headers["content-disposition"]
        assert disposition.startswith("attachment;") and f"red_box_{box_model['id'][:8]}" in disposition
        data = response.content
        if fmt == "glb":
            assert len(trimesh.load(io.BytesIO(data), file_type="glb", force="mesh").faces) == 12
        elif fmt == "stl":
            assert len(trimesh.load(io.BytesIO(data), file_type="stl", force="mesh").faces) == 12
        elif fmt == "obj":
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
            assert any(n.endswith(".obj") for n in names) and any(n.endswith(".mtl") for n in names)
        elif fmt == "usdz":
            assert zipfile.ZipFile(io.BytesIO(data)).namelist()[0].endswith((".usdc", ".usda"))
        elif fmt == "fbx":
            assert data[:18] == b"Kaydara FBX Binary" or b"FBXHeaderExtension" in data[:4096]


def test_unknown_and_missing_formats_are_clear_errors(box_model: dict, alice: Account) -> None:
    assert alice.get(f"/api/v1/studio/models/{box_model['id']}/download?format=dwg").status_code == 422
    if "ply" not in box_model["formats"]:
        missing = alice.get(f"/api/v1/studio/models/{box_model['id']}/download?format=ply")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("name", "data"), [
    ("broken.glb", b"glTF\x02\x00\x00\x00garbage"),
    ("empty.stl", b""),
    ("notes.txt", b"just some text, not a model"),
    ("picture.glb", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64),
])
def test_broken_files_are_refused_with_a_reason_and_nothing_is_kept(name: str, data: bytes, alice: Account,
                                                                     runtime: Runtime) -> None:
    response = upload(alice, data, name, "application/octet-stream")
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["message"]
    assert alice.get("/api/v1/studio/models").json()["total"] == 0


@pytest.mark.parametrize(("name", "data"), [
    *MALFORMED.values(),
    ("corrupt.zip", corrupt_deflate_zip()),
    ("cut_texture.glb", cut_texture_glb()),
], ids=[*MALFORMED, "corrupt deflate zip", "texture cut short"])
def test_malformed_files_are_a_4xx_with_nothing_stored(name: str, data: bytes, alice: Account,
                                                       runtime: Runtime) -> None:
    """Each of these was a 500 once: a wrong type in a glTF, a zip that fails to inflate, a texture that
    fails to decode while the canonical GLB was written."""
    blobs = blob_count(runtime)
    response = upload(alice, data, name, "application/octet-stream")
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"]
    assert alice.get("/api/v1/studio/models").json()["total"] == 0 and blob_count(runtime) == blobs


def test_a_gallery_page_far_past_the_end_is_empty_not_an_error(client: TestClient, box_model: dict,
                                                               alice: Account) -> None:
    """`p` is clamped as the album's pages clamp it: 10**18 pages in overflowed the database's integer."""
    assert alice.patch(f"/api/v1/studio/models/{box_model['id']}", json={"visibility": "public"}).status_code == 200
    assert box_model["id"] in client.get("/studio/gallery").text
    for params in ({"p": str(10**18)}, {"p": str(10**18), "q": "red box"}, {"p": "-5"}):
        response = client.get("/studio/gallery", params=params)
        assert response.status_code == 200, (params, response.text)
    assert box_model["id"] not in client.get("/studio/gallery", params={"p": str(10**18)}).text


def test_a_zip_with_path_tricks_is_refused(alice: Account) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../evil.obj", "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    response = upload(alice, buffer.getvalue(), "evil.zip", "application/zip")
    assert 400 <= response.status_code < 500 and alice.get("/api/v1/studio/models").json()["total"] == 0


def test_other_users_see_nothing_private_and_cannot_change_it(box_model: dict, alice: Account, bob: Account,
                                                              client: TestClient) -> None:
    model_id = box_model["id"]
    for path in ("", "/thumbnail", "/download?format=glb"):
        assert bob.get(f"/api/v1/studio/models/{model_id}{path}").status_code == 404
        assert client.get(f"/api/v1/studio/models/{model_id}{path}").status_code in (401, 404)
    assert bob.patch(f"/api/v1/studio/models/{model_id}", json={"visibility": "public"}).status_code == 404
    assert bob.delete(f"/api/v1/studio/models/{model_id}").status_code == 404
    assert bob.put(f"/api/v1/studio/models/{model_id}/like").status_code == 404
    assert bob.get("/api/v1/studio/gallery").json()["total"] == 0


def test_publish_like_rate_and_find_in_the_gallery(box_model: dict, alice: Account, bob: Account,
                                                   client: TestClient) -> None:
    model_id = box_model["id"]
    published = alice.patch(f"/api/v1/studio/models/{model_id}", json={"visibility": "public", "title": "Red box"})
    assert published.status_code == 200 and published.json()["published_at"]
    gallery = client.get("/api/v1/studio/gallery").json()  # anonymous visitors see the gallery too
    assert [m["id"] for m in gallery["items"]] == [model_id]
    liked = bob.put(f"/api/v1/studio/models/{model_id}/like").json()
    assert liked["likes"] == 1 and liked["liked"] is True
    assert bob.put(f"/api/v1/studio/models/{model_id}/like").json()["likes"] == 1  # again changes nothing
    rated = bob.put(f"/api/v1/studio/models/{model_id}/rating", json={"score": 8}).json()
    assert rated["ratings"] == 1 and rated["rating_mean"] == 8 and rated["my_rating"] == 8
    assert bob.put(f"/api/v1/studio/models/{model_id}/rating", json={"score": 11}).status_code == 422
    found = bob.get("/api/v1/studio/gallery", params={"q": "red box"}).json()
    assert found["items"] and found["items"][0]["id"] == model_id
    assert bob.get("/api/v1/studio/gallery", params={"sort": "popular"}).json()["items"][0]["likes"] == 1
    # Made private again, it leaves the gallery and its like stays harmless.
    alice.patch(f"/api/v1/studio/models/{model_id}", json={"visibility": "private"})
    assert bob.get("/api/v1/studio/gallery").json()["total"] == 0
    assert bob.get(f"/api/v1/studio/models/{model_id}").status_code == 404


def test_an_unlisted_link_opens_the_model_page_without_login(box_model: dict, alice: Account,
                                                            client: TestClient) -> None:
    shared = alice.patch(f"/api/v1/studio/models/{box_model['id']}", json={"visibility": "unlisted"}).json()
    assert shared["share_url"]
    page = client.get(shared["share_url"])
    assert page.status_code == 200 and "studio-viewer" in page.text
    glb = client.get(f"/api/v1/studio/shared/{shared['share_url'].rsplit('/', 1)[-1]}/glb")
    assert glb.status_code == 200 and glb.content[:4] == b"glTF"


def test_deleting_a_model_removes_it_and_its_files(box_model: dict, alice: Account) -> None:
    model_id = box_model["id"]
    assert alice.delete(f"/api/v1/studio/models/{model_id}").status_code == 204
    assert alice.get(f"/api/v1/studio/models/{model_id}").status_code == 404
    assert alice.get(f"/api/v1/studio/models/{model_id}/download?format=glb").status_code == 404
    assert alice.get("/api/v1/studio/models").json()["total"] == 0


def test_a_glb_is_known_by_its_bytes_whatever_its_name(alice: Account) -> None:
    response = upload(alice, coloured_box(), "file", "application/octet-stream")
    assert response.status_code == 201, response.text
    assert response.json()["stats"]["triangles"] == 12


def test_an_upload_whose_files_cannot_be_prepared_says_it_failed(alice: Account, runtime: Runtime,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # A fault in the renderer (injected: no real GLB that passes the upload checks breaks it on purpose)
    # fails every attempt; the model must then say so, not stay "processing" for ever.
    from boda.apps.studio import processing

    def broken(*_: object, **__: object) -> dict:
        raise RuntimeError("renderer crashed")

    monkeypatch.setattr(processing, "process_model", broken)
    monkeypatch.setattr(runtime.settings.jobs, "retries", 0)  # one attempt: the test queue runs no delayed retry
    response = upload(alice, coloured_box())
    assert response.status_code == 201, response.text
    model = alice.get(f"/api/v1/studio/models/{response.json()['id']}").json()
    assert model["status"] == "failed" and model["error"], model
