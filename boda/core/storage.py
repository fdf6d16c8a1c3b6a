"""Content-addressed blob storage over fsspec: a local folder, S3 or Azure Blob.

A blob's key is the SHA-256 of its bytes, so the same photo uploaded twice is
stored once and a key can never point at changed content. Writes are atomic:
local files land under a temporary name and are renamed; S3 and Azure commit
an object only when its upload completes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from boda.core.errors import NotFound, PayloadTooLarge

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class SpooledUpload:
    """Bytes received into a local temporary file, hashed on the way in."""

    path: Path
    size: int
    sha256: str
    head: bytes  # the first bytes, for type sniffing

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


def spool(source: BinaryIO | Iterator[bytes], *, max_bytes: int, tmp_dir: Path | None = None) -> SpooledUpload:
    """Stream into a temp file, refusing more than max_bytes; never holds the whole upload."""
    digest = hashlib.sha256()
    size = 0
    head = b""
    fd, name = tempfile.mkstemp(prefix="boda-upload-", dir=tmp_dir)
    path = Path(name)
    chunks = iter(lambda: source.read(CHUNK), b"") if hasattr(source, "read") else source
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(
                        f"File is larger than the limit of {max_bytes / 1024 / 1024:.1f} MB",
                        details={"limit_bytes": max_bytes, "limit_mb": round(max_bytes / 1024 / 1024, 1)},
                        key="too_large",
                    )
                if len(head) < 64:
                    head += chunk[: 64 - len(head)]
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return SpooledUpload(path=path, size=size, sha256=digest.hexdigest(), head=head)


class BlobStore:
    """Blobs by content hash under one fsspec root."""

    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        self.url = url
        fs, root = fsspec.core.url_to_fs(url, **(options or {}))
        self.fs: fsspec.AbstractFileSystem = fs
        self.root = root.rstrip("/")
        self.is_local = isinstance(fs, LocalFileSystem)
        if self.is_local:
            Path(self.root).mkdir(parents=True, exist_ok=True)
        elif not self.fs.exists(self.root):
            self.fs.mkdir(self.root)

    def check(self) -> None:
        """Raise if the store does not answer (readiness).

        S3 and Azure have no empty folders: until the first blob is written the root prefix
        does not exist, and an existing bucket or container is all a fresh store needs.
        """
        if self.is_local:
            if not os.path.isdir(self.root) or not os.access(self.root, os.W_OK | os.X_OK):
                raise FileNotFoundError(f"The blob folder {self.root} is missing or not writable")
            return
        self.fs.invalidate_cache(self.root)  # listings are cached: ask the service
        try:
            self.fs.ls(self.root, detail=False)
        except FileNotFoundError:
            self.fs.info(self.root.split("/", 1)[0])  # the bucket or container itself

    def path(self, key: str) -> str:
        if len(key) != 64 or not all(c in "0123456789abcdef" for c in key):
            raise NotFound("No such blob", key="blob_not_found")  # keys are hashes: anything else is a path trick
        return f"{self.root}/{key[:2]}/{key[2:4]}/{key}"

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self.path(key)))

    def put_spooled(self, upload: SpooledUpload) -> str:
        """Store a spooled upload under its hash (a no-op when already stored)."""
        key = upload.sha256
        target = self.path(key)
        if self.fs.exists(target):
            return key
        if self.is_local:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=Path(target).parent)
            os.close(fd)
            try:
                shutil.copyfile(upload.path, tmp)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        else:
            self.fs.put_file(str(upload.path), target)
        return key

    def put_bytes(self, data: bytes) -> str:
        import io

        upload = spool(io.BytesIO(data), max_bytes=len(data) + 1)
        try:
            return self.put_spooled(upload)
        finally:
            upload.discard()

    def open(self, key: str) -> IO[bytes]:
        try:
            return self.fs.open(self.path(key), "rb")  # type: ignore[no-any-return]
        except FileNotFoundError as exc:
            raise NotFound("No such blob", key="blob_not_found") from exc

    def read(self, key: str) -> bytes:
        with self.open(key) as f:
            return f.read()

    def iter_bytes(self, key: str, chunk: int = CHUNK) -> Iterator[bytes]:
        with self.open(key) as f:
            while block := f.read(chunk):
                yield block

    def size(self, key: str) -> int:
        return int(self.fs.size(self.path(key)))

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.path(key))
