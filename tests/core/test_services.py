"""The real servers of tests/services.py start, answer, and stop.

Nothing here is skipped: a missing service fails with what to install.
"""

from __future__ import annotations

import stat
import urllib.parse
import uuid
from pathlib import Path

import pytest

from tests.services import (
    CHROMIUM_ARGS,
    ServiceError,
    azurite_server,
    chromium_path,
    free_port,
    port_open,
    postgres_server,
    redis_server,
)

KOREAN = "보다: 사진과 요리"


@pytest.mark.postgres
def test_postgres_answers_and_stops(tmp_path: Path) -> None:
    from sqlalchemy import create_engine, make_url, text

    with postgres_server(tmp_path) as url:
        assert url.startswith("postgresql+psycopg://boda@127.0.0.1:")
        port = make_url(url).port
        assert port is not None
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                assert conn.execute(text("select 1")).scalar_one() == 1
                row = conn.execute(text("select current_database(), current_user")).one()
                assert tuple(row) == ("boda", "boda")
                assert conn.execute(text("show server_encoding")).scalar_one() == "UTF8"
                assert conn.execute(text("select :s"), {"s": KOREAN}).scalar_one() == KOREAN
        finally:
            engine.dispose()
    assert not port_open(port), "PostgreSQL still listens after the context exited"


@pytest.mark.redis
def test_redis_answers_and_stops(tmp_path: Path) -> None:
    import redis

    with redis_server(tmp_path) as url:
        assert url.startswith("redis://127.0.0.1:") and url.endswith("/0")
        port = int(urllib.parse.urlsplit(url).port or 0)
        client = redis.Redis.from_url(url)
        try:
            assert client.ping() is True
            assert client.set("boda:test", KOREAN) is True
            assert client.get("boda:test") == KOREAN.encode()
        finally:
            client.close()
    assert not port_open(port), "Redis still listens after the context exited"


@pytest.mark.azure
def test_azurite_blob_roundtrip_and_stops(tmp_path: Path) -> None:
    from adlfs import AzureBlobFileSystem
    from azure.storage.blob import BlobServiceClient

    container = f"boda-{uuid.uuid4().hex[:8]}"
    with azurite_server(tmp_path) as conn_str:
        assert "AccountName=devstoreaccount1;" in conn_str
        endpoint = conn_str.split("BlobEndpoint=")[1].rstrip(";")
        port = int(urllib.parse.urlsplit(endpoint).port or 0)

        # The Azure SDK writes; adlfs (what Boda's fsspec storage uses) reads, and back.
        with BlobServiceClient.from_connection_string(conn_str) as service:
            service.create_container(container)
            blob = service.get_blob_client(container, "photos/a.txt")
            blob.upload_blob(KOREAN.encode())
            assert blob.download_blob().readall() == KOREAN.encode()

            fs = AzureBlobFileSystem(connection_string=conn_str, skip_instance_cache=True)
            assert fs.cat_file(f"{container}/photos/a.txt") == KOREAN.encode()
            fs.pipe_file(f"{container}/photos/b.bin", b"\x00\x01boda")
            assert sorted(fs.ls(f"{container}/photos")) == [
                f"{container}/photos/a.txt",
                f"{container}/photos/b.bin",
            ]
            downloaded = service.get_blob_client(container, "photos/b.bin").download_blob()
            assert downloaded.readall() == b"\x00\x01boda"
    assert not port_open(port), "Azurite still listens after the context exited"


@pytest.mark.browser
def test_chromium_opens_a_page() -> None:
    from playwright.sync_api import sync_playwright

    path = chromium_path()
    assert path is not None, (
        "Chromium not found (/usr/bin/chromium or $BODA_CHROMIUM): "
        "run `bash scripts/install-test-services.sh`"
    )
    html = f"<!doctype html><meta charset=utf-8><title>{KOREAN}</title><p id=p>{KOREAN}</p>"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto("data:text/html;charset=utf-8," + urllib.parse.quote(html))
            assert page.title() == KOREAN
            assert page.locator("#p").inner_text() == KOREAN
        finally:
            browser.close()


# --- how failures read ------------------------------------------------------------------


def test_free_port_is_bindable() -> None:
    import socket

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
    assert not port_open(port)


def test_missing_server_fails_with_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ServiceError, match="install-test-services.sh"), redis_server(tmp_path):
        pass


def test_server_that_dies_fails_with_its_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "redis-server"
    fake.write_text("#!/bin/sh\necho 'FATAL: config is broken' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bindir))
    with pytest.raises(ServiceError) as err, redis_server(tmp_path):
        pass
    assert "exited with status 3" in str(err.value)
    assert "FATAL: config is broken" in str(err.value)


def test_chromium_path_honours_boda_chromium(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BODA_CHROMIUM", str(tmp_path / "no-such-browser"))
    assert chromium_path() is None
