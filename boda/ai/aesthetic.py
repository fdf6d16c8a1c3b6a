"""How good a 3D model looks: a 1-10 score with its spread, from rendered views of the model.

Two methods, and the score says which one it used:

* ``technical``: BRISQUE (PyPI ``brisque``, its SVM model shipped inside the package, nothing is
  downloaded) on each view, mapped to 1-10. It measures distortion (blur, noise, blocking) against
  the statistics of natural photos, not taste; renders of smooth, flat-shaded surfaces on a plain
  background are far from natural photos, so it is a stand-in until people have rated enough models.
* ``learned``: a NIMA-style head (Talebi & Milanfar 2018) on frozen image features, trained on the
  community's 1-10 ratings: it predicts a distribution over the ten scores, so a divisive model gets
  a wide spread and a plain one a narrow spread. It is the seed's "ResNet backbone, new small head"
  as transfer learning, on the EfficientNet-Lite0 carried in the repository (statistics of five
  intermediate stages and the 1,280 pooled features before its ImageNet classifier: MLSP), or on
  CLIP image embeddings when the user has CLIP.

Features of a model are the mean of its views' features (one vector per model, whatever the number
of views). The head is numpy only (no torch), trained full-batch with Adam from a seeded start, so
the same ratings give the same head bytes; it is stored as an ``.npz`` without pickles.

Wiring (the app): `extractor = choose_extractor(runtime.ai)`; for each published model keep
`features(views, extractor)` with `extractor.key` (rendering is the slow part; recompute when the key
changes); `train-scorer` gathers (feature vector, that model's list of ratings) for every rated model
and calls `train_head(...)`: None below MIN_RATED_MODELS, else a head whose `to_bytes()` is stored and
whose `meta["heldout_spearman"]` is the figure to print; `score(views, head, extractor=extractor)`
then gives the learned score, or technical quality with the reason when there is no usable head.
"""

from __future__ import annotations

import io
import json
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
from PIL import Image

from boda.ai.onnx import OnnxModel, OnnxOptions

if TYPE_CHECKING:
    from boda.ai.embed import ImageTextEmbedder
    from boda.ai.registry import Providers

SCORES = np.arange(1, 11, dtype=np.float64)  # the ten bins of every distribution
MIN_RATED_MODELS = 30  # fewer rated models than this: no head is trained, score() shows technical quality
TECHNICAL_MAX_SIDE = 512  # views are shrunk to this before BRISQUE: its cost grows with pixels (~0.3 s at 512)
RATING_SMOOTHING = 1.0  # sigma (in score points) of the Gaussian each single rating is spread over
HEAD_FORMAT = 1
UNMEASURABLE = 100.0  # the BRISQUE given to a view without the statistics it measures (a flat image)

Method = Literal["learned", "technical"]


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreDistribution:
    """A distribution over the scores 1..10 and its mean and standard deviation."""

    mean: float
    std: float
    probs: tuple[float, ...]  # ten probabilities, for 1..10, summing to 1

    @classmethod
    def of(cls, probs: np.ndarray) -> ScoreDistribution:
        p = np.clip(np.asarray(probs, np.float64), 0.0, None)
        p = p / p.sum()
        mean = float(p @ SCORES)
        return cls(mean, float(math.sqrt(max(0.0, float(p @ (SCORES - mean) ** 2)))), tuple(float(v) for v in p))


@dataclass(frozen=True)
class Score:
    mean: float  # 1..10
    std: float  # spread of opinion (learned) or across views (technical)
    probs: tuple[float, ...]
    method: Method
    reason: str  # one English sentence for logs and the CLI; the UI keys its text on `method`


# --- technical quality (BRISQUE) -------------------------------------------------------------


def brisque_to_score(brisque: float) -> float:
    """BRISQUE (about 0 = pristine .. 100 = badly distorted, lower is better) -> 1..10, higher is better.

    Linear and clipped: 0 or less -> 10, 100 or more -> 1 (1 + 9 * (100 - b) / 100). Sharp photos land
    around 8-10, a 2-pixel blur around 4, flat synthetic images near 1. Documented and monotone rather
    than fitted, since there are no human scores of renders here to fit it to.
    """
    return float(1.0 + 9.0 * min(1.0, max(0.0, (100.0 - brisque) / 100.0)))


_brisque_lock = threading.Lock()
_brisque_model: Any = None


