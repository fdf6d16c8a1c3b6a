"""Own classifiers: a linear head trained on frozen embeddings (transfer learning), pure and shared.

Album trains one per user on its photo embeddings; Pantry one per household on the embeddings of the
boxes its members confirmed or renamed. The seed fine-tuned a network per user; a logistic
regression on embeddings that are already computed learns from a few labelled examples in
milliseconds, and its weights are a small matrix kept as JSON (no pickle: a stored model is data, never code).
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

import numpy as np

MIN_CLASSES = 2
MIN_PER_CLASS = 2  # the fewest that still lets every fold see each class
MAX_FOLDS = 5


class TrainingDataError(ValueError):
    """The labelled photos cannot train a classifier (too few classes or photos); `reason` says which."""

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


@dataclass(frozen=True)
class LinearHead:
    classes: list[str]
    coef: np.ndarray  # (classes, dim); one row per class (binary problems are expanded to two)
    intercept: np.ndarray  # (classes,)

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """(N, classes) softmax of the linear scores: how sure the head is of each class."""
        scores = np.atleast_2d(embeddings).astype(np.float64) @ self.coef.T + self.intercept
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def predict(self, embeddings: np.ndarray) -> list[tuple[str, float]]:
        probs = self.probabilities(embeddings)
        best = probs.argmax(axis=1)
        return [(self.classes[i], float(probs[row, i])) for row, i in enumerate(best)]

    def to_json(self) -> dict[str, Any]:
        return {"classes": self.classes, "coef": self.coef.round(7).tolist(),
                "intercept": self.intercept.round(7).tolist()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LinearHead:
        return cls(list(data["classes"]), np.asarray(data["coef"], np.float64),
                   np.asarray(data["intercept"], np.float64))


@dataclass(frozen=True)
class TrainingReport:
    head: LinearHead
    accuracy: float  # cross-validated: each photo predicted by a head that never saw it
    folds: int
    confusion: list[list[int]]  # rows: true class, columns: predicted, in head.classes order
    counts: dict[str, int]


@dataclass(frozen=True)
class Prototypes:
    """Where each class's examples lie: their mean direction and how far the farthest one is from it.

    A linear head names one of its classes for anything, even a photo of the table. It is only asked
    about what looks like what it was taught: an embedding farther from its class's mean direction
    than `SLACK` times its farthest training example is "not one of mine" (open-set, by cosine).
    """

    classes: list[str]
    centroids: np.ndarray  # (classes, dim), unit rows
    floors: np.ndarray  # (classes,): the lowest cosine to the centroid still taken as that class

    SLACK = 3.0
    CEILING = 0.98  # never stricter than this: two near-identical examples say little about their spread

    @classmethod
    def fit(cls, embeddings: np.ndarray, labels: Sequence[str]) -> Prototypes:
        x = _unit(np.asarray(embeddings, np.float64))
        y = np.asarray(labels)
        classes = sorted(set(labels))
        centroids = _unit(np.stack([x[y == c].mean(axis=0) for c in classes]))
        floors = np.array([min(cls.CEILING, 1 - cls.SLACK * (1 - float((x[y == c] @ centroids[i]).min())))
                           for i, c in enumerate(classes)])
        return cls(classes, centroids, floors)

    def near(self, embeddings: np.ndarray, labels: Sequence[str]) -> list[bool]:
        """Whether each embedding is close enough to the examples of the class the head gave it."""
        x = _unit(np.atleast_2d(np.asarray(embeddings, np.float64)))
        rows = [self.classes.index(label) for label in labels]
        return [bool(x[n] @ self.centroids[i] >= self.floors[i]) for n, i in enumerate(rows)]

    def to_json(self) -> dict[str, Any]:
        return {"classes": self.classes, "centroids": self.centroids.round(6).tolist(),
                "floors": self.floors.round(6).tolist()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Prototypes:
        return cls(list(data["classes"]), np.asarray(data["centroids"], np.float64),
                   np.asarray(data["floors"], np.float64))


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


def check_training_data(labels: Sequence[str]) -> None:
    counts = Counter(labels)
    if len(counts) < MIN_CLASSES:
        raise TrainingDataError("too_few_classes", classes=len(counts), needed=MIN_CLASSES)
    short = sorted(label for label, n in counts.items() if n < MIN_PER_CLASS)
    if short:
        raise TrainingDataError("too_few_photos", classes=short, needed=MIN_PER_CLASS)


def _fit(embeddings: np.ndarray, labels: Sequence[str], classes: list[str], seed: int) -> LinearHead:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=10.0, max_iter=2000, random_state=seed)
    model.fit(embeddings, list(labels))
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # sklearn keeps one row for two classes: score(b) - score(a)
        coef = np.vstack([np.zeros_like(coef[0]), coef[0]])
        intercept = np.array([0.0, intercept[0]])
    order = [list(model.classes_).index(c) for c in classes]
    return LinearHead(classes, np.asarray(coef)[order], np.asarray(intercept)[order])


def train(embeddings: np.ndarray, labels: Sequence[str], *, seed: int = 0) -> TrainingReport:
    """Fit on every labelled photo; accuracy and confusion come from stratified cross-validation."""
    from sklearn.model_selection import StratifiedKFold

    check_training_data(labels)
    x = np.asarray(embeddings, np.float64)
    y = np.asarray(labels)
    classes = sorted(set(labels))
    counts = Counter(labels)
    folds = min(MAX_FOLDS, min(counts.values()))
    index = {c: i for i, c in enumerate(classes)}
    confusion = np.zeros((len(classes), len(classes)), int)
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for fit_rows, test_rows in splitter.split(x, y):
        head = _fit(x[fit_rows], y[fit_rows], sorted(set(y[fit_rows])), seed)
        for truth, (guess, _) in zip(y[test_rows], head.predict(x[test_rows]), strict=True):
            confusion[index[truth], index[guess]] += 1
    accuracy = float(np.trace(confusion) / confusion.sum())
    return TrainingReport(_fit(x, y, classes, seed), accuracy, folds, confusion.tolist(), dict(counts))


def _text_width(text: str, size: int = 12) -> int:
    """Roughly how wide `text` is drawn: wide (Hangul, CJK) characters are a full em, others about 0.6."""
    return int(sum(size if unicodedata.east_asian_width(ch) in ("W", "F") else 0.6 * size for ch in text))


def confusion_svg(classes: Sequence[str], confusion: Sequence[Sequence[int]], *, title: str = "") -> str:
    """The confusion matrix as an SVG picture: darker cells hold more photos; the diagonal is right.

    Drawn as markup for the page to place inline, so class names in Korean use the page's font.
    """
    n = len(classes)
    shorts = [escape(name if len(name) <= 14 else name[:13] + "…") for name in classes]
    longest = max((_text_width(name if len(name) <= 14 else name[:13] + "…") for name in classes), default=0)
    # Room for the names as long as they are: row names on the left, column names slanted at 60° above.
    cell, label_w, label_h = 44, longest + 14, int(longest * 0.87) + 14
    top = 8 + (20 if title else 0)
    width = max(label_w + n * cell + 8 + int(longest * 0.5), _text_width(title, 14) + 8)
    height = top + label_h + n * cell
    most = max((max(row) for row in confusion), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="confusion" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="{escape(title or "confusion matrix")}">']
    if title:
        parts.append(f'<text x="4" y="16" font-size="14" font-weight="600">{escape(title)}</text>')
    grid_top = top + label_h
    for i, short in enumerate(shorts):
        y = grid_top + i * cell + cell / 2 + 5
        parts.append(f'<text x="{label_w - 6}" y="{y:.0f}" font-size="12" text-anchor="end">{short}</text>')
        x = label_w + i * cell + cell / 2 + 4
        parts.append(f'<text x="{x:.0f}" y="{grid_top - 6}" font-size="12" '
                     f'transform="rotate(-60 {x:.0f} {grid_top - 6})">{short}</text>')
    for i, row in enumerate(confusion):
        for j, count in enumerate(row):
            shade = count / most
            colour = (f"rgb({int(255 - 200 * shade)},{int(255 - 120 * shade)},{int(255 - 40 * shade)})" if i == j
                      else f"rgb(255,{int(255 - 150 * shade)},{int(255 - 150 * shade)})")
            x, y = label_w + j * cell, grid_top + i * cell
            parts.append(f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}" fill="{colour}">'
                         f'<title>{escape(classes[i])} → {escape(classes[j])}: {count}</title></rect>')
            ink = "#fff" if shade > 0.6 and i == j else "#222"
            parts.append(f'<text x="{x + cell / 2 - 1:.0f}" y="{y + cell / 2 + 4:.0f}" font-size="13" '
                         f'text-anchor="middle" fill="{ink}">{count}</text>')
    parts.append("</svg>")
    return "".join(parts)
