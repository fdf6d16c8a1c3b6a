"""Inference threads: the cores divided among the inferences that may run at once, for ONNX Runtime and OpenCV."""

from __future__ import annotations

from pathlib import Path

import cv2

from boda.ai.registry import Build, Providers, inference_threads, usable_cores
from tests.conftest import make_settings


def test_the_cores_are_shared_unless_set(tmp_path: Path) -> None:
    cores = usable_cores()
    many = make_settings(tmp_path, "sqlite://", ai={"threads": 0, "concurrency": 2},
                         jobs={"workers": 2, "heavy_workers": 1})
    assert inference_threads(many) == max(1, cores // 5)
    alone = make_settings(tmp_path, "sqlite://", ai={"threads": 0, "concurrency": 1},
                          jobs={"workers": 0, "heavy_workers": 0})
    assert inference_threads(alone) == cores
    assert inference_threads(make_settings(tmp_path, "sqlite://", ai={"threads": 3})) == 3
    assert Build(many, "yolox_nano").onnx_options().threads == max(1, cores // 5)


def test_sessions_and_opencv_get_the_share(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, "sqlite://", ai={"threads": 0, "concurrency": 1, "downloads": False},
                             jobs={"workers": 0, "heavy_workers": 0})
    before = cv2.getNumThreads()
    cv2.setNumThreads(7)  # anything else: the first provider built sets it
    try:
        detector = Providers(settings).object_detector("yolox_nano")
        options = detector.model.session.get_session_options()
        assert options.intra_op_num_threads == usable_cores()
        assert cv2.getNumThreads() == usable_cores()
    finally:
        cv2.setNumThreads(before)
