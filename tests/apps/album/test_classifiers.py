"""Users' classifiers: a linear head on frozen embeddings, judged by cross-validation."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from boda.ai.heads import LinearHead, TrainingDataError, confusion_svg, train


def _clusters(
    rng: np.random.Generator, names: list[str], per_class: int, spread: float
) -> tuple[np.ndarray, list[str]]:
    centres = rng.normal(size=(len(names), 64))
    rows, labels = [], []
    for centre, name in zip(centres, names, strict=True):
        points = centre + spread * rng.normal(size=(per_class, 64))
        rows.append(points / np.linalg.norm(points, axis=1, keepdims=True))
        labels += [name] * per_class
    return np.vstack(rows).astype(np.float32), labels


def test_separable_classes_are_learned_and_predicted() -> None:
    rng = np.random.default_rng(1)
    x, y = _clusters(rng, ["고양이", "dog", "car"], per_class=6, spread=0.3)
    report = train(x, y)
    assert report.accuracy == 1.0 and report.folds == 5
    assert report.head.classes == ["car", "dog", "고양이"]
    assert np.trace(np.asarray(report.confusion)) == len(y)
    guesses = report.head.predict(x)
    assert [g for g, _ in guesses] == y and all(p > 0.5 for _, p in guesses)


def test_labels_that_mean_nothing_score_near_chance() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(60, 64)).astype(np.float32)
    y = list(rng.choice(["a", "b", "c"], size=60))
    report = train(x, y)
    assert report.accuracy < 0.6  # chance is 1/3; a leak of test photos into training would score ~1.0
    assert sum(map(sum, report.confusion)) == 60


def test_two_classes_and_json_round_trip() -> None:
    rng = np.random.default_rng(3)
    x, y = _clusters(rng, ["beach", "mountain"], per_class=3, spread=0.2)
    report = train(x, y)
    assert report.folds == 3
    again = LinearHead.from_json(json.loads(json.dumps(report.head.to_json())))
    np.testing.assert_allclose(again.probabilities(x), report.head.probabilities(x), atol=1e-5)
    assert again.probabilities(x).shape == (6, 2)


@pytest.mark.parametrize(("labels", "reason"), [
    (["a", "a", "a"], "too_few_classes"),
    (["a", "a", "b"], "too_few_photos"),
])
def test_too_little_to_learn_from_says_why(labels: list[str], reason: str) -> None:
    with pytest.raises(TrainingDataError) as caught:
        train(np.zeros((len(labels), 4), np.float32), labels)
    assert caught.value.reason == reason


def test_confusion_picture_is_svg_with_every_count_and_name() -> None:
    svg = confusion_svg(["고양이", "dog<&>"], [[4, 1], [0, 5]], title="v2")
    root = ET.fromstring(svg)  # well-formed: names are escaped
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert {"4", "1", "0", "5", "고양이", "dog<&>", "v2"} <= set(texts)
    fills = [r.get("fill") for r in root.iter("{http://www.w3.org/2000/svg}rect")]
    assert len(fills) == 4 and fills[0] != fills[2]  # darker where more photos fell
    # The names get the room they need and no more: short ones leave no blank band above the grid.
    short = ET.fromstring(confusion_svg(["cat", "cup"], [[3, 0], [0, 3]]))
    first = next(short.iter("{http://www.w3.org/2000/svg}rect"))
    assert int(short.get("height")) < 160 and 30 < float(first.get("y")) < 70 and float(first.get("x")) < 60
    long = ET.fromstring(confusion_svg(["a very long class name", "고양이"], [[3, 0], [0, 3]]))
    first = next(long.iter("{http://www.w3.org/2000/svg}rect"))
    assert float(first.get("x")) > 100 and float(first.get("y")) > 90
    titled = ET.fromstring(confusion_svg(["cat", "cup"], [[3, 0], [0, 3]], title="Breakfast or lunch v3"))
    assert int(titled.get("width")) >= 21 * 14 * 0.6  # the title is not cut off
