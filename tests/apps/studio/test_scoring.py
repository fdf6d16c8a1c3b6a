"""The aesthetic score learns from ratings: technical quality first, then `train-scorer` rescores everything."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from fastapi.testclient import TestClient

from boda.apps.studio import scoring
from boda.apps.studio.models import Scorer
from boda.web.app import create_app
from tests.conftest import make_account, make_settings


def shape_glb(i: int) -> bytes:
    shapes = [trimesh.creation.box(extents=(1.0 + i % 3, 1.0, 0.5 + i % 2)),
              trimesh.creation.icosphere(subdivisions=1 + i % 3), trimesh.creation.cylinder(radius=0.5, height=1 + i),
              trimesh.creation.cone(radius=0.6, height=1.0 + i % 4)]
    mesh = shapes[i % len(shapes)]
    mesh.visual.face_colors = np.tile(np.array([40 * i % 255, 200 - 30 * i % 200, 90, 255], np.uint8),
                                      (len(mesh.faces), 1))
    return bytes(trimesh.Scene(mesh).export(file_type="glb"))


def test_ratings_train_a_learned_score_that_replaces_the_technical_one(tmp_path: Path, db_url: str) -> None:
    settings = make_settings(tmp_path, db_url, studio={"min_ratings_to_learn": 6})
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime
        alice, bob = make_account(runtime, client, "alice"), make_account(runtime, client, "bob")
        ids = []
        for i in range(8):
            made = alice.post("/api/v1/studio/models", files={"file": (f"shape{i}.glb", shape_glb(i),
                                                                       "model/gltf-binary")})
            assert made.status_code == 201, made.text
            ids.append(made.json()["id"])
            alice.patch(f"/api/v1/studio/models/{ids[-1]}", json={"visibility": "public"})
        assert {alice.get(f"/api/v1/studio/models/{i}").json()["score_method"] for i in ids} == {"technical"}
        for n, model_id in enumerate(ids[:7]):  # spheres and cones liked, boxes and cylinders not
            liked = n % 4 in (1, 3)
            assert bob.put(f"/api/v1/studio/models/{model_id}/rating", json={"score": 8 if liked else 3}
                           ).status_code == 200
            alice.put(f"/api/v1/studio/models/{model_id}/rating", json={"score": 9 if liked else 2})
        report = scoring.train_scorer(runtime)
        assert report["trained_on"] == 7 and report["rescored"] == 8
        with runtime.db.session() as session:
            assert session.query(Scorer).count() == 1
        scores = [alice.get(f"/api/v1/studio/models/{i}").json() for i in ids]
        assert {s["score_method"] for s in scores} == {"learned"}
        liked_mean = np.mean([s["score"] for n, s in enumerate(scores[:7]) if n % 4 in (1, 3)])
        other_mean = np.mean([s["score"] for n, s in enumerate(scores[:7]) if n % 4 not in (1, 3)])
        assert liked_mean > other_mean  # it learned the community's taste on what it was shown
