"""A clone needs nothing beside it: no tracked file but the docs names a folder next to the checkout."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Built from parts, so this file does not match itself.
FORBIDDEN = tuple(p.encode() for p in ("../" + "shared", "shared/" + "data", "shared/" + "models"))


# Outside git (an unpacked archive), everything but what runs or builds produce.
UNTRACKED = {".git", ".venv", "node_modules", "data", "vendor", "__pycache__", "build", "dist"}


def _project_files() -> list[str]:
    if shutil.which("git") is not None and (REPO / ".git").exists():
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
        return list(filter(None, listed.decode().split("\0")))
    return [str(path.relative_to(REPO)) for path in REPO.rglob("*")
            if path.is_file() and not UNTRACKED & set(path.relative_to(REPO).parts)]


def test_no_tracked_file_reads_beside_the_clone() -> None:
    offenders = []
    for name in _project_files():
        path = REPO / name
        if name.endswith(".md") or not path.is_file():
            continue
        data = path.read_bytes()
        offenders += [f"{name}: {pattern.decode()}" for pattern in FORBIDDEN if pattern in data]
    assert not offenders, f"files that read beside the clone: {offenders}"
