"""Video anonymisation: same rate, size, frames and sound; every face covered in every frame
(also one the detector misses), the background untouched; bad uploads refused with nothing stored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from boda.ai.faces import FaceDetector, build_face_detector
from boda.apps.vision import video
from boda.apps.vision.settings import vision_settings
from boda.core.runtime import Runtime
from boda.web.i18n import catalogue
from tests.apps.vision.clips import make_clip
from tests.apps.vision.test_api import blob_count, file_count
from tests.conftest import Account, png_bytes

SMEARED = 7  # the frame whose face moves too fast for the detector (a horizontal motion blur)


def frames_of(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="bgr24").astype(np.int16) for f in container.decode(video=0)]


def face_core(box: tuple[int, int, int, int]) -> tuple[slice, slice]:
    """Eyes, nose and mouth of the pasted face: what must never be seen."""
    x, y, w, h = box
    return slice(y + 15, y + 60), slice(x + 20, x + 65)


def far_background(frame: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Everything more than 40 px left or right of the face (boxes grow by a margin; this is well outside)."""
    x, _, w, _ = box
    mask = np.ones(frame.shape[:2], bool)
    mask[:, max(0, x - 40):x + w + 40] = False
    return frame[mask]


def covered_everywhere(source: Path, result: Path, boxes: list[tuple[int, int, int, int]], *,
                       tolerance: float = 3) -> list[float]:
    """Per frame: mean absolute change inside the face core; asserts the far background kept."""
    before, after = frames_of(source), frames_of(result)
    assert len(before) == len(after) == len(boxes)
    changes = []
    for a, b, box in zip(before, after, boxes, strict=True):
        rows, cols = face_core(box)
        changes.append(float(np.abs(a[rows, cols] - b[rows, cols]).mean()))
        assert np.abs(far_background(a, box) - far_background(b, box)).mean() < tolerance  # re-encoded only
    return changes


def all_hidden(changes: list[float]) -> bool:
    """A mosaic changes a sharp face's core by > 12 levels on average; the smeared face, already smooth,
    by less (its mosaic is close to its blur), but still far above the < 3 of an uncovered frame."""
    return all(c > (6 if i == SMEARED else 12) for i, c in enumerate(changes))


@pytest.fixture(scope="module")
def detector(tmp_path_factory: pytest.TempPathFactory) -> FaceDetector:
    """The app's CenterFace, built once (the tests that need no database use it without one)."""
    return build_face_detector("centerface", cache_dir=tmp_path_factory.mktemp("faces"))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[int, int, int, int]]]:
    path = tmp_path_factory.mktemp("clips") / "walk.mp4"
    return path, make_clip(path, smeared=frozenset({SMEARED}))


def upload(account: Account, data: bytes, name: str = "walk.mp4", **form: Any) -> Any:
    return account.post("/api/v1/vision/videos", files={"file": (name, data, "video/mp4")}, data=form)


def test_a_video_comes_back_with_every_face_hidden_and_its_sound(
        alice: Account, bob: Account, clip: tuple[Path, list[tuple[int, int, int, int]]], tmp_path: Path) -> None:
    source, boxes = clip
    response = upload(alice, source.read_bytes(), method="mosaic")
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    got = alice.get(f"/api/v1/vision/videos/{job_id}").json()
    assert got["status"] == "succeeded" and got["progress"] == 100
    assert got["message"] == "20 of 20 frames"
    result = got["result"]
    assert result["frames"] == 20 and result["audio_copied"] and result["encoder"] == "libx264"
    assert result["held_boxes"] >= 1  # the smeared frame was covered from the frames before it
    assert result["output"] | {"video_codec": "h264"} == result["input"] | {"video_codec": "h264"}

    content = alice.get(got["download_url"])
    assert content.status_code == 200 and content.headers["content-type"] == "video/mp4"
    made = tmp_path / "made.mp4"
    made.write_bytes(content.content)
    with av.open(str(made)) as out, av.open(str(source)) as inp:
        vo, vi = out.streams.video[0], inp.streams.video[0]
        assert (vo.average_rate, vo.width, vo.height) == (vi.average_rate, vi.width, vi.height) == (10, 320, 240)
        assert out.streams.audio[0].codec_context.name == "aac"
        assert abs(out.duration - inp.duration) < 0.1 * av.time_base
        audio_in = [bytes(p) for p in inp.demux(audio=0) if p.size]
    with av.open(str(made)) as out:
        assert [bytes(p) for p in out.demux(audio=0) if p.size] == audio_in  # copied, not re-encoded
    changes = covered_everywhere(source, made, boxes)
    assert all_hidden(changes), changes

    # Only its owner sees it.
    assert bob.get(f"/api/v1/vision/videos/{job_id}").status_code == 404
    assert bob.get(got["download_url"]).status_code == 404
    assert bob.get(f"/api/v1/files/{got['anonymized']['id']}/content").status_code == 404


