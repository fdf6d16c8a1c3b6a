"""Logging: the job id on every line a job causes, JSON lines, and quiet libraries."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from boda.core.config import Settings
from boda.core.jobs import JobContext, job
from boda.core.logging import configure
from boda.core.runtime import Runtime
from tests.conftest import Account, make_settings

work_log = logging.getLogger("tests.logging.work")
library_log = logging.getLogger("some_library.inner")


class Chatty(BaseModel):
    fail: bool = False


@job("test.chatty", payload=Chatty, max_attempts=1)
def chatty(ctx: JobContext, payload: Chatty) -> dict[str, Any]:
    """Logs from its own logger and a library's, then fails when asked."""
    work_log.info("working on it")
    library_log.warning("a library speaks")
    if payload.fail:
        raise RuntimeError("planned")
    return {}


@pytest.fixture
def logs() -> Iterator[Callable[..., io.StringIO]]:
    """Configure Boda's logging into a buffer; put the root logger back afterwards."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in ("azure", "huey", "urllib3")}

    def start(settings: Settings, **kw: Any) -> io.StringIO:
        buffer = io.StringIO()
        configure(settings, stream=buffer, **kw)
        return buffer

    yield start
    root.handlers[:], root.level = saved
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def _run(runtime: Runtime, owner: Account, **payload: Any) -> str:
    with runtime.db.session() as session:
        row = runtime.queue.enqueue(session, chatty, owner_id=owner.id, payload=payload)  # immediate: runs now
    return row.id


def test_every_line_of_a_job_names_it(runtime: Runtime, alice: Account, logs: Callable[..., io.StringIO]) -> None:
    buffer = logs(runtime.settings)
    logging.getLogger("tests.logging").info("before")
    first, second = _run(runtime, alice), _run(runtime, alice, fail=True)
    logging.getLogger("tests.logging").info("after")
    lines = buffer.getvalue().splitlines()
    assert lines[0].endswith("INFO tests.logging: before") and lines[-1].endswith("INFO tests.logging: after")
    between = lines[1:-1]
    assert [line.split(" ", 2)[2] for line in between] == [
        f"INFO tests.logging.work [job {first}]: working on it",
        f"WARNING some_library.inner [job {first}]: a library speaks",
        f"INFO tests.logging.work [job {second}]: working on it",
        f"WARNING some_library.inner [job {second}]: a library speaks",
        f"WARNING boda.core.jobs [job {second}]: job {second} (test.chatty) attempt 1 failed: planned",
    ]


def test_huey_lines_name_the_job(tmp_path: Path, logs: Callable[..., io.StringIO]) -> None:
    """Huey's own lines name its task id; the filter finds Boda's job id in the task they pass."""
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'boda.db'}", jobs={"immediate": False})
    runtime = Runtime(settings)
    runtime.db.migrate()
    try:
        buffer = logs(settings, level="DEBUG")  # huey speaks at INFO, held back unless DEBUG
        with runtime.db.session() as session:
            row = runtime.queue.enqueue(session, chatty, owner_id=None, payload={})
        huey = runtime.queue.hueys[chatty.queue]
        task = huey.dequeue()
        huey.execute(task)
        lines = [line for line in buffer.getvalue().splitlines() if " huey" in line]
        assert any("Executing" in line for line in lines) and any("executed in" in line for line in lines)
        assert all(f"[job {row.id}]" in line for line in lines), lines
    finally:
        runtime.close()


def test_json_lines(runtime: Runtime, alice: Account, logs: Callable[..., io.StringIO]) -> None:
    buffer = logs(runtime.settings.model_copy(update={"log_format": "json"}))
    job_id = _run(runtime, alice)
    try:
        raise ValueError("교체 실패")
    except ValueError:
        logging.getLogger("tests.logging").exception("outside a job")
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert set(lines[0]) == {"time", "level", "logger", "message", "job_id", "exc"}
    assert lines[0]["level"] == "INFO" and lines[0]["logger"] == "tests.logging.work"
    assert lines[0]["message"] == "working on it" and lines[0]["job_id"] == job_id and lines[0]["exc"] is None
    assert lines[0]["time"].endswith("+00:00")
    last = lines[-1]
    assert last["job_id"] is None and last["level"] == "ERROR"
    assert "Traceback" in last["exc"] and "ValueError: 교체 실패" in last["exc"]


def test_chatty_libraries_are_quiet_unless_debug(settings: Settings, logs: Callable[..., io.StringIO]) -> None:
    http_policy = logging.getLogger("azure.core.pipeline.policies.http_logging_policy")
    buffer = logs(settings)
    http_policy.info("Request URL: 'https://x.blob.core.windows.net/...'")
    logging.getLogger("huey.consumer").info("Executing boda.run_job")
    logging.getLogger("urllib3.connectionpool").debug("Starting new HTTPS connection")
    http_policy.warning("kept")
    assert buffer.getvalue().splitlines()[0].endswith("WARNING azure.core.pipeline.policies.http_logging_policy: kept")
    assert len(buffer.getvalue().splitlines()) == 1
    buffer = logs(settings, level="DEBUG")
    http_policy.info("Request URL: shown")
    assert "Request URL: shown" in buffer.getvalue()


def test_configure_twice_keeps_one_handler(settings: Settings, logs: Callable[..., io.StringIO]) -> None:
    logs(settings)
    buffer = logs(settings)
    logging.getLogger("tests.logging").warning("once")
    assert buffer.getvalue().count("once") == 1


@pytest.mark.azure
def test_azure_requests_log_nothing_at_info(azurite: str, settings: Settings,
                                            logs: Callable[..., io.StringIO]) -> None:
    from boda.core.storage import BlobStore

    buffer = logs(settings)
    store = BlobStore("az://boda-logs/blobs", {"connection_string": azurite})
    key = store.put_bytes(b"x" * 1024)
    assert store.read(key) == b"x" * 1024
    assert buffer.getvalue() == ""
    buffer = logs(settings, level="DEBUG")
    store.read(key)
    assert "Request URL" in buffer.getvalue()  # the same requests, logged once asked for
