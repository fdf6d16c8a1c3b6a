"""Users' own classifiers through the API, on real photos: label, train as a job, tags, versions, roll back.

The photos are scikit-image's cat, coffee cup and astronaut, with crops, flips and a
brighter copy to give each class a few examples, indexed by the offline concepts backend
exactly as a user's server does (the Universal Sentence Encoder alone, for speed).
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageEnhance, ImageOps
from skimage import data as skdata

from boda.core.runtime import Runtime
from boda.web.app import create_app
from tests.conftest import Account, make_account, make_settings

API = "/api/v1/album"


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def variants(image: Image.Image) -> list[Image.Image]:
    """The photo, a crop, a mirror image and a brighter copy: four examples of one class."""
    w, h = image.size
    return [image, image.crop((w // 8, h // 8, w - w // 8, h - h // 8)), ImageOps.mirror(image),
            ImageEnhance.Brightness(image).enhance(1.4)]


@pytest.fixture(scope="module")
def album(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestClient, Runtime, Account, Account, dict[str, str]]:
    tmp = tmp_path_factory.mktemp("album-classify")
    settings = make_settings(tmp, f"sqlite:///{tmp / 'boda.db'}", ai={
        "models_dir": tmp / "models", "threads": 1, "downloads": False, "text_encoder": "use-m"})
    with TestClient(create_app(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        alice, bob = make_account(runtime, client, "alice"), make_account(runtime, client, "bob")
        cat, coffee = Image.fromarray(skdata.chelsea()), Image.fromarray(skdata.coffee())
        files: dict[str, bytes] = {}
        for name, image in (("cat", cat), ("coffee", coffee)):
            files.update({f"{name}{i}": jpeg(v) for i, v in enumerate(variants(image))})
        # Not labelled: a close crop of the cat's face, turned, which the classifier must recognise.
        files["new_cat"] = jpeg(ImageOps.mirror(cat.crop((80, 20, 380, 300))))
        files["astronaut"] = jpeg(Image.fromarray(skdata.astronaut()))
        response = alice.post(f"{API}/photos", files=[("files", (f"{k}.jpg", v)) for k, v in files.items()])
        assert response.status_code == 201, response.text
        ids = {name: photo["id"] for name, photo in zip(files, response.json(), strict=True)}
        yield client, runtime, alice, bob, ids


def tags(account: Account, photo_id: str) -> dict[str, dict]:
    return {t["name"]: t for t in account.get(f"{API}/photos/{photo_id}").json()["tags"]}


def make(account: Account, name: str = "pets", classes: list[str] | None = None) -> dict:
    response = account.post(f"{API}/classifiers", json={"name": name, "classes": classes or ["Cat", "coffee"]})
    assert response.status_code == 201, response.text
    return response.json()


def label(account: Account, classifier_id: str, photo_ids: list[str], name: str) -> dict:
    response = account.post(f"{API}/classifiers/{classifier_id}/examples", json={"photo_ids": photo_ids,
                                                                                 "label": name})
    assert response.status_code == 200, response.text
    return response.json()


def train(account: Account, classifier_id: str) -> dict:
    response = account.post(f"{API}/classifiers/{classifier_id}/train")
    assert response.status_code == 202, response.text
    job = account.get(f"/api/v1/jobs/{response.json()['id']}").json()
    assert job["status"] == "succeeded", job
    return job


def test_train_tags_new_photos_and_versions_roll_back(album) -> None:  # noqa: ANN001
    _, _, alice, _, ids = album
    created = make(alice)
    assert created["classes"] == ["cat", "coffee"] and created["active_version"] is None
    cid = created["id"]
    label(alice, cid, [ids["cat0"], ids["cat1"], ids["cat2"]], "cat")
    shown = label(alice, cid, [ids["coffee0"], ids["coffee1"], ids["coffee2"]], "Coffee")
    assert shown["examples"] == {"cat": 3, "coffee": 3}

    job = train(alice, cid)
    assert job["result"]["version"] == 1 and job["progress"] == 100
    detail = alice.get(f"{API}/classifiers/{cid}").json()
    assert detail["active_version"] == 1 and not detail["stale"]
    (v1,) = detail["versions"]
    assert v1["accuracy"] == detail["accuracy"] >= 0.8 and v1["folds"] == 3
    assert sum(map(sum, v1["confusion"])) == 6 and v1["counts"] == {"cat": 3, "coffee": 3}
    # The unlabelled cat crop gets the class as a tag, scored by the probability; the coffee does not.
    new_cat = tags(alice, ids["new_cat"])
    assert new_cat["cat"]["source"] == "classifier" and 0.6 <= new_cat["cat"]["score"] <= 1
    assert "cat" not in tags(alice, ids["coffee3"]) and tags(alice, ids["coffee3"])["coffee"]["source"] == "classifier"
    listed = alice.get(f"{API}/photos", params={"tag": "cat"}).json()["items"]
    assert ids["new_cat"] in [p["id"] for p in listed]

    # More examples: version 2 becomes active.
    label(alice, cid, [ids["cat3"]], "cat")
    assert train(alice, cid)["result"]["version"] == 2
    detail = alice.get(f"{API}/classifiers/{cid}").json()
    assert [v["number"] for v in detail["versions"]] == [2, 1] and detail["active_version"] == 2
    assert detail["versions"][0]["counts"] == {"cat": 4, "coffee": 3}
    # Roll back: version 1 is active again and its tags replace what is there (a removed one comes back).
    assert alice.delete(f"{API}/photos/{ids['new_cat']}/tags/cat").status_code == 204
    assert "cat" not in tags(alice, ids["new_cat"])
    rolled = alice.post(f"{API}/classifiers/{cid}/versions/1/activate")
    assert rolled.status_code == 200, rolled.text
    assert rolled.json()["active_version"] == 1
    assert [v["active"] for v in rolled.json()["versions"]] == [False, True]
    assert tags(alice, ids["new_cat"])["cat"]["source"] == "classifier"
    assert alice.post(f"{API}/classifiers/{cid}/versions/9/activate").status_code == 404

    # The confusion picture is well-formed SVG, served as such.
    svg = alice.get(f"{API}/classifiers/{cid}/versions/1/confusion.svg")
    assert svg.status_code == 200 and svg.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(svg.text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert len(root.findall("{http://www.w3.org/2000/svg}rect")) == 4

    # Deleting the classifier takes its tags with it.
    assert alice.delete(f"{API}/classifiers/{cid}").status_code == 204
    assert "cat" not in tags(alice, ids["new_cat"])
    assert alice.get(f"{API}/classifiers/{cid}").status_code == 404


def test_too_few_examples_is_refused_with_the_reason_in_the_callers_language(album) -> None:  # noqa: ANN001
    _, _, alice, _, ids = album
    cid = make(alice, "few")["id"]
    refused = alice.post(f"{API}/classifiers/{cid}/train")
    assert refused.status_code == 409 and "at least two classes" in refused.json()["error"]["message"]
    label(alice, cid, [ids["cat0"], ids["cat1"]], "cat")
    label(alice, cid, [ids["coffee0"]], "coffee")
    refused = alice.post(f"{API}/classifiers/{cid}/train", headers={"Accept-Language": "ko"})
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert "coffee" in error["message"] and "분류마다 색인된 사진을 2장 이상" in error["message"]
    assert alice.post(f"{API}/classifiers", json={"name": "x", "classes": ["a", " A "]}).status_code == 409
    assert alice.post(f"{API}/classifiers", json={"name": "x", "classes": ["a", "a"]}).status_code == 422
    unknown = alice.post(f"{API}/classifiers/{cid}/examples", json={"photo_ids": [ids["cat0"]], "label": "dog"})
    assert unknown.status_code == 409


def test_other_users_see_nothing_and_label_only_their_own(album) -> None:  # noqa: ANN001
    _, _, alice, bob, ids = album
    cid = make(alice, "mine")["id"]
    for method, path in (("get", ""), ("delete", ""), ("post", "/train"), ("post", "/versions/1/activate"),
                         ("get", "/versions/1/confusion.svg")):
        assert getattr(bob, method)(f"{API}/classifiers/{cid}{path}").status_code == 404
    assert bob.post(f"{API}/classifiers/{cid}/examples",
                    json={"photo_ids": [ids["cat0"]], "label": "cat"}).status_code == 404
    assert cid not in [c["id"] for c in bob.get(f"{API}/classifiers").json()]
    # Bob's classifier cannot take Alice's photos as examples: they are skipped.
    theirs = make(bob, "bob's")["id"]
    assert label(bob, theirs, [ids["cat0"], ids["cat1"]], "cat")["examples"] == {"cat": 0, "coffee": 0}


def test_the_classifier_page_shows_accuracy_confusion_and_versions(album) -> None:  # noqa: ANN001
    client, _, alice, bob, ids = album
    cid = make(alice, "고양이 <b>분류</b>", ["cat", "<coffee>"])["id"]
    label(alice, cid, [ids[f"cat{i}"] for i in range(3)], "cat")
    label(alice, cid, [ids[f"coffee{i}"] for i in range(3)], "<coffee>")
    train(alice, cid)
    listing = alice.get("/album/classifiers")
    assert listing.status_code == 200 and "고양이 &lt;b&gt;분류&lt;/b&gt;" in listing.text
    page = alice.get(f"/album/classifiers/{cid}", headers={"Accept-Language": "ko"})
    assert page.status_code == 200, page.text
    html = page.text
    assert "정확도" in html and 'data-testid="accuracy"' in html
    assert "<svg" in html and "&lt;coffee&gt;" in html and "<coffee>" not in html  # the picture escapes names
    assert "<script>" not in html and "style=" not in html  # strict CSP: nothing inline
    assert 'value="' + ids["new_cat"] + '"' in html  # the pick grid offers her indexed photos
    assert bob.get(f"/album/classifiers/{cid}").status_code == 404
    assert client.get("/static/album/classify.js").status_code == 200


def test_a_version_from_another_backend_is_stale(album) -> None:  # noqa: ANN001
    _, runtime, alice, _, ids = album
    from boda.apps.album.models import ClassifierVersion

    cid = make(alice, "old")["id"]
    label(alice, cid, [ids[f"cat{i}"] for i in range(2)], "cat")
    label(alice, cid, [ids[f"coffee{i}"] for i in range(2)], "coffee")
    train(alice, cid)
    with runtime.db.session() as session:  # as if ai.image_text_embedder had changed since the training
        version = session.query(ClassifierVersion).filter_by(classifier_id=cid).one()
        version.embedder_key = "clip:another"
    detail = alice.get(f"{API}/classifiers/{cid}").json()
    assert detail["stale"] and detail["versions"][0]["stale"]
    assert next(c for c in alice.get(f"{API}/classifiers").json() if c["id"] == cid)["stale"]
    refused = alice.post(f"{API}/classifiers/{cid}/versions/1/activate")
    assert refused.status_code == 409 and "train" in refused.json()["error"]["message"]


def test_photos_uploaded_later_are_tagged_when_indexed(album) -> None:  # noqa: ANN001
    _, _, alice, _, ids = album
    cid = make(alice, "later")["id"]
    label(alice, cid, [ids[f"cat{i}"] for i in range(3)], "cat")
    label(alice, cid, [ids[f"coffee{i}"] for i in range(3)], "coffee")
    train(alice, cid)
    cat = Image.fromarray(skdata.chelsea())
    later = jpeg(ImageEnhance.Brightness(cat.crop((40, 0, 420, 300))).enhance(0.8))
    response = alice.post(f"{API}/photos", files=[("files", ("later.jpg", later))])
    assert response.status_code == 201, response.text
    found = tags(alice, response.json()[0]["id"])
    assert found["cat"]["source"] == "classifier" and "coffee" not in found
