"""Upload throughput: Boda's safe upload path against a plain copy, memory for one ~100 MB file, and HTTP.

Run: .venv/bin/python bench/uploads.py [--quick] [--files 200]
Prints figures; asserts nothing.

1. In process, on generated photos (JPEG quality 95, 1-5 MB, 1.9-12 megapixels: the astronaut of
   tests/fixtures/faces scaled up, mirrored, re-lit with a gradient, with sensor grain; every
   file has its own bytes, so content-hash de-duplication never short-cuts the work):
   - the alternative, the seed's `shutil.copyfileobj(upload, open(UPLOAD_DIR / filename, "wb"))`
     with no validation at all;
   - `boda.core.uploads.save_image_upload`, one committed session per file as in a request:
     stream to a temp file (size limit, SHA-256 on the way) -> sniff the type from the bytes ->
     Pillow's bomb guard and a full decode -> store under the hash (temp + rename) -> a row;
   - where Boda's time goes, stage by stage, on a fresh store.
   Both read the same files from the page cache (read once beforehand).
2. Memory, in a fresh child process: the growth of resident memory (sampled every 2 ms) and
   tracemalloc's peak while one ~100 MB PNG (33 megapixels, under the pixel limit; the upload limit
   raised through Settings) goes through a plain copy, through `spool` alone, and through
   `save_image_upload`.
3. Over HTTP, against `boda serve` started as a subprocess (see bench/api_load.py): requests/s of
   POST /api/v1/vision/digits, the lightest upload endpoint (a 28x28 MNIST PNG), one caller at a
   time and 8 at once.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH.parent), str(BENCH)]

from api_load import (  # noqa: E402
    FIXTURES,
    HEADER,
    BodaInstance,
    Target,
    http_request,
    install_signal_handlers,
    machine_report,
    multipart,
    print_errors,
    report_server_log,
    row,
    run_load,
)

from boda.core.auth import create_user  # noqa: E402
from boda.core.config import Settings  # noqa: E402
from boda.core.db import Database  # noqa: E402
from boda.core.models import StoredFile, Visibility  # noqa: E402
from boda.core.storage import BlobStore, spool  # noqa: E402
from boda.core.uploads import inspect_image, save_image_upload  # noqa: E402

MB = 1024 * 1024
# (width, height, grain sigma): 1.9 to 12 megapixels, about 1 to 5 MB as JPEG quality 95 (a phone's).
SHAPES = [(1600, 1200, 14.0), (1920, 1440, 12.0), (2048, 1536, 10.0), (2592, 1944, 6.0), (2592, 1944, 10.0),
          (3264, 2448, 6.0), (3264, 2448, 9.0), (4000, 3000, 5.0), (4000, 3000, 7.0), (3000, 4000, 6.0),
          (2448, 3264, 12.0)]


# --- test data -------------------------------------------------------------------

def photo(rng: np.random.Generator, width: int, height: int, grain: float, variant: int) -> np.ndarray:
    """A photo-like BGR image: a real photo scaled up, mirrored, re-lit, with sensor grain."""
    base = cv2.imread(str(FIXTURES / "astronaut.jpg"))
    if variant % 2:
        base = base[:, ::-1]
    if variant % 3 == 1:
        base = base[::-1]
    side = max(width, height)
    img = cv2.resize(base, (side, side), interpolation=cv2.INTER_CUBIC)
    y0, x0 = (side - height) // 2, (side - width) // 2
    img = img[y0:y0 + height, x0:x0 + width].astype(np.float32)
    ramp_x = np.linspace(0.65 + 0.05 * variant, 1.2, width, dtype=np.float32)[None, :, None]
    ramp_y = np.linspace(1.1, 0.8, height, dtype=np.float32)[:, None, None]
    img *= ramp_x * ramp_y
    img += rng.standard_normal(img.shape, dtype=np.float32) * grain
    return np.clip(img, 0, 255).astype(np.uint8)


def with_comment(jpeg: bytes, text: str) -> bytes:
    """The same JPEG with a COM segment after SOI: other bytes, other hash, same decode work."""
    payload = text.encode()
    return jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def make_photos(folder: Path, count: int, seed: int = 1234) -> list[Path]:
    rng = np.random.default_rng(seed)
    bases = []
    for variant, (w, h, grain) in enumerate(SHAPES):
        ok, buf = cv2.imencode(".jpg", photo(rng, w, h, grain, variant), [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert ok
        bases.append(buf.tobytes())
    folder.mkdir(parents=True)
    paths = []
    for i in range(count):
        path = folder / f"IMG_{i:04d}.jpg"
        path.write_bytes(with_comment(bases[i % len(bases)], f"boda bench photo {i}"))
        paths.append(path)
    return paths


def make_big_png(path: Path, side: int = 5760, seed: int = 99) -> None:
    """~100 MB: noise (incompressible) over a gradient, RGB, side x side pixels."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    img[:, :, 0] //= 2
    img[:, :, 0] += np.linspace(0, 127, side, dtype=np.uint8)[None, :]
    cv2.imwrite(str(path), img, [cv2.IMWRITE_PNG_COMPRESSION, 1])


