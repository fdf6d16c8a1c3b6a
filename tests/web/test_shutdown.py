"""SIGTERM does not wait on event streams: a real `boda serve` exits at once, its clients resume on the next one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from boda.core.auth import create_api_token, create_user
from boda.core.config import Settings
from boda.core.events import events_after
from boda.core.runtime import Runtime
from boda.core.selftest import selftest
from tests.conftest import PASSWORD
from tests.services import CHROMIUM_ARGS, chromium_path, free_port

REPO = Path(__file__).resolve().parents[2]


def _env(tmp: Path, port: int) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "BODA_CONFIG": "",
            "BODA_DATA_DIR": str(tmp / "data"), "BODA_PORT": str(port), "BODA_JOBS__IN_PROCESS": "false",
            "BODA_JOBS__PROGRESS_INTERVAL": "0.05", "BODA_AI__THREADS": "1"}


def _start(tmp: Path, name: str, *args: str, port: int = 0) -> subprocess.Popen[bytes]:
    log = open(tmp / f"{name}.log", "wb")  # noqa: SIM115 - the process owns it
    return subprocess.Popen([sys.executable, "-m", "boda", *args], env=_env(tmp, port), cwd=tmp,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_healthy(proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"boda serve did not start: {log.read_text()[-2000:]}")
        time.sleep(0.2)


def _events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The SSE messages of a streamed response, as {id, event, data, retry}; comments skipped."""
    current: dict[str, Any] = {}
    for line in response.iter_lines():
        if line == "":
            if current:
                yield current
            current = {}
        elif not line.startswith(":"):
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            current[field] = json.loads(value) if field == "data" else int(value) if field in ("id", "retry") else value


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A worker process running a long job, a signed-in token, and a way to start servers."""
    settings = Settings(_env_file=None, data_dir=tmp_path / "data",  # type: ignore[call-arg]
                        jobs={"in_process": False})
    runtime = Runtime(settings)
    runtime.db.migrate()
    with runtime.db.session() as session:
        user = create_user(session, username="alice", password=PASSWORD)
        _, token = create_api_token(session, user=user, name="tests")
        job = runtime.queue.enqueue(session, selftest, owner_id=user.id, payload={"seconds": 120, "steps": 1200})
    procs: list[subprocess.Popen[bytes]] = [_start(tmp_path, "worker", "worker", "--workers", "1")]

    def serve(name: str, port: int | None = None) -> tuple[subprocess.Popen[bytes], int]:
        port = port or free_port()
        proc = _start(tmp_path, name, "serve", port=port)
        procs.append(proc)
        _wait_healthy(proc, port, tmp_path / f"{name}.log")
        return proc, port

    try:
        yield {"runtime": runtime, "job": job.id, "headers": {"Authorization": f"Bearer {token}"}, "serve": serve,
               "tmp": tmp_path}
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
        runtime.close()


def test_sigterm_ends_streams_at_once_and_they_resume_exactly(stack: dict[str, Any]) -> None:
    job_id, headers, tmp = stack["job"], stack["headers"], stack["tmp"]
    first, port = stack["serve"]("serve1")
    seen: list[dict[str, Any]] = []
    with httpx.stream("GET", f"http://127.0.0.1:{port}/api/v1/jobs/{job_id}/events", headers=headers,
                      timeout=30) as response:
        assert response.status_code == 200
        messages = _events(response)
        while sum(1 for m in seen if m.get("event") == "progress") < 5:  # the job is running in the worker
            seen.append(next(messages))
        first.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        seen += list(messages)  # ends when the server closes the stream
        closed = time.monotonic() - signalled
    first.wait(10)
    exited = time.monotonic() - signalled
    log = (tmp / "serve1.log").read_text()
    assert exited < 5, log
    assert closed < 2, log
    assert seen[-1] == {"event": "reconnect", "data": {"reason": "shutdown"}, "retry": 1000}, seen[-3:]
    assert "timeout graceful shutdown exceeded" not in log  # the stream ended; nothing had to be cancelled
    received = [m["id"] for m in seen if "id" in m]

    second, port = stack["serve"]("serve2")
    url = f"http://127.0.0.1:{port}/api/v1/jobs/{job_id}/events"
    with httpx.stream("GET", url, headers={**headers, "Last-Event-ID": str(received[-1])}, timeout=30) as response:
        messages = _events(response)
        for message in messages:
            received += [message["id"]] if "id" in message else []
            if message.get("event") == "progress" and message["data"]["progress"] > 0:
                assert httpx.post(f"http://127.0.0.1:{port}/api/v1/jobs/{job_id}/cancel",
                                  headers=headers).status_code == 200
                break
        for message in messages:
            received += [message["id"]] if "id" in message else []
            if message.get("event") == "final":
                assert message["data"]["status"] == "canceled"
    stored = [row.id for row in events_after(stack["runtime"].db, job_id, 0)]
    assert received == stored  # every event once, in order, across the restart
    second.send_signal(signal.SIGTERM)
    assert second.wait(10) == -signal.SIGTERM  # uvicorn re-raises the signal once it has shut down


@pytest.mark.browser
def test_the_jobs_page_follows_its_job_across_a_restart(stack: dict[str, Any]) -> None:
    """The browser's EventSource comes back by itself to the new process and picks up where it was."""
    from playwright.sync_api import sync_playwright

    job_id, tmp = stack["job"], stack["tmp"]
    first, port = stack["serve"]("serve1")
    base = f"http://127.0.0.1:{port}"
    streams: list[dict[str, str]] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("request", lambda r: streams.append({"url": r.url, **r.all_headers()}) if "/events" in r.url else None)
        page.goto(f"{base}/login?next=/jobs")
        page.fill("input[name=username]", "alice")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/jobs")
        bar = page.locator(f'[data-job-id="{job_id}"] [data-role="bar"]')
        value = lambda: float(bar.evaluate("b => b.value"))  # noqa: E731
        page.wait_for_function("b => b.value > 0.5", arg=bar.element_handle(), timeout=30_000)
        first.send_signal(signal.SIGTERM)
        first.wait(5)
        before, opened = value(), len(streams)
        stack["serve"]("serve2", port)
        page.wait_for_function(f"b => b.value > {before} + 0.5", arg=bar.element_handle(), timeout=30_000)
        page.click(f'[data-cancel="{job_id}"]')
        page.wait_for_function(f'() => document.querySelector(\'[data-job-id="{job_id}"]\').dataset.status'
                               ' === "canceled"', timeout=30_000)
        assert value() > before
        browser.close()
    (tmp / "streams.json").write_text(json.dumps(streams, indent=1))
    resumed = streams[opened:]
    assert resumed, streams
    # Chromium retries every second (`retry: 1000`) while no server listens; the attempt that
    # reaches the new one carries the last id it saw (failed attempts show no headers at all).
    assert int(resumed[-1]["last-event-id"]) > 0 and "after=" not in resumed[-1]["url"], resumed[-1]
