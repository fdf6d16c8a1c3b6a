"""Providers chosen by settings, built once per process, on first use.

Weights are found in order: the user's models folder, then a package that
ships them (the first that has the file wins).
"""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from boda.core.config import Settings

if TYPE_CHECKING:
    from boda.ai.digits import DigitReader
    from boda.ai.faces import FaceDetector


def find_weights(settings: Settings, filename: str) -> Path | None:
    """The user's models folder overrides packaged weights."""
    candidate = settings.models_dir / filename
    return candidate if candidate.is_file() else None


class Providers:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._face_detectors: dict[str, FaceDetector] = {}

    def face_detector(self, name: str | None = None) -> FaceDetector:
        from boda.ai.faces import build_face_detector

        key = name or self.settings.ai.face_detector
        with self._lock:
            if key not in self._face_detectors:
                self._face_detectors[key] = build_face_detector(
                    key,  # type: ignore[arg-type]
                    model_path=find_weights(self.settings, "centerface.onnx"),
                    threads=self.settings.ai.threads,
                    cache_dir=self.settings.data_dir / "cache" / "models",
                )
            return self._face_detectors[key]

    @cached_property
    def digit_reader(self) -> DigitReader:
        from boda.ai.digits import DigitReader

        return DigitReader(find_weights(self.settings, "digits_cnn.onnx"), threads=self.settings.ai.threads)
