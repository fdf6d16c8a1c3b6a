"""Video anonymisation with PyAV (FFmpeg bundled in the wheel: no system ffmpeg).

`probe` checks an upload quickly (a container PyAV opens, a video stream, a
first and a last frame that decode, within the size and length limits);
`cover_video` decodes every frame, finds faces on every frame, holds each box
for a few frames after its face was last seen (so a missed detection never
lets a face flash through), covers them with the photo tool's mosaic/blur/box,
and encodes the frames with their own timestamps (same frame rate, size and
duration) while the audio packets are copied unchanged (a sound stream whose codec
FFmpeg cannot read is left out, and the report says so). A clip stored sideways
with a rotation (phones) is turned upright first, so its faces are found, and
written upright.

Output: WebM input stays WebM (VP9, Opus/Vorbis audio copy) so browsers play
it; everything else becomes MP4 with H.264 (libx264, bundled in PyAV's
FFmpeg; MPEG-4 Part 2 where a build lacks it) when its audio fits MP4, else
Matroska with the same H.264 video.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
import numpy as np

from boda.ai.faces import Face, FaceDetector, anonymize
from boda.core.errors import InvalidInput, PayloadTooLarge, UnsupportedMedia

MP4_AUDIO = frozenset({"aac", "mp3", "opus", "ac3", "eac3", "alac", "flac"})
WEBM_AUDIO = frozenset({"opus", "vorbis"})
CONTENT_TYPES = {"mp4": "video/mp4", "webm": "video/webm", "matroska": "video/x-matroska"}
EXTENSIONS = {"mp4": "mp4", "webm": "webm", "matroska": "mkv"}
HOLD_IOU = 0.3  # a held box overlapping a fresh detection this much is the same face: the fresh box wins


@dataclass(frozen=True)
class VideoInfo:
    container: str  # "mp4" (also MOV/QuickTime), "webm" or "matroska"
    content_type: str
    width: int  # as shown: a phone's portrait clip, stored sideways with a rotation, is taller than wide
    height: int
    fps: float
    duration: float  # seconds
    frames: int  # the container's count, else an estimate from duration x fps
    video_codec: str
    audio_codec: str | None
    rotation: int = 0  # degrees counter-clockwise the stored frames are turned to be shown (0, 90, 180, 270)
    audio_unreadable: bool = False  # a sound stream whose codec FFmpeg cannot read: left out, not the video refused


@dataclass
class CoverReport:
    frames: int = 0
    frames_with_faces: int = 0
    detections: int = 0
    held: int = 0  # boxes drawn from the hold-over, not a fresh detection
    seconds: float = 0.0
    container: str = ""
    video_codec: str = ""
    audio_copied: bool = False
    boxes: list[list[tuple[int, int, int, int]]] = field(default_factory=list)  # per frame (for tests)


def _family(fmt: av.ContainerFormat, head: bytes) -> str | None:
    names = set(fmt.name.split(","))
    if "mp4" in names or "mov" in names:
        return "mp4"
    if "matroska" in names or "webm" in names:
        return "webm" if b"webm" in head[:64] else "matroska"
    return None


MOV_ATOMS = frozenset({b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip"})
EBML = b"\x1a\x45\xdf\xa3"


def sniff(head: bytes) -> str | None:
    """The one FFmpeg demuxer an upload may be opened with, from its first bytes, or None.

    FFmpeg left to guess would also open playlists (HLS, concat) that make it read other files
    or URLs; with the demuxer named, an upload is only ever read as the container it claims.
    """
    if head[4:8] in MOV_ATOMS:
        return "mov"
    if head[:4] == EBML:
        return "matroska"
    return None


def read_head(path: Path) -> bytes:
    with path.open("rb") as f:
        return f.read(64)


def probe(path: Path, *, max_seconds: float, max_pixels: int) -> VideoInfo:
    """What an upload is, or a 4xx InvalidInput/UnsupportedMedia/PayloadTooLarge saying why it is refused.

    A first and a last frame are decoded, so a file cut short (whose index
    promises more than its bytes hold) is refused now, not half way through a job.
    """
    head = read_head(path)
    demuxer = sniff(head)
    if demuxer is None:
        raise UnsupportedMedia("Videos must be MP4, MOV, WebM or MKV", key="unsupported_video")
    try:
        container = av.open(str(path), "r", format=demuxer)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("The file is not a video that can be read (or it was cut short)",
                           key="not_a_video") from exc
    with container:
        family = _family(container.format, head)
        if family is None:
            raise UnsupportedMedia(f"Videos must be MP4, MOV, WebM or MKV, not {container.format.long_name}",
                                   key="unsupported_video", details={"format": container.format.name})
        if not container.streams.video:
            raise InvalidInput("The file has no video stream", key="no_video_stream")
        stream = container.streams.video[0]
        context = _decoder(stream)
        width, height = context.width, context.height
        if width * height > max_pixels:
            raise PayloadTooLarge(f"Frames of {width}×{height} are larger than the limit of {max_pixels:,} pixels",
                                  key="video_too_large", details={"width": width, "height": height,
                                                                  "max_pixels": max_pixels})
        duration = _duration(container, stream)
        if duration > max_seconds:
            raise PayloadTooLarge(f"The video lasts {duration:.0f} s; the limit is {max_seconds:.0f} s",
                                  key="video_too_long", details={"seconds": round(duration, 1),
                                                                 "max_seconds": max_seconds})
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        frames = stream.frames or max(1, round(duration * fps))
        sound = container.streams.audio[0].codec_context if container.streams.audio else None
        audio = sound.name if sound is not None else None
        audio_unreadable = bool(container.streams.audio) and sound is None
        codec = context.name
        first = _first_frame(container, stream)
        if first is None or not _complete(container, stream, frames, duration):
            raise InvalidInput("The video's frames cannot be decoded (the file may be cut short)", key="not_a_video")
        rotation = quarter_turns(first) * 90
        if rotation in (90, 270):
            width, height = height, width
    quicktime = family == "mp4" and head[8:12] == b"qt  "  # a MOV is stored as what it is
    content_type = "video/quicktime" if quicktime else CONTENT_TYPES[family]
    return VideoInfo(container=family, content_type=content_type, width=width, height=height, fps=fps,
                     duration=duration, frames=frames, video_codec=codec, audio_codec=audio, rotation=rotation,
                     audio_unreadable=audio_unreadable)


def _decoder(stream: av.stream.Stream) -> av.CodecContext:
    """A stream's codec context; PyAV gives none where FFmpeg has no decoder for the stream's codec (a
    damaged header names one that does not exist): refused here, in the request, not met by the job."""
    if stream.codec_context is None:
        raise InvalidInput("A stream in the video has a codec that cannot be read (the file may be damaged)",
                           key="unreadable_video_codec")
    return stream.codec_context


def _duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _first_frame(container: av.container.InputContainer, stream: av.video.stream.VideoStream
                 ) -> av.VideoFrame | None:
    try:
        for frame in container.decode(stream):
            return frame
    except (av.error.FFmpegError, ValueError):
        return None
    return None


def quarter_turns(frame: av.VideoFrame) -> int:
    """How many quarter turns counter-clockwise (np.rot90's k) show a frame upright (its display matrix)."""
    return round((frame.rotation or 0) / 90) % 4


def _complete(container: av.container.InputContainer, stream: av.video.stream.VideoStream, frames: int,
              duration: float) -> bool:
    """Whether every packet the index promises is in the file: the packets are read, not decoded
    (about disk speed), so a file cut short is refused in the request, not half way through a job."""
    container.seek(0)
    count, last = 0, 0.0
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            count += 1
            if packet.pts is not None and packet.time_base is not None:
                last = max(last, float(packet.pts * packet.time_base))
    except (av.error.FFmpegError, ValueError):
        return False
    if stream.frames:
        return count >= stream.frames
    return last >= duration - 1.0 - (float(stream.start_time * stream.time_base) if stream.start_time else 0.0)


def output_plan(info: VideoInfo) -> tuple[str, str]:
    """(container family, video encoder) for an input: see the module docstring for why."""
    if info.container == "webm" and (info.audio_codec is None or info.audio_codec in WEBM_AUDIO):
        return "webm", "libvpx-vp9"
    h264 = "libx264" if _has_encoder("libx264") else "mpeg4"
    if info.audio_codec is None or info.audio_codec in MP4_AUDIO:
        return "mp4", h264
    return "matroska", h264


def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except (av.error.FFmpegError, ValueError):
        return False
    return True


class FaceHold:
    """Boxes to cover on each frame: this frame's detections, plus each box seen in the
    last `hold` frames that no fresh detection replaced (a face the detector missed
    for a frame or two, in motion blur or turned away, stays covered)."""

    def __init__(self, hold: int) -> None:
        self.hold = hold
        self.recent: list[tuple[tuple[int, int, int, int], int]] = []  # box, frame index last seen

    def update(self, index: int, found: list[tuple[int, int, int, int]]) -> tuple[list[tuple[int, int, int, int]],
                                                                                int]:
        kept = [(box, seen) for box, seen in self.recent
                if index - seen <= self.hold and all(iou(box, new) < HOLD_IOU for new in found)]
        self.recent = kept + [(box, index) for box in found]
        return [box for box, _ in self.recent], len(kept)


def iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = min(ax + aw, bx + bw) - max(ax, bx)
    h = min(ay + ah, by + bh) - max(ay, by)
    inter = max(0, w) * max(0, h)
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


Progress = Callable[[int, int], None]


def cover_video(source: Path, target: Path, info: VideoInfo, detector: FaceDetector, *, method: str = "mosaic",
                strength: float = 1.0, threshold: float = 0.5, hold_frames: int = 5, margin: float = 0.15,
                progress: Progress | None = None, progress_every: float = 0.5, keep_boxes: bool = False
                ) -> CoverReport:
    """Write `source` to `target` with every face covered; see the module docstring.

    `progress(done, total)` is called at most every `progress_every` seconds and at the end.
    """
    family, encoder = output_plan(info)
    report = CoverReport(container=family, video_codec=encoder)
    hold = FaceHold(hold_frames)
    started = last_report = time.monotonic()
    demuxer = sniff(read_head(source))
    with av.open(str(source), "r", format=demuxer) as inp, av.open(str(target), "w", format=family,
                                                    options=_muxer_options(family)) as out:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        rate = vin.average_rate or vin.guessed_rate
        vout = out.add_stream(encoder, rate=rate)
        vout.width, vout.height = info.width, info.height  # upright
        vout.pix_fmt = "yuv420p" if vout.width % 2 == 0 and vout.height % 2 == 0 else "yuv444p"
        vout.time_base = vin.time_base
        vout.codec_context.time_base = vin.time_base
        if vin.sample_aspect_ratio and info.rotation in (0, 180):
            vout.sample_aspect_ratio = vin.sample_aspect_ratio
        vout.options = _encoder_options(encoder)
        ain = inp.streams.audio[0] if inp.streams.audio and not info.audio_unreadable else None
        aout = out.add_stream_from_template(ain) if ain is not None else None
        report.audio_copied = aout is not None
        streams = [vin] + ([ain] if ain is not None else [])
        for packet in inp.demux(streams):
            if packet.stream is ain:
                if packet.dts is None:  # the demuxer's end-of-stream marker
                    continue
                packet.stream = aout
                out.mux(packet)
                continue
            for frame in packet.decode():
                covered = _cover_frame(frame, detector, hold, report, method=method, strength=strength,
                                       threshold=threshold, margin=margin, keep_boxes=keep_boxes)
                out.mux(vout.encode(covered))
                now = time.monotonic()
                if progress is not None and now - last_report >= progress_every:
                    progress(report.frames, max(info.frames, report.frames))
                    last_report = now
        out.mux(vout.encode(None))
    report.seconds = time.monotonic() - started
    if progress is not None:
        progress(report.frames, report.frames)
    return report


def _cover_frame(frame: av.VideoFrame, detector: FaceDetector, hold: FaceHold, report: CoverReport, *,
                 method: str, strength: float, threshold: float, margin: float, keep_boxes: bool) -> av.VideoFrame:
    bgr = frame.to_ndarray(format="bgr24")
    if turns := quarter_turns(frame):  # faces are found upright; the copy is written upright, with no rotation
        bgr = np.rot90(bgr, turns)
    found = [f.box for f in detector.detect(bgr, threshold=threshold)]
    boxes, held = hold.update(report.frames, found)
    report.frames += 1
    report.detections += len(found)
    report.held += held
    report.frames_with_faces += bool(boxes)
    if keep_boxes:
        report.boxes.append(boxes)
    if boxes:
        bgr = anonymize(bgr, [Face(box=b, score=1.0) for b in boxes], method=method,  # type: ignore[arg-type]
                        strength=strength, margin=margin)
    new = av.VideoFrame.from_ndarray(np.ascontiguousarray(bgr), format="bgr24")
    new.pts, new.time_base = frame.pts, frame.time_base
    return new


def _encoder_options(encoder: str) -> dict[str, str]:
    if encoder == "libx264":
        return {"preset": "veryfast", "crf": "20"}
    if encoder == "libvpx-vp9":  # realtime settings: the default "good" deadline is many times slower
        return {"deadline": "realtime", "cpu-used": "8", "crf": "20", "b": "0", "row-mt": "1"}
    return {"qscale": "3"}


def _muxer_options(family: str) -> dict[str, str]:
    return {"movflags": "+faststart"} if family == "mp4" else {}  # plays in a <video> before it is all loaded


def describe(info: VideoInfo) -> dict[str, Any]:
    return {"width": info.width, "height": info.height, "fps": round(info.fps, 3),
            "duration": round(info.duration, 3), "frames": info.frames, "video_codec": info.video_codec,
            "audio_codec": info.audio_codec, "rotation": info.rotation}


def output_name(filename: str, family: str) -> str:
    stem = filename.rsplit(".", 1)[0] or "video"
    return f"{stem}_anonymized.{EXTENSIONS[family]}"


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
