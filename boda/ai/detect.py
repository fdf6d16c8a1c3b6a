"""Detection: objects (YOLOX-nano, 80 COCO classes) and faces (`boda.ai.faces`).

YOLOX-nano (Megvii, Apache-2.0) takes a BGR image letterboxed into 416x416
(scaled to fit, padded with grey 114 at the bottom and right), raw 0-255. Its
raw head gives per anchor (dx, dy, log w, log h, objectness, 80 class scores)
on strides 8, 16 and 32; decoding, the score (objectness x class) and
class-aware non-maximum suppression happen here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from boda.ai.faces import Face, FaceDetector, as_bgr
from boda.ai.onnx import OnnxModel, OnnxOptions
from boda.ai.registry import Build, register

__all__ = ["Detection", "Face", "FaceDetector", "ObjectDetector", "YoloxDetector"]

DEFAULT_THRESHOLD = 0.3
NMS_IOU = 0.45  # YOLOX's own value
PAD_VALUE = 114


@dataclass(frozen=True)
class Detection:
    box: tuple[int, int, int, int]  # x, y, w, h in image pixels
    label: str
    score: float


class ObjectDetector(Protocol):
    name: str

    def detect(self, image: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD) -> list[Detection]: ...


def letterbox(bgr: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """float32 [1,3,size,size] BGR 0-255, and the scale from image to network pixels."""
    height, width = bgr.shape[:2]
    ratio = min(size / height, size / width)
    new_w, new_h = max(1, int(width * ratio)), max(1, int(height * ratio))
    canvas = np.full((size, size, 3), PAD_VALUE, np.uint8)
    canvas[:new_h, :new_w] = cv2.resize(bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32), ratio


def anchor_grid(size: int, strides: tuple[int, ...] = (8, 16, 32)) -> tuple[np.ndarray, np.ndarray]:
    """Each anchor's cell (x, y) and stride, in the head's output order."""
    cells, steps = [], []
    for stride in strides:
        side = size // stride
        ys, xs = np.mgrid[0:side, 0:side]
        cells.append(np.stack([xs.ravel(), ys.ravel()], axis=1))
        steps.append(np.full((side * side, 1), stride))
    return np.concatenate(cells).astype(np.float32), np.concatenate(steps).astype(np.float32)


def decode(raw: np.ndarray, cells: np.ndarray, strides: np.ndarray, threshold: float
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Head output [anchors, 5 + classes] -> boxes (x, y, w, h) in network pixels, scores, classes."""
    centres = (raw[:, :2] + cells) * strides
    sizes = np.exp(raw[:, 2:4]) * strides
    per_class = raw[:, 4:5] * raw[:, 5:]
    classes = per_class.argmax(axis=1)
    scores = per_class[np.arange(len(raw)), classes]
    keep = scores >= threshold
    boxes = np.concatenate([centres - sizes / 2, sizes], axis=1)
    return boxes[keep], scores[keep], classes[keep]


class YoloxDetector:
    """YOLOX on ONNX Runtime: COCO objects (people, cups, cats, cars...) in one photo."""

    name = "yolox_nano"

    def __init__(self, model_path: Path, classes_path: Path, options: OnnxOptions | None = None,
                 *, size: int = 416) -> None:
        self.model = OnnxModel(model_path, options)
        self.classes = [line.strip() for line in classes_path.read_text(encoding="utf-8").splitlines() if line]
        self.size = size
        self._cells, self._strides = anchor_grid(size)

    def detect(self, image: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD) -> list[Detection]:
        bgr = as_bgr(image)
        height, width = bgr.shape[:2]
        blob, ratio = letterbox(bgr, self.size)
        boxes, scores, classes = decode(self.model.run(blob)[0][0], self._cells, self._strides, threshold)
        if len(boxes) == 0:
            return []
        keep = np.asarray(cv2.dnn.NMSBoxesBatched(boxes.tolist(), scores.tolist(), classes.tolist(),
                                                  threshold, NMS_IOU), dtype=np.int64).reshape(-1)
        found = []
        for i in keep:
            x, y, w, h = boxes[i] / ratio
            x1, y1 = int(np.clip(x, 0, width)), int(np.clip(y, 0, height))
            x2, y2 = int(np.clip(np.ceil(x + w), 0, width)), int(np.clip(np.ceil(y + h), 0, height))
            if x2 > x1 and y2 > y1:
                found.append(Detection((x1, y1, x2 - x1, y2 - y1), self.classes[classes[i]], float(scores[i])))
        return sorted(found, key=lambda d: -d.score)


@register("object_detector", "yolox_nano")
def _yolox(build: Build) -> YoloxDetector:
    return YoloxDetector(build.weights("yolox_nano"), build.weights("coco_classes"), build.onnx_options())
