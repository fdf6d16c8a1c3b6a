"""Providers by capability on the carried weights: real photos, the registry, idle unload, limits."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from boda.ai.classify import EfficientNetClassifier
from boda.ai.detect import YoloxDetector
from boda.ai.digits import DEFAULT_MODEL, DigitReader
from boda.ai.onnx import OnnxModel, OnnxOptions
from boda.ai.registry import Providers, registered
from boda.core.config import Settings
from boda.core.errors import InvalidInput
from tests.conftest import FIXTURES

PHOTOS = FIXTURES / "faces"


def photo(name: str) -> np.ndarray:
    return cv2.imread(str(PHOTOS / name), cv2.IMREAD_COLOR)


@pytest.fixture(scope="module")
def providers(tmp_path_factory: pytest.TempPathFactory) -> Providers:
    folder = tmp_path_factory.mktemp("providers")
    return Providers(Settings(_env_file=None, data_dir=folder,  # type: ignore[call-arg]
                              ai={"threads": 1, "downloads": False, "provider_limits": {"yolox_nano": 1}}))


# --- classification ---------------------------------------------------------------------


def test_classifier_knows_an_espresso(providers: Providers) -> None:
    classifier = providers.image_classifier()
    assert isinstance(classifier, EfficientNetClassifier)
    top = classifier.classify(photo("coffee.jpg"), top=3)
    assert top[0].label == "espresso" and top[0].score > 0.8
    assert "cup" in [c.label for c in top]
    assert top[0].score >= top[1].score >= top[2].score


def test_classifier_on_other_photos_and_formats(providers: Providers) -> None:
    classifier = providers.image_classifier()
    assert classifier.classify(photo("camera.jpg"), top=1)[0].label == "tripod"
    assert "military uniform" in [c.label for c in classifier.classify(photo("grace_hopper.jpg"))]
    coffee = photo("coffee.jpg")
    bgra = cv2.cvtColor(coffee, cv2.COLOR_BGR2BGRA)
    assert classifier.classify(bgra, top=1)[0].label == "espresso"
    assert len(classifier.classify(cv2.cvtColor(coffee, cv2.COLOR_BGR2GRAY), top=2)) == 2
    assert len(classifier.classify(np.zeros((1, 1, 3), np.uint8), top=1)) == 1


def test_classifier_features_are_its_centred_logits_at_unit_length(providers: Providers) -> None:
    """The embedding a household's classifier learns from: softmax of it (scaled back) is `classify`'s answer,
    and a photo is nearer to itself resized than to another photo."""
    classifier = providers.image_classifier()
    coffee = photo("coffee.jpg")
    vector = classifier.features(coffee)
    assert vector.shape == (1000,) and vector.dtype == np.float32
    assert abs(float(np.linalg.norm(vector)) - 1) < 1e-5 and abs(float(vector.mean())) < 1e-6
    logits = classifier.logits(coffee)
    assert np.allclose(vector, (logits - logits.mean()) / np.linalg.norm(logits - logits.mean()), atol=1e-6)
    assert int(np.argmax(vector)) == classifier.classify(coffee, top=1)[0].index  # espresso
    smaller = classifier.features(cv2.resize(coffee, None, fx=0.5, fy=0.5))
    other = classifier.features(photo("camera.jpg"))
    assert float(vector @ smaller) > 0.9 > float(vector @ other)
    assert classifier.features_key == "efficientnet_lite0:logits"


# --- object detection -------------------------------------------------------------------


def test_detector_finds_people_and_things(providers: Providers) -> None:
    detector = providers.object_detector()
    assert isinstance(detector, YoloxDetector)
    for name in ("astronaut.jpg", "grace_hopper.jpg", "camera.jpg"):
        found = detector.detect(photo(name))
        assert found and found[0].label == "person" and found[0].score > 0.85, (name, found)
    hopper = {d.label: d for d in detector.detect(photo("grace_hopper.jpg"))}
    assert set(hopper) == {"person", "tie"}
    x, y, w, h = hopper["tie"].box  # the tie sits at her collar, in the lower half
    assert 180 < x < 300 and y > 350 and w < 120
    coffee = [d.label for d in detector.detect(photo("coffee.jpg"), threshold=0.8)]
    assert coffee == ["cup"]


def test_detector_boxes_stay_in_the_image(providers: Providers) -> None:
    detector = providers.object_detector()
    astronaut = photo("astronaut.jpg")
    (person,) = [d for d in detector.detect(astronaut) if d.label == "person"]
    x, y, w, h = person.box
    assert x >= 0 and y >= 0 and x + w <= 512 and y + h <= 512
    assert x < 181 and y < 58 and x + w > 270 and y + h > 179  # it holds the astronaut's face
    cut = np.ascontiguousarray(astronaut[:, 200:])
    assert all(d.box[0] + d.box[2] <= cut.shape[1] for d in detector.detect(cut))
    assert detector.detect(np.full((5, 7, 3), 128, np.uint8)) == []
    assert detector.detect(cv2.cvtColor(astronaut, cv2.COLOR_BGR2GRAY))[0].label == "person"


# --- the registry -----------------------------------------------------------------------


def test_registry_by_capability_and_name(providers: Providers) -> None:
    assert registered("image_classifier") == ["efficientnet_lite0"]
    assert registered("object_detector") == ["yolox_nano"]
    assert set(registered("face_detector")) == {"auto", "yunet", "centerface", "haar"}
    assert providers.get("object_detector") is providers.object_detector("yolox_nano")  # built once
    assert providers.face_detector().name == "yunet"
    assert providers.face_detector("centerface").name == "centerface"
    assert providers.face_detector("haar").name == "haar"
    assert isinstance(providers.digit_reader, DigitReader)
    with pytest.raises(InvalidInput, match="No object_detector named 'nonesuch'"):
        providers.object_detector("nonesuch")


def test_limits_and_idle_time_come_from_settings(providers: Providers) -> None:
    yolox = providers.object_detector()
    classifier = providers.image_classifier()
    assert isinstance(yolox, YoloxDetector) and isinstance(classifier, EfficientNetClassifier)
    assert yolox.model.options.concurrency == 1  # its own limit
    assert classifier.model.options.concurrency == 2  # the default
    assert classifier.model.options.idle_unload_seconds == 600 and classifier.model.options.threads == 1


def test_models_folder_weights_win(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "digits_cnn.onnx").write_bytes(DEFAULT_MODEL.read_bytes())  # a trained model, no digest recorded
    settings = Settings(_env_file=None, data_dir=tmp_path, ai={"models_dir": models})  # type: ignore[call-arg]
    assert Providers(settings).digit_reader.model.path == models / "digits_cnn.onnx"


# --- idle unload and concurrency ---------------------------------------------------------


def digits_input() -> np.ndarray:
    return np.zeros((1, 1, 28, 28), np.float32)


def test_idle_model_unloads_and_reloads() -> None:
    model = OnnxModel(DEFAULT_MODEL, OnnxOptions(threads=1, idle_unload_seconds=0.2))
    first = model.run(digits_input())[0]
    assert model.loaded and model.loads == 1
    deadline = time.monotonic() + 5
    while model.loaded and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not model.loaded
    np.testing.assert_array_equal(model.run(digits_input())[0], first)
    assert model.loaded and model.loads == 2


def test_busy_model_stays_loaded() -> None:
    model = OnnxModel(DEFAULT_MODEL, OnnxOptions(threads=1, idle_unload_seconds=0.3))
    for _ in range(8):  # used more often than the idle time: never unloaded
        model.run(digits_input())
        time.sleep(0.1)
    assert model.loaded and model.loads == 1
    assert model.unload() and not model.loaded and not model.unload()
    never = OnnxModel(DEFAULT_MODEL, OnnxOptions(threads=1))
    never.run(digits_input())
    time.sleep(0.2)
    assert never.loaded


class SlowSession:
    """Wraps a real session and records how many runs overlap."""

    def __init__(self, session: Any) -> None:
        self.session, self.active, self.most = session, 0, 0
        self.lock = threading.Lock()

    def get_inputs(self) -> Any:
        return self.session.get_inputs()

    def run(self, outputs: Any, feed: Any) -> Any:
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
        time.sleep(0.05)
        try:
            return self.session.run(outputs, feed)
        finally:
            with self.lock:
                self.active -= 1


@pytest.mark.parametrize("limit", [1, 3])
def test_concurrency_is_bounded_per_model(limit: int) -> None:
    model = OnnxModel(DEFAULT_MODEL, OnnxOptions(threads=1, concurrency=limit))
    slow = SlowSession(model.session)
    model._session = slow  # type: ignore[assignment]
    threads = [threading.Thread(target=model.run, args=(digits_input(),)) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert slow.most == limit


def test_unload_races_with_many_callers() -> None:
    model = OnnxModel(DEFAULT_MODEL, OnnxOptions(threads=1, idle_unload_seconds=0.01))
    expected = model.run(digits_input())[0]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                np.testing.assert_array_equal(model.run(digits_input())[0], expected)
                model.unload()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    # Whether a racing unload found the model idle depends on the scheduler; the last one always does.
    model.unload()
    assert not model.loaded
    np.testing.assert_array_equal(model.run(digits_input())[0], expected)
    assert model.loads >= 2