# --- in process --------------------------------------------------------------------

class Boda:
    """A migrated SQLite database, a blob folder and one user: what save_image_upload needs."""

    def __init__(self, root: Path, **settings: object) -> None:
        self.settings = Settings(data_dir=root, **settings)  # type: ignore[arg-type]
        self.db = Database(self.settings.database_url)
        self.db.migrate()
        self.store = BlobStore(self.settings.storage_url)
        with self.db.session() as session:
            self.owner_id = create_user(session, username="bench", password="bench-password-1").id

    def save(self, path: Path) -> StoredFile:
        with path.open("rb") as upload, self.db.session() as session:
            return save_image_upload(session, self.store, owner_id=self.owner_id, source=upload,
                                     filename=path.name, app="bench", max_bytes=self.settings.max_upload_bytes,
                                     max_pixels=self.settings.max_image_pixels)

    def close(self) -> None:
        self.db.dispose()


def naive_copy(paths: Sequence[Path], upload_dir: Path) -> list[float]:
    """The seed: shutil.copyfileobj(upload, open(UPLOAD_DIR / filename, 'wb')), nothing checked."""
    upload_dir.mkdir(parents=True, exist_ok=True)
    times = []
    for path in paths:
        start = time.perf_counter()
        with path.open("rb") as upload, open(upload_dir / path.name, "wb") as out:
            shutil.copyfileobj(upload, out)
        times.append(time.perf_counter() - start)
    return times


def boda_save(boda: Boda, paths: Sequence[Path]) -> list[float]:
    times = []
    for path in paths:
        start = time.perf_counter()
        boda.save(path)
        times.append(time.perf_counter() - start)
    return times


