"""Album indexing photos/s on CPU, per backend, against the seed's one-at-a-time loop.

Run: .venv/bin/python bench/album_index.py [--photos 48] [--batches 8 16 32] [--model-dir DIR]
Prints figures; asserts nothing.

clip: the real ViT-B-32 architecture from open_clip_torch with random weights (as fast as the
trained one: same graph, same shapes), exported to ONNX in Immich's layout (about a minute;
`--model-dir DIR` keeps the export in DIR and reuses it next time). Every path starts from the
JPEG bytes of a photo (decode included), the photos being scikit-image's sample photos at
camera-like sizes. Compared:
  - seed loop: the seed's `index_images` (photo-album-clip.md, section 7): for each photo,
    decode, preprocess, one eager PyTorch forward (`no_grad`) at batch 1 (open_clip's model
    standing in for transformers' CLIPModel: same architecture);
  - Boda, one at a time: `ClipEmbedder.embed_images([photo])` per photo (ONNX Runtime);
  - Boda, batched: `embed_images(photos)` with batch_size 8 / 16 / 32;
  - Boda INT8 (`ai.clip_precision = int8`, the default on CPUs with int8 dot products): the image
    tower's INT8 copy, one photo per run, and its cosine to fp32.
Both sides use every core the process may use (torch.set_num_threads and ONNX intra-op); the
seed loop also runs on one thread and its better figure is the one compared, so a busy machine
does not flatter Boda.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from boda.ai.catalog import CARRIED_DIR  # noqa: E402
from boda.ai.clip import ClipEmbedder  # noqa: E402
from boda.ai.onnx import OnnxOptions, fast_int8  # noqa: E402
from boda.ai.registry import usable_cores  # noqa: E402
from tests.ai.openclip_reference import export_vit_b_32, torchvision_preprocess  # noqa: E402

SIZES = ((1024, 768), (768, 1024), (800, 600), (1280, 960))


def jpeg_photos(count: int) -> list[bytes]:
    from skimage import data

    sources = [data.astronaut(), data.chelsea(), data.coffee(), data.rocket(), data.immunohistochemistry()]
    out = []
    for i in range(count):
        image = Image.fromarray(sources[i % len(sources)]).resize(SIZES[i % len(SIZES)], Image.Resampling.BILINEAR)
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def decode(blob: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(blob))
    image.load()
    return image


def timed(label: str, photos: int, work: Callable[[], object], repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    rate = photos / best
    print(f"  {label:<34} {best:7.2f} s   {rate:7.2f} photos/s")
    return rate


def bench_clip(args: argparse.Namespace) -> None:
    import torch

    threads = usable_cores()
    torch.set_num_threads(threads)
    folder = Path(args.model_dir) if args.model_dir else Path(tempfile.mkdtemp(prefix="boda-clip-")) / "model"
    started = time.perf_counter()
    have = (folder / "visual" / "model.onnx").is_file()
    torch.manual_seed(0)
    if have:
        from tests.ai.openclip_reference import open_clip

        torch.manual_seed(0)
        model = open_clip().create_model("ViT-B-32", pretrained=None).eval()
    else:
        model = export_vit_b_32(folder)
    print(f"clip ViT-B-32 (random weights): {'reused' if have else 'exported'} {folder} in "
          f"{time.perf_counter() - started:.1f} s")

    blobs = jpeg_photos(args.photos)
    print(f"{len(blobs)} JPEG photos, {', '.join(f'{w}x{h}' for w, h in SIZES)}; {threads} threads")

    def seed_loop() -> None:
        with torch.no_grad():
            for blob in blobs:
                pixels = torch.from_numpy(torchvision_preprocess(decode(blob)))[None]
                model.encode_image(pixels)

    def boda(batch: int, precision: str = "fp32") -> Callable[[], object]:
        embedder = ClipEmbedder(folder, name="ViT-B-32-random", vocab=CARRIED_DIR / "bpe_simple_vocab_16e6.txt.gz",
                                options=OnnxOptions(threads=threads), batch_size=batch, precision=precision)
        embedder.embed_images([decode(blobs[0])])  # load the session outside the timing
        if batch == 1:
            return lambda: [embedder.embed_images([decode(b)]) for b in blobs]
        return lambda: embedder.embed_images([decode(b) for b in blobs])

    with torch.no_grad():  # warm the eager model too
        model.encode_image(torch.zeros(1, 3, 224, 224))
    seed = timed(f"seed loop (PyTorch, batch 1, {threads} thr)", len(blobs), seed_loop, args.repeat)
    if threads > 1:  # on a busy machine PyTorch's spinning OpenMP threads can lose to one thread: take its best
        torch.set_num_threads(1)
        seed = max(seed, timed("seed loop (PyTorch, batch 1, 1 thr)", len(blobs), seed_loop, args.repeat))
        torch.set_num_threads(threads)
    one = timed("Boda one at a time (ONNX, batch 1)", len(blobs), boda(1), args.repeat)
    rates = {b: timed(f"Boda batched (ONNX, batch {b})", len(blobs), boda(b), args.repeat) for b in args.batches}
    best = max(rates, key=lambda b: rates[b])
    print(f"  ratio vs seed loop: one at a time {one / seed:.2f}x; "
          + ", ".join(f"batch {b} {r / seed:.2f}x" for b, r in rates.items())
          + f"  (best: batch {best}, {rates[best] / seed:.2f}x; goal >= 3x)")
    print(f"  batching alone (ONNX batch {best} vs ONNX batch 1): {rates[best] / one:.2f}x")
    started = time.perf_counter()
    int8 = boda(1, "int8")  # the INT8 copy is made here, outside the timing (once per model)
    print(f"  INT8 copy of the image tower ready in {time.perf_counter() - started:.1f} s "
          f"(int8 dot products on this CPU: {fast_int8()}, so `auto` takes {'INT8' if fast_int8() else 'fp32'} here)")
    fast = timed("Boda INT8 (ONNX, one per run)", len(blobs), int8, args.repeat)
    vectors = {p: ClipEmbedder(folder, name="x", vocab=CARRIED_DIR / "bpe_simple_vocab_16e6.txt.gz",
                               options=OnnxOptions(threads=threads), precision=p).embed_images(
                                   [decode(b) for b in blobs[:8]]) for p in ("fp32", "int8")}
    cosine = np.sum(vectors["fp32"] * vectors["int8"], axis=1)
    print(f"  ratio vs seed loop: INT8 {fast / seed:.2f}x (goal >= 3x); INT8 vs fp32 best {fast / rates[best]:.2f}x; "
          f"cosine INT8 to fp32 on 8 photos: min {cosine.min():.5f}, mean {cosine.mean():.5f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["clip"], default="clip")
    parser.add_argument("--photos", type=int, default=48)
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs per path")
    parser.add_argument("--model-dir", help="keep the ONNX export here and reuse it")
    args = parser.parse_args()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    import onnxruntime
    import torch

    print(f"{usable_cores()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"onnxruntime {onnxruntime.__version__}, torch {torch.__version__}, numpy {np.__version__}; "
          f"load average {load[0]:.2f}")
    if args.backend == "clip":
        bench_clip(args)


if __name__ == "__main__":
    main()
