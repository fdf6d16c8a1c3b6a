"""The `boda` command for operators: accounts, job listing, the worker selftest, plain-sentence errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from boda.core.config import get_settings
from boda.core.errors import BodaError

REPO = Path(__file__).resolve().parents[1]


def _boda(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BODA_DATA_DIR": str(tmp_path / "data"), "BODA_CONFIG": "", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "boda", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120)


def test_accounts_from_the_command_line(run) -> None:  # noqa: ANN001
    run("user", "create", "root", "--password", "long enough password", "--admin")
    run("user", "create", "mina", "--password", "long enough password")
    run("user", "create", "jun", "--password", "long enough password")
    assert run("user", "token", "mina", "--name", "backup script").startswith("boda_")  # only the secret
    from boda.core.runtime import Runtime

    runtime = Runtime(get_settings())
    with runtime.db.session() as session:
        from boda.core.accounts import find_user
        from boda.core.auth import authenticate, list_api_tokens

        mina = find_user(session, "mina")
        assert [t.name for t in list_api_tokens(session, user=mina)] == ["backup script"]
    out = run("user", "set-password", "mina", "--password", "another long password")
    assert "API tokens kept" in out
    with runtime.db.session() as session:
        authenticate(session, username="mina", password="another long password")
    assert "Disabled mina" in run("user", "disable", "mina")
    assert "no (disabled)" in run("user", "list")
    run("user", "enable", "mina")
    assert "Aborted" in run("user", "delete", "jun", input="n\n", code=1)
    assert "Deleted jun" in run("user", "delete", "jun", input="y\n")
    assert "jun" not in run("user", "list")
    with pytest.raises(BodaError, match="last active administrator"):
        run("user", "disable", "root")
    with pytest.raises(BodaError, match="No user named 'nobody'"):
        run("user", "set-password", "nobody", "--password", "whatever long")
    runtime.close()


def test_jobs_list_shows_whole_ids_and_refuses_unknown_states(run) -> None:  # noqa: ANN001
    out = run("jobs", "selftest", "--seconds", "0.1", "--local", "--queue", "default")
    assert "default: succeeded on worker" in out
    from sqlalchemy import select

    from boda.core.models import Job
    from boda.core.runtime import Runtime

    runtime = Runtime(get_settings())
    with runtime.db.session() as session:
        job_id = session.scalars(select(Job.id)).one()
    runtime.close()
    assert job_id in run("jobs", "list")
    assert job_id in run("jobs", "list", "--status", "succeeded")
    assert job_id not in run("jobs", "list", "--status", "failed", "--status", "queued")
    refused = run("jobs", "list", "--status", "finished", code=2)
    assert "'finished' is not one of" in refused and "succeeded" in refused


def test_selftest_says_when_no_worker_takes_the_job(tmp_path: Path) -> None:
    """No `boda serve` is running: the selftest must not pass on a worker of its own making, nor hang."""
    done = _boda(tmp_path, "jobs", "selftest", "--timeout", "1", "--queue", "default")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "no worker took the job within 1 s" in done.stdout
    assert "Is `boda serve` running?" in " ".join(done.stdout.split())


def test_selftest_reaches_a_real_worker(tmp_path: Path) -> None:
    env = {**os.environ, "BODA_DATA_DIR": str(tmp_path / "data"), "BODA_CONFIG": "", "PYTHONPATH": str(REPO)}
    assert _boda(tmp_path, "migrate").returncode == 0
    worker = subprocess.Popen([sys.executable, "-m", "boda", "worker", "--workers", "1"], env=env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        done = _boda(tmp_path, "jobs", "selftest", "--seconds", "0.2", "--timeout", "60")
        assert done.returncode == 0, done.stdout + done.stderr
        assert f":{worker.pid}:" in done.stdout  # the worker process ran both, not the selftest itself
        assert "default: succeeded" in done.stdout and "heavy: succeeded" in done.stdout
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(20)


def test_bad_options_read_as_sentences(run) -> None:  # noqa: ANN001
    out = run("jobs", "selftest", "--seconds", "-1", code=2)
    assert "-1" in out and "0" in out and "pydantic" not in out and "Traceback" not in out
    out = run("jobs", "list", "--limit", "0", code=2)
    assert "pydantic" not in out
    out = run("vision", "mnist-sample", "99999999", "--out", "x.png", code=2)
    assert "choose one from 0 to" in out and "pydantic" not in out
    out = run("vision", "anonymize", str(REPO / "tests/fixtures/faces/astronaut.jpg"), "--method", "foo", code=2)
    assert "--method: Input should be 'mosaic', 'blur' or 'box'" in out and "'foo'" in out
    assert "errors.pydantic.dev" not in out
