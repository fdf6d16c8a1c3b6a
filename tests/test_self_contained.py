"""A clone needs nothing beside it: no tracked file but the docs names a folder next to the checkout."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# Built from parts, so this file does not match itself.
FORBIDDEN = tuple(p.encode() for p in ("../" + "shared", "shared/" + "data", "shared/" + "models"))


def test_no_tracked_file_reads_beside_the_clone() -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    offenders = []
    for name in filter(None, listed.decode().split("\0")):
        path = REPO / name
        if name.endswith(".md") or not path.is_file():
            continue
        data = path.read_bytes()
        offenders += [f"{name}: {pattern.decode()}" for pattern in FORBIDDEN if pattern in data]
    assert not offenders, f"files that read beside the clone: {offenders}"
