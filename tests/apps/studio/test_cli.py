"""`boda studio generate | import | train-scorer`: the CLI makes, adds and scores models."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import trimesh


def test_generate_offline_writes_files_that_open_again(run: Callable[..., str], tmp_path: Path) -> None:
    run("user", "create", "mina", "--password", "long enough password")
    out = run("studio", "generate", "빨간 소방차 장난감", "--provider", "composer", "--out", str(tmp_path / "out"))
    assert "is ready" in out and "score" in out
    files = {p.suffix: p for p in (tmp_path / "out").iterdir()}
    assert {".glb", ".stl", ".usdz", ".zip"} <= set(files), sorted(files)
    scene = trimesh.load(io.BytesIO(files[".glb"].read_bytes()), file_type="glb")
    assert len(scene.geometry) >= 5
    if ".fbx" in files:
        assert files[".fbx"].read_bytes()[:18] == b"Kaydara FBX Binary"


def test_import_refuses_a_broken_file_and_takes_a_good_one(run: Callable[..., str], tmp_path: Path) -> None:
    run("user", "create", "mina", "--password", "long enough password")
    broken = tmp_path / "broken.glb"
    broken.write_bytes(b"glTF\x02\x00\x00\x00nonsense")
    assert "GLB" in run("studio", "import", str(broken), code=1)
    good = tmp_path / "box.stl"
    mesh = trimesh.creation.box()
    mesh.visual.face_colors = np.array([0, 120, 255, 255], np.uint8)
    good.write_bytes(mesh.export(file_type="stl"))
    assert "ready" in run("studio", "import", str(good))


def test_train_scorer_says_how_many_ratings_are_missing(run: Callable[..., str]) -> None:
    out = run("studio", "train-scorer", code=1)
    assert "Only 0 rated models" in out and "30" in out