def stages(boda: Boda, paths: Sequence[Path]) -> dict[str, float]:
    """save_image_upload's steps, each timed (seconds, summed over the files)."""
    spent = dict.fromkeys(("spool: stream to temp, size limit, SHA-256", "sniff + bomb guard + full decode",
                           "store blob under its hash (copy + rename)", "row + commit", "discard temp"), 0.0)
    names = list(spent)
    s = boda.settings
    for path in paths:
        t0 = time.perf_counter()
        with path.open("rb") as upload:
            spooled = spool(upload, max_bytes=s.max_upload_bytes)
        t1 = time.perf_counter()
        info = inspect_image(spooled.path, spooled.head, max_pixels=s.max_image_pixels)
        t2 = time.perf_counter()
        key = boda.store.put_spooled(spooled)
        t3 = time.perf_counter()
        with boda.db.session() as session:
            session.add(StoredFile(owner_id=boda.owner_id, blob_key=key, filename=path.name,
                                   content_type=info.content_type, size=spooled.size, width=info.width,
                                   height=info.height, app="bench", visibility=Visibility.private))
        t4 = time.perf_counter()
        spooled.discard()
        t5 = time.perf_counter()
        for name, dt in zip(names, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            spent[name] += dt
    return spent


def throughput(label: str, times: Sequence[float], total_bytes: int) -> tuple[float, float]:
    wall = sum(times)
    ms = sorted(t * 1000 for t in times)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    print(f"  {label:<44} {total_bytes / MB / wall:8.1f} MB/s {len(times) / wall:8.1f} files/s"
          f"   per file p50 {statistics.median(ms):7.2f} ms  p99 {p99:7.2f} ms")
    return total_bytes / MB / wall, len(times) / wall


def in_process(workdir: Path, count: int) -> None:
    started = time.perf_counter()
    paths = make_photos(workdir / "photos", count)
    sizes = [p.stat().st_size for p in paths]
    total = sum(sizes)
    print(f"{count} JPEGs in {time.perf_counter() - started:.1f}s: {total / MB:.0f} MB, {min(sizes) / MB:.1f} to"
          f" {max(sizes) / MB:.1f} MB (median {statistics.median(sizes) / MB:.1f} MB), 1.9 to 12 megapixels")
    for path in paths:  # into the page cache, for both sides alike
        path.read_bytes()

    print("\nupload path, in process, one file at a time (a request's work without the HTTP):")
    first = naive_copy(paths, workdir / "naive-1")
    boda = Boda(workdir / "boda-1")
    try:
        mine = boda_save(boda, paths)
        with boda.db.session() as session:
            stored = session.query(StoredFile).count()
    finally:
        boda.close()
    second = naive_copy(paths, workdir / "naive-2")
    naive = first if sum(first) <= sum(second) else second
    naive_mbs, naive_fps = throughput("plain copy (shutil.copyfileobj, no checks)", naive, total)
    boda_mbs, boda_fps = throughput("Boda save_image_upload", mine, total)
    print(f"  (plain copy before and after Boda: {total / MB / sum(first):.0f} and {total / MB / sum(second):.0f}"
          f" MB/s; the faster is shown. Boda stored {stored} rows.)")
    print(f"ratio against the alternative: Boda's safe upload takes {sum(mine) / sum(naive):.1f}x the time of a"
          f" plain copy ({boda_mbs:.1f} vs {naive_mbs:.1f} MB/s, {boda_fps:.1f} vs {naive_fps:.1f} files/s);"
          f" {(sum(mine) - sum(naive)) / count * 1000:.1f} ms more per photo")

    subset = paths[: min(len(paths), 50)]
    boda = Boda(workdir / "boda-2")
    try:
        spent = stages(boda, subset)
    finally:
        boda.close()
    whole = sum(spent.values())
    print(f"where Boda's time goes ({len(subset)} photos, a fresh store;"
          f" {whole / len(subset) * 1000:.1f} ms per photo):")
    for name, seconds in spent.items():
        print(f"  {name:<44} {seconds / len(subset) * 1000:8.2f} ms  {seconds / whole * 100:5.1f}%")


# --- memory, in a fresh process --------------------------------------------------------

class RssSampler:
    """Peak resident memory of this process, sampled every 2 ms from /proc/self/statm."""

    def __init__(self) -> None:
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def now(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def _run(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, self.now())

    @contextlib.contextmanager
    def phase(self, out: dict[str, dict[str, float]], name: str) -> Iterator[None]:
        gc.collect()
        before = self.now()
        self.peak = before
        hwm_reset = reset_high_water()
        tracemalloc.reset_peak()
        start = time.perf_counter()
        yield
        seconds = time.perf_counter() - start
        self.peak = max(self.peak, self.now())
        out[name] = {"rss_growth_mb": (self.peak - before) / MB,
                     "hwm_growth_mb": high_water_mb() - before / MB if hwm_reset else float("nan"),
                     "tracemalloc_peak_mb": tracemalloc.get_traced_memory()[1] / MB, "seconds": seconds}

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def reset_high_water() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux 4.0+)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def high_water_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_child(big: Path, workdir: Path) -> None:
    """Runs in a fresh process; prints JSON."""
    size = big.stat().st_size
    boda = Boda(workdir, max_upload_mb=size / MB + 8)  # the upload limit raised through Settings
    boda.save(FIXTURES / "astronaut.jpg")  # lazy imports and first-use allocations, outside the phases
    out: dict[str, dict[str, float]] = {}
    tracemalloc.start()
    with RssSampler() as rss:
        with rss.phase(out, "plain copy (shutil.copyfileobj)"):
            naive_copy([big], workdir / "naive")
        with rss.phase(out, "spool only (stream, size limit, SHA-256)"), big.open("rb") as upload:
            spool(upload, max_bytes=boda.settings.max_upload_bytes).discard()
        with rss.phase(out, "save_image_upload (spool, sniff, decode, store, row)"):
            row = boda.save(big)
    tracemalloc.stop()
    boda.close()
    print(json.dumps({"phases": out, "size_mb": size / MB, "width": row.width, "height": row.height,
                      "max_upload_mb": boda.settings.max_upload_mb, "max_pixels": boda.settings.max_image_pixels,
                      "ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def memory(workdir: Path) -> None:
    big = workdir / "big.png"
    started = time.perf_counter()
    make_big_png(big)
    print(f"\nmemory for one large upload: a {big.stat().st_size / MB:.1f} MB PNG made in"
          f" {time.perf_counter() - started:.1f}s, measured in a fresh process")
    child = workdir / "rss-child"
    child.mkdir()
    done = subprocess.run([sys.executable, __file__, "--rss-child", str(big), str(child)], capture_output=True,
                          text=True, timeout=600)
    if done.returncode != 0:
        print(f"  the child failed ({done.returncode}):\n{done.stdout}{done.stderr}")
        return
    data = json.loads(done.stdout.strip().splitlines()[-1])
    w, h = data["width"], data["height"]
    print(f"  {w}x{h} = {w * h / 1e6:.1f} megapixels (limit {data['max_pixels'] / 1e6:.0f}), upload limit raised to"
          f" {data['max_upload_mb']:.0f} MB; decoded RGB in Pillow is 4 bytes a pixel = {w * h * 4 / MB:.0f} MB")
    print(f"  {'peak growth over the RSS at the start of each phase':<52} {'RSS/2ms':>9} {'VmHWM':>9}"
          f" {'tracemalloc':>11} {'time':>7}")
    for name, p in data["phases"].items():
        print(f"  {name:<52} {p['rss_growth_mb']:>6.1f} MB {p['hwm_growth_mb']:>6.1f} MB"
              f" {p['tracemalloc_peak_mb']:>8.1f} MB {p['seconds']:>6.2f}s")
    print("  RSS/2ms: resident memory sampled every 2 ms; VmHWM: the kernel's peak, reset before each phase;"
          " tracemalloc:\n  Python's allocations only (Pillow's pixel buffers are not among them)."
          f" Not getrusage's ru_maxrss ({data['ru_maxrss_mb']:.0f} MB):\n  on Linux a child inherits its"
          " parent's peak through fork and exec.")
    phases = list(data["phases"].values())
    print(f"  so: the bytes stream ({phases[1]['rss_growth_mb']:.0f} MB held for a {data['size_mb']:.0f} MB file),"
          f" but the full-decode check holds the decoded image ({phases[2]['rss_growth_mb']:.0f} MB here, up to"
          f" {data['max_pixels'] * 4 / MB:.0f} MB at the pixel limit) for each upload in flight")


# --- over HTTP ---------------------------------------------------------------------------

def over_http(workdir: Path, n: int) -> None:
    print("\nend to end over HTTP: POST /api/v1/vision/digits (upload, validate, decode, read the digit)")
    boda = BodaInstance(workdir / "boda-serve")
    try:
        sample = boda.api_json("POST", "/api/v1/vision/mnist-sample", body=b'{"index": 0}',
                               content_type="application/json")
        _, png = boda.api("GET", sample["image"]["url"])  # type: ignore[index]
        body, ctype = multipart({}, {"file": ("digit.png", png, "image/png")})
        target = Target(f"POST /api/v1/vision/digits ({len(png)} B)",
                        http_request("POST", "/api/v1/vision/digits", port=boda.port, token=boda.token, body=body,
                                     content_type=ctype))
        print(HEADER)
        results = []
        for level in (1, 8):
            results.append(run_load(boda.server, target, n=n, concurrency=level))
            print(row(results[-1]), flush=True)
        print_errors(results)
        print(f"  the uploads over HTTP reached {boda.server.name} on 127.0.0.1:{boda.port}; server RSS"
              f" {boda.server.rss_mb():.0f} MB")
    finally:
        boda.stop()
    report_server_log(boda.server)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 photos and 60 HTTP requests per level")
    parser.add_argument("--files", type=int, help="photos to upload in process (default 200, quick 40)")
    parser.add_argument("--requests", type=int, help="HTTP requests per concurrency level (default 300, quick 60)")
    parser.add_argument("--skip-memory", action="store_true", help="skip the ~100 MB upload")
    parser.add_argument("--rss-child", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(*args.rss_child)
        return
    install_signal_handlers()
    print(machine_report())
    workdir = Path(tempfile.mkdtemp(prefix="boda-bench-uploads-"))
    for name in [k for k in os.environ if k.startswith("BODA_")]:  # this benchmark's settings only
        del os.environ[name]
    os.environ["BODA_CONFIG"] = ""  # no boda.toml from the working directory
    try:
        in_process(workdir, args.files or (40 if args.quick else 200))
        if not args.skip_memory:
            memory(workdir)
        over_http(workdir, args.requests or (60 if args.quick else 300))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped, temp files removed", file=sys.stderr)
        sys.exit(130)
