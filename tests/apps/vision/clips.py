"""Short test clips made with PyAV: a real face (the astronaut fixture) moving over a textured
background, with a sine on the audio track."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from tests.conftest import FIXTURES

FACE = cv2.imread(str(FIXTURES / "faces" / "astronaut.jpg"))[20:220, 140:310]  # head and shoulders, BGR
FACE_SIZE = (85, 100)  # w, h pasted into each frame


def background(width: int, height: int) -> np.ndarray:
    """A fixed texture (not flat) so 'untouched' means something; seeded, the same every run."""
    rng = np.random.default_rng(7)
    noise = rng.integers(60, 200, (height // 8 + 1, width // 8 + 1, 3), dtype=np.uint8)
    return cv2.resize(noise, (width, height), interpolation=cv2.INTER_NEAREST)


def face_origin(index: int, frames: int, width: int, height: int) -> tuple[int, int]:
    """Left-top corner of the pasted face in frame `index`: it slides left to right."""
    w, h = FACE_SIZE
    x = 10 + round((width - w - 20) * index / max(1, frames - 1))
    return x, (height - h) // 2


def smear(face: np.ndarray) -> np.ndarray:
    kernel = np.full((1, 31), 1 / 31)
    return cv2.filter2D(face, -1, kernel)


def make_clip(path: Path, *, seconds: float = 2.0, fps: int = 10, width: int = 320, height: int = 240,
              container: str = "mp4", audio: bool = True, smeared: frozenset[int] = frozenset(),
              video: bool = True, rotation: int = 0,
              faststart: bool = False) -> list[tuple[int, int, int, int]]:
    """Write the clip; return where the face was pasted in each frame (x, y, w, h).

    Frames in `smeared` carry the face with a 31-pixel horizontal motion blur (a fast pan), which
    the detector misses but which still shows a face to hide (the hold-over's job). With `rotation`
    (90/180/270, counter-clockwise) the frames are stored turned the other way, as a phone stores a
    portrait clip, and the display matrix says how to show them: upright, width x height."""
    frames = round(seconds * fps)
    codec, audio_codec = ("libvpx", "libopus") if container == "webm" else ("libx264", "aac")
    face = cv2.resize(FACE, FACE_SIZE, interpolation=cv2.INTER_AREA)
    boxes = []
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format=container, options=options) as out:
        vout = None
        if video:
            vout = out.add_stream(codec, rate=fps)
            stored = (height, width) if rotation in (90, 270) else (width, height)
            vout.width, vout.height, vout.pix_fmt = *stored, "yuv420p"
            if rotation:
                vout.set_display_rotation(rotation)
            if codec == "libx264":
                vout.options = {"preset": "ultrafast", "crf": "12"}
        aout = out.add_stream(audio_codec, rate=48000, layout="mono") if audio else None
        if vout is not None:
            base = background(width, height)
            for i in range(frames):
                image = base.copy()
                x, y = face_origin(i, frames, width, height)
                image[y:y + FACE_SIZE[1], x:x + FACE_SIZE[0]] = smear(face) if i in smeared else face
                boxes.append((x, y, *FACE_SIZE))
                image = np.ascontiguousarray(np.rot90(image, -rotation // 90))
                frame = av.VideoFrame.from_ndarray(image, format="bgr24")
                frame.pts, frame.time_base = i, Fraction(1, fps)
                out.mux(vout.encode(frame))
            out.mux(vout.encode(None))
        if aout is not None:
            rate, chunk = 48000, 960
            t = np.arange(round(seconds * rate)) / rate
            wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
            for start in range(0, len(wave), chunk):
                block = wave[start:start + chunk]
                frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="flt", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
                out.mux(aout.encode(frame))
            out.mux(aout.encode(None))
    return boxes