def test_the_hold_over_covers_a_frame_the_detector_missed(
        detector: FaceDetector, clip: tuple[Path, list[tuple[int, int, int, int]]], tmp_path: Path) -> None:
    source, boxes = clip
    info = video.probe(source, max_seconds=60, max_pixels=10**6)
    held = video.cover_video(source, tmp_path / "held.mp4", info, detector, hold_frames=5, keep_boxes=True)
    bare = video.cover_video(source, tmp_path / "bare.mp4", info, detector, hold_frames=0, keep_boxes=True)
    # The detector finds the face in every frame but the smeared one (so the test means something) ...
    assert [i for i, found in enumerate(bare.boxes) if not found] == [SMEARED]
    # ... without the hold-over that frame shows the (smeared) face unchanged; with it, it is covered.
    assert covered_everywhere(source, tmp_path / "bare.mp4", boxes)[SMEARED] < 3
    assert held.boxes[SMEARED] and held.held == 1
    changes = covered_everywhere(source, tmp_path / "held.mp4", boxes)
    assert all_hidden(changes), changes


def test_a_box_is_held_only_for_its_frames() -> None:
    hold = video.FaceHold(2)
    face = (10, 10, 40, 50)
    assert hold.update(0, [face]) == ([face], 0)
    assert hold.update(1, []) == ([face], 1)
    assert hold.update(2, []) == ([face], 1)
    assert hold.update(3, []) == ([], 0)
    moved = (14, 10, 40, 50)  # the same face a little further on: one box, not two
    hold.update(4, [face])
    assert hold.update(5, [moved]) == ([moved], 0)


def test_webm_stays_webm_with_its_opus_sound(detector: FaceDetector, tmp_path: Path) -> None:
    source = tmp_path / "walk.webm"
    boxes = make_clip(source, container="webm", seconds=1.0)
    info = video.probe(source, max_seconds=60, max_pixels=10**6)
    assert info.content_type == "video/webm" and info.audio_codec == "opus"
    target = tmp_path / "out.webm"
    report = video.cover_video(source, target, info, detector, method="blur")
    assert report.container == "webm" and report.audio_copied
    made = video.probe(target, max_seconds=60, max_pixels=10**6)
    assert (made.video_codec, made.audio_codec, made.width, made.height) == ("vp9", "opus", 320, 240)
    assert min(covered_everywhere(source, target, boxes, tolerance=8)) > 5  # realtime VP9: lossier


def _refused(account: Account, runtime: Runtime, data: bytes, status: int, key: str, name: str = "x.mp4") -> None:
    files, blobs = file_count(runtime), blob_count(runtime)
    response = upload(account, data, name)
    assert response.status_code == status, response.text
    details = response.json()["error"]["details"]
    korean = account.post("/api/v1/vision/videos", files={"file": (name, data, "video/mp4")},
                          headers={"Accept-Language": "ko"}).json()["error"]["message"]
    assert korean == catalogue("ko")[f"error.{key}"].format(**details)
    assert (file_count(runtime), blob_count(runtime)) == (files, blobs)  # nothing stored


