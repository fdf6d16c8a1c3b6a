"""The `boda` command as an admin would use it."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from tests.conftest import FIXTURES


def test_users_tokens_and_config(run) -> None:  # noqa: ANN001
    assert "First administrator created: admin /" in run("user", "ensure-admin")
    assert "Accounts exist" in run("user", "ensure-admin")
    assert "Created user mina" in run("user", "create", "mina", "--password", "long enough password")
    assert "already exists" in str(run_error(run, "user", "create", "mina", "--password", "long enough password"))
    token = run("user", "token", "mina").strip()
    assert token.startswith("boda_")
    listing = run("user", "list")
    assert "admin" in listing and "mina" in listing
    shown = json.loads(run("config", "show"))
    assert shown["db"]["url"].startswith("sqlite:///") and shown["jobs"]["workers"] == 2


def run_error(run, *args: str) -> Exception:  # noqa: ANN001
    try:
        run(*args)
    except Exception as exc:  # the CLI lets domain errors surface with their message
        return exc
    raise AssertionError("expected an error")


def test_jobs_selftest_and_list(run) -> None:  # noqa: ANN001
    assert "succeeded" in run("jobs", "selftest", "--seconds", "0.2", "--local")
    assert "core.selftest" in run("jobs", "list")
    assert "core.selftest" in run("jobs", "list", "--status", "succeeded")


def test_vision_commands(run, tmp_path: Path) -> None:  # noqa: ANN001
    out = run("vision", "mnist-sample", "7", "--out", "seven.png")
    assert "label" in out and Image.open(tmp_path / "seven.png").size == (28, 28)
    label = out.split("label")[1].split()[0]
    assert run("vision", "read-digits", "seven.png").startswith(label)
    assert "choose one from 0 to" in run("vision", "mnist-sample", "--", "-1", code=2)
    photos = [str(FIXTURES / "faces" / name) for name in ("astronaut.jpg", "group.jpg", "coffee.jpg")]
    done = run("vision", "anonymize", *photos, "--out", "covered", "--method", "box")
    assert "3 photo(s), 5 face(s) covered" in done
    copies = sorted(p.name for p in (tmp_path / "covered").iterdir())
    assert copies == ["astronaut_anonymized.jpg", "coffee_anonymized.jpg", "group_anonymized.jpg"]


def test_help_loads_no_model_runtime() -> None:
    """`boda --help` and an app's help stay fast: no OpenCV, ONNX Runtime or torch at import."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from boda.cli import app\n"
        "for args in (['--help'], ['vision', '--help']):\n"
        "    assert CliRunner().invoke(app, args).exit_code == 0, args\n"
        "heavy = [m for m in ('cv2', 'onnxruntime', 'torch') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
