import hashlib
import io
from pathlib import Path

import pytest

from boda.core.errors import NotFound, PayloadTooLarge
from boda.core.storage import BlobStore, spool


def test_put_is_content_addressed_and_deduplicated(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path / "blobs"))
    data = b"hello boda" * 1000
    key = store.put_bytes(data)
    assert key == hashlib.sha256(data).hexdigest()
    assert store.put_bytes(data) == key
    assert store.read(key) == data
    assert store.size(key) == len(data)
    files = [p for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert len(files) == 1 and not files[0].name.startswith(".tmp")  # no temp files left


def test_spool_streams_and_limits(tmp_path: Path) -> None:
    chunks = (b"x" * 1000 for _ in range(10))
    upload = spool(chunks, max_bytes=20_000, tmp_dir=tmp_path)
    assert upload.size == 10_000 and upload.head == b"x" * 64
    upload.discard()
    with pytest.raises(PayloadTooLarge):
        spool(io.BytesIO(b"y" * 5000), max_bytes=4096, tmp_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # the refused upload left nothing


@pytest.mark.parametrize("key", ["../../etc/passwd", "a" * 63, "A" * 64, "/" + "a" * 63])
def test_keys_that_are_not_hashes_are_refused(tmp_path: Path, key: str) -> None:
    store = BlobStore(str(tmp_path))
    with pytest.raises(NotFound):
        store.open(key)


def test_delete_and_missing(tmp_path: Path) -> None:
    store = BlobStore(str(tmp_path))
    key = store.put_bytes(b"abc")
    store.delete(key)
    assert not store.exists(key)
    store.delete(key)  # deleting twice is fine
    with pytest.raises(NotFound):
        store.read(key)


@pytest.mark.azure
def test_azure_blob_through_azurite(azurite: str) -> None:
    store = BlobStore("az://boda-test/blobs", {"connection_string": azurite})
    data = bytes(range(256)) * 4096  # 1 MiB
    key = store.put_bytes(data)
    assert store.exists(key)
    assert store.read(key) == data
    assert b"".join(store.iter_bytes(key, chunk=65536)) == data
    store.delete(key)
    assert not store.exists(key)