def test_bad_videos_are_refused_with_a_reason_and_nothing_stored(
        alice: Account, runtime: Runtime, clip: tuple[Path, list[tuple[int, int, int, int]]], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    data = clip[0].read_bytes()
    _refused(alice, runtime, data[: len(data) // 2], 400, "not_a_video")  # cut short: its index is at the end
    _refused(alice, runtime, b"\x00\x00\x00\x18ftypmp42" + bytes(500), 400, "not_a_video")
    _refused(alice, runtime, png_bytes(), 415, "unsupported_video", name="photo.png")
    playlist = b"#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:1.0,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n"
    _refused(alice, runtime, playlist, 415, "unsupported_video", name="list.mp4")  # never opened as HLS
    _refused(alice, runtime, b"", 400, "empty_file")
    sound = tmp_path / "sound.mp4"
    make_clip(sound, video=False)
    _refused(alice, runtime, sound.read_bytes(), 400, "no_video_stream")
    vs = vision_settings(runtime.settings)
    monkeypatch.setattr(vs, "video_max_seconds", 1.5)
    _refused(alice, runtime, data, 413, "video_too_long")
    monkeypatch.setattr(vs, "video_max_seconds", 600.0)
    monkeypatch.setattr(vs, "video_max_pixels", 320 * 200)
    _refused(alice, runtime, data, 413, "video_too_large")
    monkeypatch.setattr(vs, "video_max_pixels", 10**7)
    monkeypatch.setattr(vs, "video_max_mb", 0.01)
    _refused(alice, runtime, data, 413, "too_large")


def test_a_video_cut_in_the_middle_of_its_frames_is_refused(
        alice: Account, runtime: Runtime, tmp_path: Path) -> None:
    """With its index first (faststart), a cut file opens; its last second no longer decodes."""
    fast = tmp_path / "fast.mp4"
    make_clip(fast, seconds=3.0, faststart=True)
    data = fast.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # the index comes first
    _refused(alice, runtime, data[: len(data) * 2 // 3], 400, "not_a_video")



def test_a_stream_whose_codec_has_no_decoder_is_refused(alice: Account, runtime: Runtime, tmp_path: Path) -> None:
    """A damaged header that names a codec FFmpeg does not know leaves PyAV no codec context (once a 500)."""
    mp4, mkv = tmp_path / "walk.mp4", tmp_path / "walk.mkv"
    make_clip(mp4, seconds=1.0)
    make_clip(mkv, seconds=1.0, container="matroska")
    damaged = {"video.mp4": mp4.read_bytes().replace(b"avc1", b"zzzz"),  # the sample entry's codec tag
               "video.mkv": mkv.read_bytes().replace(b"V_MPEG4/ISO/AVC", b"V_ZZZZZ/ISO/AVC")}  # CodecID
    for name, data in damaged.items():
        path = tmp_path / name
        path.write_bytes(data)
        with av.open(str(path), format=video.sniff(data[:64])) as container:  # what the damage does
            assert None in [s.codec_context for s in container.streams], name
        _refused(alice, runtime, data, 400, "unreadable_video_codec", name=name)


def test_a_sound_that_cannot_be_read_is_left_out_not_the_video_refused(alice: Account, tmp_path: Path) -> None:
    """Faces are what the user came for: the sound is only copied, so an unknown sound codec costs the sound."""
    mkv = tmp_path / "walk.mkv"
    make_clip(mkv, seconds=1.0, container="matroska")
    data = mkv.read_bytes().replace(b"A_AAC", b"A_ZZZ")  # the sound's CodecID
    (tmp_path / "sound.mkv").write_bytes(data)
    with av.open(str(tmp_path / "sound.mkv")) as container:
        assert container.streams.audio[0].codec_context is None

    response = upload(alice, data, "sound.mkv")
    assert response.status_code == 202, response.text
    got = alice.get(f"/api/v1/vision/videos/{response.json()['id']}").json()
    assert got["status"] == "succeeded", got
    assert got["result"]["audio_left_out"] and not got["result"]["audio_copied"]
    made = tmp_path / "made"
    made.write_bytes(alice.get(got["download_url"]).content)
    with av.open(str(made)) as out:
        assert not out.streams.audio and out.streams.video[0].frames >= 9


def test_a_job_that_is_not_a_video_is_404(alice: Account) -> None:
    assert alice.get("/api/v1/vision/videos/nope").status_code == 404


def test_cli_anonymizes_a_clip(run: Any, clip: tuple[Path, list[tuple[int, int, int, int]]], tmp_path: Path) -> None:
    output = run("vision", "anonymize", str(clip[0]), "--out", str(tmp_path / "out"))
    target = tmp_path / "out" / "walk_anonymized.mp4"
    assert "20 frames" in output and "sound kept" in output and target.exists()
    assert all_hidden(covered_everywhere(clip[0], target, clip[1]))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    assert "MP4, MOV, WebM or MKV" in run("vision", "anonymize", str(bad), "--out", str(tmp_path / "out"), code=1)



def test_the_video_tab_has_its_form_in_both_languages(alice: Account, client: Any) -> None:
    from tests.conftest import PASSWORD

    client.post("/login", data={"username": "alice", "password": PASSWORD, "next": "/vision"})
    english = client.get("/vision?tab=videos").text
    korean = client.get("/vision?tab=videos", headers={"accept-language": "ko"}).text
    assert english.count('id="video-form"') == 1 and "Hide faces in a video" in english
    assert "동영상 얼굴 가리기" in korean and "<style" not in english and "style=" not in english


def test_a_phone_clip_stored_sideways_is_covered_and_comes_out_upright(detector: FaceDetector, tmp_path: Path
                                                                       ) -> None:
    """Faces are found on the upright picture (detectors are trained on upright faces) and the copy is written
    upright, as players showed the original: no rotation left for a player that ignores one."""
    source, target = tmp_path / "portrait.mp4", tmp_path / "out.mp4"
    boxes = make_clip(source, seconds=1.0, rotation=270, width=240, height=320)  # stored 320x240, turned
    with av.open(str(source)) as stored:
        assert (stored.streams.video[0].width, stored.streams.video[0].height) == (320, 240)
    info = video.probe(source, max_seconds=60, max_pixels=10**6)
    assert (info.width, info.height, info.rotation) == (240, 320, 270)
    report = video.cover_video(source, target, info, detector)
    assert report.frames_with_faces == report.frames == 10
    with av.open(str(target)) as out:
        first = next(out.decode(video=0))
        assert (first.width, first.height, first.rotation) == (240, 320, 0)
    upright = [np.rot90(f, 3) for f in frames_of(source)]  # the source as shown: 270° counter-clockwise
    after = frames_of(target)
    for a, b, box in zip(upright, after, boxes, strict=True):
        rows, cols = face_core(box)
        assert np.abs(a[rows, cols] - b[rows, cols]).mean() > 12
        assert np.abs(far_background(a, box) - far_background(b, box)).mean() < 3
