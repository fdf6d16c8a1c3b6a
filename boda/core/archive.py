"""ZIP archives of stored files, streamed as they are built (no temp file, bounded memory).

Photos are already compressed, so entries are stored, not deflated: building the
archive costs little more than reading the blobs.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from boda.core.storage import BlobStore

CHUNK = 256 * 1024


@dataclass(frozen=True)
class Entry:
    name: str
    blob_key: str
    size: int
    modified: datetime


class _Sink(io.RawIOBase):
    """An unseekable stream that keeps what zipfile wrote until the next `take`."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def unique_names(names: Iterable[str]) -> list[str]:
    """Names as given, with " (2)", " (3)" before the extension where one repeats."""
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
        candidate, n = name, 1
        while candidate.lower() in seen:
            n += 1
            candidate = f"{stem} ({n}){dot}{ext}"
        seen.add(candidate.lower())
        out.append(candidate)
    return out


def stream_zip(store: BlobStore, entries: Iterable[Entry]) -> Iterator[bytes]:
    """Yield a ZIP of the blobs, chunk by chunk, as it is written."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:
        for entry in entries:
            info = zipfile.ZipInfo(entry.name, date_time=max(entry.modified.timetuple()[:6], (1980, 1, 1, 0, 0, 0)))
            info.file_size = entry.size  # lets zipfile choose ZIP64 up front for a huge file
            with archive.open(info, "w") as out, store.open(entry.blob_key) as source:
                while block := source.read(CHUNK):
                    out.write(block)
                    yield sink.take()
            yield sink.take()
    yield sink.take()  # the central directory, written on close
