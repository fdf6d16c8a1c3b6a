"""A half-sent request is not held forever: raw sockets against a real `boda serve` process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import free_port

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    tmp = tmp_path_factory.mktemp("serve")
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "BODA_CONFIG": "",
           "BODA_DATA_DIR": str(tmp / "data"), "BODA_PORT": str(port), "BODA_JOBS__IN_PROCESS": "false",
           "BODA_HEADER_TIMEOUT_SECONDS": str(TIMEOUT), "BODA_BODY_TIMEOUT_SECONDS": str(TIMEOUT)}
    proc = subprocess.Popen([sys.executable, "-m", "boda", "serve"], env=env, cwd=tmp,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while b"200 OK" not in _exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"boda serve did not start: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            time.sleep(0.2)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(10)


def _exchange(port: int, *parts: bytes, pause: float = 0.0, wait: float = 6.0) -> bytes:
    """Send the parts (pausing between them), then read until the server closes; b"" if it never answers."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=wait)
    except OSError:
        return b""
    with sock:
        for part in parts:
            sock.sendall(part)
            time.sleep(pause)
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except TimeoutError:
            return b"(still open) " + received
        except ConnectionResetError:
            pass
        return received


def _timed(port: int, *parts: bytes, pause: float = 0.0) -> tuple[float, bytes]:
    start = time.monotonic()
    answer = _exchange(port, *parts, pause=pause)
    return time.monotonic() - start, answer


def test_half_sent_headers_are_cut_off(server: int) -> None:
    took, answer = _timed(server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    assert took < TIMEOUT + 2, answer
    assert answer.startswith(b"HTTP/1.1 408 ") and b'"request_timeout"' in answer


def test_a_silent_connection_is_closed(server: int) -> None:
    took, answer = _timed(server)
    assert answer == b"" and took < TIMEOUT + 2


def test_half_sent_body_is_cut_off(server: int) -> None:
    head = (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n")
    took, answer = _timed(server, head + b'{"username": "al')
    assert took < TIMEOUT + 2, answer
    assert answer.startswith(b"HTTP/1.1 408 ")
    body = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert body["error"]["code"] == "request_timeout"


def test_slow_but_steady_body_passes(server: int) -> None:
    payload = json.dumps({"username": "nobody", "password": "wrong-password"}).encode()
    head = (b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
            b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n")
    chunks = [payload[i:i + 10] for i in range(0, len(payload), 10)]
    took, answer = _timed(server, head, *chunks, pause=TIMEOUT * 0.6)  # well past one timeout in all
    assert took > TIMEOUT * 1.5 and answer.startswith(b"HTTP/1.1 401 "), answer[:200]


def test_keep_alive_then_a_slow_second_request(server: int) -> None:
    first = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    took, answer = _timed(server, first, b"GET /healthz HTTP/1.1\r\nHo", pause=0.1)
    assert answer.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 408 " in answer and took < TIMEOUT + 2