def _brisque() -> Any:
    """The package's pre-trained model (svm.txt + normalize.pickle inside site-packages/brisque/models)."""
    global _brisque_model
    with _brisque_lock:
        if _brisque_model is None:
            from brisque import BRISQUE

            _brisque_model = BRISQUE(url=False)  # url=False: arrays in, the package never fetches anything
        return _brisque_model


def as_rgb(image: Image.Image, background: tuple[int, int, int] = (128, 128, 128)) -> Image.Image:
    """RGB; a transparent render is laid on mid grey (black would read as a dark, high-contrast edge)."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    return image.convert("RGB")


def subject_crop(image: Image.Image, *, tolerance: int = 12, margin: float = 0.08) -> Image.Image:
    """The part of a render that is not its plain background (the border's median colour), with a margin.

    BRISQUE averages statistics over the whole frame; a model filling a third of a flat backdrop would
    be judged mostly on the backdrop. A photo (no plain border) keeps nearly all of its frame.
    """
    pixels = np.asarray(image.convert("RGB"), np.int16)
    h, w = pixels.shape[:2]
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    subject = np.abs(pixels - np.median(border, axis=0)).max(axis=2) > tolerance
    if subject.mean() < 0.01:
        return image
    rows, cols = np.flatnonzero(subject.any(axis=1)), np.flatnonzero(subject.any(axis=0))
    dy, dx = int(margin * (rows[-1] - rows[0] + 1)), int(margin * (cols[-1] - cols[0] + 1))
    box = (max(0, cols[0] - dx), max(0, rows[0] - dy), min(w, cols[-1] + 1 + dx), min(h, rows[-1] + 1 + dy))
    if min(box[2] - box[0], box[3] - box[1]) < 32:
        return image
    return image.crop(box)


def brisque_score(image: Image.Image) -> float:
    """The raw BRISQUE score of one view (after `as_rgb`, `subject_crop`, shrinking to TECHNICAL_MAX_SIDE).

    Runs the package's own steps rather than `BRISQUE.score`: brisque 0.2.0 calls `float()` on
    one-element arrays, which NumPy 2 refuses, so the features are flattened to floats here first.
    """
    import cv2
    import skimage.color

    model = _brisque()
    view = subject_crop(as_rgb(image))
    view.thumbnail((TECHNICAL_MAX_SIDE, TECHNICAL_MAX_SIDE), Image.Resampling.LANCZOS)
    gray = skimage.color.rgb2gray(np.asarray(view))
    half = cv2.resize(gray, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_CUBIC)
    with np.errstate(all="ignore"):  # a flat image divides by zero inside the package
        raw = np.concatenate([model.calculate_brisque_features(g, kernel_size=7, sigma=7 / 6) for g in (gray, half)])
    features = np.array([float(np.asarray(v, np.float64).reshape(-1)[0]) for v in raw])
    if not np.isfinite(features).all():
        return UNMEASURABLE  # no texture to measure (flat, black, saturated): the worst end of the scale
    return float(model.calculate_image_quality_score(features))


def technical_scores(images: Sequence[Image.Image]) -> list[float]:
    """Each view's technical quality on 1..10 (see `brisque_to_score`)."""
    return [brisque_to_score(brisque_score(image)) for image in images]


def technical_quality(images: Sequence[Image.Image]) -> float:
    """The mean technical quality of the views, 1..10."""
    if not images:
        raise ValueError("technical_quality needs at least one image")
    return float(np.mean(technical_scores(images)))


def _smoothed_histogram(values: Sequence[float], sigma: float) -> np.ndarray:
    """Each value spread as a Gaussian over the bins 1..10 (mass beyond the ends kept in 1 and 10)."""
    probs = np.zeros(10)
    for value in values:
        if sigma <= 0:
            probs[int(np.clip(round(value), 1, 10)) - 1] += 1.0
            continue
        weights = np.exp(-0.5 * ((SCORES - float(np.clip(value, 1, 10))) / sigma) ** 2)
        probs += weights / weights.sum()
    return probs / probs.sum()


def technical_score(views: Sequence[Image.Image], reason: str) -> Score:
    scores = technical_scores(views)
    return Score(mean=float(np.mean(scores)), std=float(np.std(scores)),
                 probs=tuple(float(v) for v in _smoothed_histogram(scores, RATING_SMOOTHING)),
                 method="technical", reason=reason)


# --- image features --------------------------------------------------------------------------


class FeatureExtractor(Protocol):
    """Frozen image features; `key` names the space (a head only applies to features with its key)."""

    key: str
    dim: int

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(N, dim) float32, one row per image."""
        ...


def features(views: Sequence[Image.Image], extractor: FeatureExtractor) -> np.ndarray:
    """One model's feature vector: the mean over its rendered views, (dim,) float32."""
    if not views:
        raise ValueError("features needs at least one view")
    return np.asarray(extractor.embed([as_rgb(v) for v in views]), np.float32).mean(axis=0)


EFFICIENTNET_POOL = "/Reshape_output_0"  # the pooled 1,280 features that feed the classifier's Gemm
# The last block of each stage of resolution/width (56x56x24, 28x28x40, 14x14x80, 14x14x112, 7x7x192).
EFFICIENTNET_BLOCKS = ("/_blocks.2/Add_output_0", "/_blocks.4/Add_output_0", "/_blocks.7/Add_output_0",
                       "/_blocks.10/Add_output_0", "/_blocks.14/Add_output_0")


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _message(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def with_output(model: bytes, name: str) -> bytes:
    """An ONNX model whose graph also outputs the float tensor `name` (an intermediate value).

    ONNX Runtime returns graph outputs only. Protocol Buffers merge a message field that appears twice
    and append to its repeated fields, so a second `ModelProto.graph` (7) holding one more
    `GraphProto.output` (12) = `ValueInfoProto{name (1), type (2) = tensor_type (1){elem_type (1) = FLOAT}}`
    appended to the file adds the output, without the `onnx` package (a training-only dependency).
    """
    tensor_type = _message(1, _varint(1 << 3) + _varint(1))  # TensorProto.FLOAT = 1
    value_info = _message(1, name.encode()) + _message(2, tensor_type)
    return model + _message(7, _message(12, value_info))


class EfficientNetFeatures:
    """Multi-level features of the carried EfficientNet-Lite0 (the classifier's weights, frozen): 2,176 values.

    The mean and standard deviation over the image of the last block of five stages (2 x 448 values)
    and the final pooled 1,280 features. The final layer is trained to ignore what ImageNet labels
    ignore (blur, noise, exposure), which is much of what makes a picture look good; pooling earlier
    layers as well is MLSP (Hosu et al., CVPR 2019, aesthetics on AVA). On the bench's graded
    degradations it lifts held-out Spearman from 0.48 (pool only) to 0.57.
    """

    key = "efficientnet_lite0:mlsp"
    dim = 2 * (24 + 40 + 80 + 112 + 192) + 1280

    def __init__(self, model_path: Path, cache_dir: Path, options: OnnxOptions | None = None) -> None:
        self.model = OnnxModel(self.derived_model(Path(model_path), Path(cache_dir)), options)

    @staticmethod
    def derived_model(source: Path, cache_dir: Path) -> Path:
        """The classifier with the features exposed, written once next to other caches (atomic rename)."""
        import hashlib

        data = source.read_bytes()
        outputs = (*EFFICIENTNET_BLOCKS, EFFICIENTNET_POOL)
        digest = hashlib.sha256(data + "|".join(outputs).encode()).hexdigest()[:12]
        target = cache_dir / f"efficientnet_lite0-features-{digest}.onnx"
        if not target.is_file():
            cache_dir.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.part")
            for name in outputs:
                data = with_output(data, name)
            partial.write_bytes(data)
            os.replace(partial, target)
        return target

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        from boda.ai.classify import to_input

        out = np.zeros((len(images), self.dim), np.float32)
        for i, image in enumerate(images):  # the export has a fixed batch of 1
            bgr = np.ascontiguousarray(np.asarray(as_rgb(image))[:, :, ::-1])
            _, *blocks, pooled = self.model.run(to_input(bgr))
            parts = [stat for b in blocks for stat in (b[0].mean(axis=(1, 2)), b[0].std(axis=(1, 2)))]
            out[i] = np.concatenate([*parts, pooled[0]])
        return out


class ClipFeatures:
    """CLIP image embeddings (L2-normalised) from the user's image_text_embedder = clip."""

    def __init__(self, embedder: ImageTextEmbedder) -> None:
        self.embedder = embedder
        self.key = embedder.key
        self.dim = embedder.dim

    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        return np.asarray(self.embedder.embed_images(list(images)), np.float32)


_extractors: dict[tuple[str, str], EfficientNetFeatures] = {}
_extractors_lock = threading.Lock()


def choose_extractor(providers: Providers) -> FeatureExtractor:
    """CLIP when the user chose it for image search (`ai.image_text_embedder = clip`), else EfficientNet.

    The concepts embedder is not used: it describes photos in words, which says little about looks.
    Raises Unavailable when CLIP is chosen but its weights are missing (as photo search would): falling
    back silently would change the feature space under a trained head.
    """
    from boda.ai.registry import Build

    settings = providers.settings
    if settings.ai.image_text_embedder == "clip":
        return ClipFeatures(providers.get("image_text_embedder", "clip"))
    build = Build(settings, "efficientnet_lite0")
    path = build.weights("efficientnet_lite0")
    key = (str(path), str(build.cache_dir))
    with _extractors_lock:
        if key not in _extractors:
            _extractors[key] = EfficientNetFeatures(path, build.cache_dir, build.onnx_options())
        return _extractors[key]


# --- the head --------------------------------------------------------------------------------


def rating_distribution(ratings: Sequence[float], smoothing: float = RATING_SMOOTHING) -> np.ndarray:
    """A model's target distribution: its ratings' histogram, each rating spread by a Gaussian of `smoothing`.

    NIMA's targets come from ~200 raters per photo; a model here may have one rating, and a one-hot
    target would teach the head that opinion never varies. The smoothing is the floor of the spread.
    """
    if len(ratings) == 0:
        raise ValueError("a rated model needs at least one rating")
    return _smoothed_histogram([float(r) for r in ratings], smoothing)


def _softmax(logits: np.ndarray) -> np.ndarray:
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


@dataclass
class Head:
    """Standardise the features, then linear (or one ReLU hidden layer) -> softmax over 1..10."""

    mean: np.ndarray  # (dim,) feature standardisation
    scale: np.ndarray  # (dim,)
    layers: list[tuple[np.ndarray, np.ndarray]]  # (weights, bias) per layer
    feature_key: str = ""
    meta: dict[str, Any] = field(default_factory=dict)  # models, smoothing, l2, epochs, seed, heldout_spearman

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """(N, 10) for (N, dim) features."""
        x = (np.atleast_2d(np.asarray(features, np.float64)) - self.mean) / self.scale
        for i, (w, b) in enumerate(self.layers):
            x = x @ w + b
            if i < len(self.layers) - 1:
                x = np.maximum(x, 0.0)
        return _softmax(x)

    def predict(self, features: np.ndarray) -> ScoreDistribution:
        """The distribution for one model's feature vector (dim,)."""
        return ScoreDistribution.of(self.probabilities(np.asarray(features).reshape(1, -1))[0])

    def predict_many(self, features: np.ndarray) -> list[ScoreDistribution]:
        return [ScoreDistribution.of(p) for p in self.probabilities(features)]

    def to_bytes(self) -> bytes:
        arrays: dict[str, np.ndarray] = {"mean": self.mean, "scale": self.scale}
        for i, (w, b) in enumerate(self.layers):
            arrays[f"w{i}"], arrays[f"b{i}"] = w, b
        info = {"format": HEAD_FORMAT, "layers": len(self.layers), "feature_key": self.feature_key, "meta": self.meta}
        arrays["info"] = np.frombuffer(json.dumps(info, sort_keys=True).encode(), np.uint8)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Head:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            info = json.loads(npz["info"].tobytes().decode())
            if info.get("format") != HEAD_FORMAT:
                raise ValueError(f"unknown scorer head format {info.get('format')!r}")
            layers = [(npz[f"w{i}"], npz[f"b{i}"]) for i in range(int(info["layers"]))]
            return cls(npz["mean"], npz["scale"], layers, str(info["feature_key"]), dict(info["meta"]))


def emd2(probs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """NIMA's loss with r = 2, squared: the mean squared difference of the two cumulative distributions."""
    return np.mean((np.cumsum(probs, axis=1) - np.cumsum(targets, axis=1)) ** 2, axis=1)


def principal_axes(xs: np.ndarray, components: int) -> np.ndarray:
    """(dim, k) projection onto the k main directions of standardised features, whitened (unit variance).

    Signs are fixed (largest loading positive) so the same features give the same head on any LAPACK.
    """
    _, singular, vt = np.linalg.svd(xs, full_matrices=False)
    k = max(1, min(components, int(np.sum(singular > singular[0] * 1e-6))))
    axes = vt[:k] * np.sign(vt[:k][np.arange(k), np.abs(vt[:k]).argmax(axis=1)])[:, None]
    return np.asarray(axes.T / (singular[:k] / math.sqrt(len(xs))), np.float64)


def fit_head(features: np.ndarray, ratings: Sequence[Sequence[float]], *, feature_key: str = "",
             components: int = 64, hidden: int = 0, l2: float = 1e-3, epochs: int = 300,
             learning_rate: float = 0.01, smoothing: float = RATING_SMOOTHING, seed: int = 0) -> Head:
    """Train a head on (N, dim) features and each model's list of 1-10 ratings.

    A few dozen rated models against 2,176 features: the standardised features are first projected
    on their `components` principal axes (at most N/2), whitened. Shrinking all 2,176 weights
    instead ranked as well only with so much shrinkage that every prediction sat on the average;
    on the bench 64 axes gave held-out Spearman 0.60 with predicted means spread 1.4 (true 2.4).
    Then softmax over 1..10, linear or through `hidden` ReLU units.
    Loss: mean squared EMD (NIMA, r = 2) to each model's rating distribution, plus `l2` times the squared
    weights. Full-batch Adam for `epochs` steps from weights drawn with `seed`: no shuffling, no dropout,
    so the result is reproducible. The output bias starts at the log of the mean target, so an
    untrained head predicts the average. The projection is folded into the first layer afterwards.
    """
    x = np.asarray(features, np.float64)
    if x.ndim != 2 or len(x) != len(ratings) or len(x) < 2:
        raise ValueError("fit_head needs (N, dim) features for N >= 2 rated models")
    targets = np.stack([rating_distribution(r, smoothing) for r in ratings])
    mean = x.mean(axis=0)
    scale = x.std(axis=0) + 1e-3
    projection = principal_axes((x - mean) / scale, min(components, max(1, len(x) // 2)))
    xs = ((x - mean) / scale) @ projection
    rng = np.random.default_rng(seed)
    sizes = [xs.shape[1], *([hidden] if hidden > 0 else []), 10]
    layers = [[rng.normal(0.0, math.sqrt(1.0 / a) * (0.1 if j == len(sizes) - 2 else 1.0), (a, b)), np.zeros(b)]
              for j, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))]
    layers[-1][1] = np.log(targets.mean(axis=0) + 1e-6)
    moments = [[np.zeros_like(p) for p in layer] for layer in layers]
    squares = [[np.zeros_like(p) for p in layer] for layer in layers]
    n = len(x)
    beta1, beta2 = 0.9, 0.999
    for step in range(1, epochs + 1):
        activations = [xs]
        for j, (w, b) in enumerate(layers):
            z = activations[-1] @ w + b
            activations.append(np.maximum(z, 0.0) if j < len(layers) - 1 else z)
        probs = _softmax(activations[-1])
        diff = np.cumsum(probs, axis=1) - np.cumsum(targets, axis=1)
        # d/dp_j of mean_k (P_k - Q_k)^2 = 2/10 * sum_{k >= j} (P_k - Q_k); then through the softmax.
        grad_p = (2.0 / 10.0) * np.cumsum(diff[:, ::-1], axis=1)[:, ::-1] / n
        delta = probs * (grad_p - (probs * grad_p).sum(axis=1, keepdims=True))
        for j in range(len(layers) - 1, -1, -1):
            w, _ = layers[j]
            grads = [activations[j].T @ delta + 2.0 * l2 * w, delta.sum(axis=0)]
            if j > 0:
                delta = (delta @ w.T) * (activations[j] > 0)
            for k, g in enumerate(grads):
                moments[j][k] = beta1 * moments[j][k] + (1 - beta1) * g
                squares[j][k] = beta2 * squares[j][k] + (1 - beta2) * g * g
                m_hat = moments[j][k] / (1 - beta1**step)
                v_hat = squares[j][k] / (1 - beta2**step)
                layers[j][k] = layers[j][k] - learning_rate * m_hat / (np.sqrt(v_hat) + 1e-8)
    meta = {"models": n, "components": int(projection.shape[1]), "smoothing": smoothing, "l2": l2, "epochs": epochs,
            "hidden": hidden, "seed": seed, "heldout_spearman": None}
    folded = [(projection @ layers[0][0], layers[0][1])] + [(w, b) for w, b in layers[1:]]
    return Head(mean, scale, folded, feature_key, meta)


# --- evaluation ------------------------------------------------------------------------------


def spearman(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Spearman's rank correlation (average ranks for ties); 0.0 when either side is constant."""
    from scipy.stats import rankdata

    ra, rb = rankdata(np.asarray(a, np.float64)), rankdata(np.asarray(b, np.float64))
    if ra.std() == 0 or rb.std() == 0:
        return 0.0
    return float(np.corrcoef(ra, rb)[0, 1])


def fold_of(n: int, folds: int, *, groups: Sequence[Any] | None = None, seed: int = 0) -> np.ndarray:
    """Each item's fold; items of one group (e.g. views of one source) share a fold, so none leaks."""
    keys = list(range(n)) if groups is None else list(groups)
    unique = sorted(set(keys), key=str)
    order = np.random.default_rng(seed).permutation(len(unique))
    fold = {unique[i]: rank % folds for rank, i in enumerate(order)}
    return np.array([fold[k] for k in keys])


def heldout_predictions(features: np.ndarray, ratings: Sequence[Sequence[float]], folds: int = 5, *,
                        groups: Sequence[Any] | None = None, seed: int = 0, **fit: Any) -> np.ndarray:
    """Out-of-fold predicted means: each model scored by a head that never saw it (or its group)."""
    x = np.asarray(features, np.float64)
    assigned = fold_of(len(x), max(2, folds), groups=groups, seed=seed)
    predicted = np.zeros(len(x))
    for k in np.unique(assigned):
        train, test = np.flatnonzero(assigned != k), np.flatnonzero(assigned == k)
        head = fit_head(x[train], [ratings[i] for i in train], seed=seed, **fit)
        predicted[test] = head.probabilities(x[test]) @ SCORES
    return predicted


def evaluate(features: np.ndarray, ratings: Sequence[Sequence[float]], folds: int = 5, *,
             groups: Sequence[Any] | None = None, seed: int = 0, **fit: Any) -> float:
    """Held-out Spearman between predicted mean and mean rating, pooled over `folds`-fold cross-validation."""
    predicted = heldout_predictions(features, ratings, folds, groups=groups, seed=seed, **fit)
    return spearman(predicted, [float(np.mean(r)) for r in ratings])


def train_head(features: np.ndarray, ratings: Sequence[Sequence[float]], *, feature_key: str, folds: int = 5,
               minimum: int = MIN_RATED_MODELS, seed: int = 0, **fit: Any) -> Head | None:
    """What `train-scorer` runs: None below `minimum` rated models, else a head fitted on all of them
    carrying its held-out Spearman (from `folds`-fold cross-validation) in `meta`."""
    if len(ratings) < minimum:
        return None
    rho = evaluate(features, ratings, folds, seed=seed, **fit)
    head = fit_head(features, ratings, feature_key=feature_key, seed=seed, **fit)
    head.meta["heldout_spearman"] = rho
    head.meta["folds"] = folds
    return head


# --- the score -------------------------------------------------------------------------------


def score(views: Sequence[Image.Image], head: Head | None = None, *,
          extractor: FeatureExtractor | None = None) -> Score:
    """The model's score: learned when a head (and the extractor of its features) is given, else technical."""
    if not views:
        raise ValueError("score needs at least one rendered view")
    if head is None:
        return technical_score(views, f"Fewer than {MIN_RATED_MODELS} rated models, so no learned scorer yet: "
                                      "technical image quality (BRISQUE) of the rendered views, not taste.")
    if extractor is None:
        raise ValueError("a learned head needs the feature extractor it was trained with")
    if head.feature_key and head.feature_key != extractor.key:
        return technical_score(views, f"The scorer was trained on {head.feature_key} features but "
                                      f"{extractor.key} is configured; run train-scorer again. "
                                      "Technical image quality (BRISQUE) meanwhile.")
    result = head.predict(features(views, extractor))
    rho = head.meta.get("heldout_spearman")
    quality = f" (held-out Spearman {rho:.2f})" if isinstance(rho, float) else ""
    return Score(result.mean, result.std, result.probs, "learned",
                 f"Learned from {head.meta.get('models', '?')} rated models{quality} on {head.feature_key} features.")
