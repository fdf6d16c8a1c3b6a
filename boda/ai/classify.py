"""Image classification: what a photo shows, as one of the 1,000 ImageNet classes.

EfficientNet-Lite0 (Apache-2.0) on ONNX Runtime, with the preprocessing it was
trained with: RGB resized to 224x224 (bicubic, aspect not kept), (pixel - 127) / 128.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from boda.ai.faces import as_bgr
from boda.ai.onnx import OnnxModel, OnnxOptions
from boda.ai.registry import Build, register

INPUT_SIZE = 224


@dataclass(frozen=True)
class Classification:
    label: str  # the class's first name ("espresso")
    names: str  # all its WordNet lemmas ("espresso" or "cup" or "tench, Tinca tinca")
    index: int
    score: float  # softmax probability


class ImageClassifier(Protocol):
    name: str

    def classify(self, image: np.ndarray, *, top: int = 5) -> list[Classification]: ...


def read_class_names(path: Path) -> list[str]:
    """The `names` column of a tab-separated `index, synset, names` file, in index order."""
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()[1:] if line]
    return [names for _, _, names in sorted(rows, key=lambda row: int(row[0]))]


def to_input(image: np.ndarray) -> np.ndarray:
    """BGR, BGRA or gray uint8 -> float32 [1,3,224,224] RGB in about [-1, 1]."""
    rgb = np.ascontiguousarray(as_bgr(image)[:, :, ::-1])
    # PIL's bicubic filters when it shrinks (OpenCV's does not), as the training pipeline did.
    resized = Image.fromarray(rgb).resize((INPUT_SIZE, INPUT_SIZE), Image.Resampling.BICUBIC)
    pixels = (np.asarray(resized, np.float32) - 127.0) / 128.0
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None])


def softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max())
    return exp / exp.sum()


class EfficientNetClassifier:
    """EfficientNet-Lite0 trained on ImageNet-1k: the top classes of one photo."""

    name = "efficientnet_lite0"

    def __init__(self, model_path: Path, classes_path: Path, options: OnnxOptions | None = None) -> None:
        self.model = OnnxModel(model_path, options)
        self.classes = read_class_names(classes_path)

    # What `features` returns, kept beside every vector stored from it: another embedder's vectors do not mix.
    features_key = "efficientnet_lite0:logits"

    def logits(self, image: np.ndarray) -> np.ndarray:
        return self.model.run(to_input(image))[0][0].astype(np.float64)

    def classify(self, image: np.ndarray, *, top: int = 5) -> list[Classification]:
        probabilities = softmax(self.logits(image))
        best = np.argsort(probabilities)[::-1][: max(1, top)]
        return [
            Classification(self.classes[i].split(",")[0].strip(), self.classes[i], int(i), float(probabilities[i]))
            for i in best
        ]

    def features(self, image: np.ndarray) -> np.ndarray:
        """An embedding for a linear head (a household's own classifier): the 1,000 pre-softmax scores,
        centred (softmax ignores a shift) and scaled to unit length; float32.

        The pooled 1,280 features before the last layer would be a little richer, but the ONNX graph
        outputs only the logits and exposing an inner tensor needs the onnx package at run time. The
        logits are a fixed linear map of those features, cost nothing more than `classify`, and tell
        a lime from a lemon that ImageNet has no class for (tests/apps/pantry/test_household_classifier.py).
        """
        scores = self.logits(image)
        scores -= scores.mean()
        return (scores / (np.linalg.norm(scores) or 1.0)).astype(np.float32)


@register("image_classifier", "efficientnet_lite0")
def _efficientnet(build: Build) -> EfficientNetClassifier:
    return EfficientNetClassifier(
        build.weights("efficientnet_lite0"), build.weights("imagenet_classes"), build.onnx_options()
    )
