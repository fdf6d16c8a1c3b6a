"""Digit training and the vision CLI: a 1-epoch run on 512 digits trains, exports ONNX, reproduces."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from boda.ai.catalog import locate
from boda.ai.digits import DigitReader, normalise_digit
from boda.apps.vision.cli import cli
from boda.apps.vision.mnist import load_mnist
from boda.apps.vision.training import (
    augment,
    build_model,
    curl_foot,
    curled_nines,
    export_onnx,
    to_input,
    train_digits,
)
from boda.core.config import get_settings
from boda.core.errors import Unavailable


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """512 training and 256 separate test digits from MNIST's training set, as IDX files."""
    images, labels = load_mnist("train")
    order = np.random.default_rng(0).permutation(len(images))
    folder = tmp_path_factory.mktemp("mnist")
    for prefix, index in (("train", order[:512]), ("t10k", order[512:768])):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images[index])
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels[index])
    return folder


@pytest.fixture(scope="module")
def trained(tiny_mnist: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[float]]:
    """One epoch on the 512 digits: the model path, its metrics and the progress fractions."""
    out = tmp_path_factory.mktemp("model") / "digits_cnn.onnx"
    fractions: list[float] = []
    metrics = train_digits(out=out, data_dir=tiny_mnist, epochs=1, seed=7, batch_size=64,
                           progress=lambda done, _message: fractions.append(done))
    return out, metrics, fractions


def test_one_epoch_trains_exports_and_writes_metrics(
    trained: tuple[Path, dict[str, Any], list[float]], tiny_mnist: Path
) -> None:
    out, metrics, fractions = trained
    assert out.is_file() and out.stat().st_size < 1_000_000
    assert json.loads(out.with_suffix(".json").read_text()) == metrics
    assert metrics["train_digits"] == 512 and metrics["test_digits"] == 256
    _, train_labels = load_mnist("train", tiny_mnist)
    assert metrics["curled_nines"] == int(np.count_nonzero(train_labels == 9) * 0.5) > 0
    assert metrics["epochs"] == 1 and metrics["seed"] == 7
    assert metrics["parameters"] == sum(p.numel() for p in build_model().parameters())
    assert metrics["onnx_max_abs_diff"] <= 1e-4
    # Eight steps are far from converged; the score is only checked to be a score.
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)

    images, _ = load_mnist("test", tiny_mnist)
    probabilities = DigitReader(out).classify(images[:16])
    assert probabilities.shape == (16, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_members_join_into_one_graph_reading_the_mean_of_the_lone_models(
    trained: tuple[Path, dict[str, Any], list[float]], tiny_mnist: Path, tmp_path: Path
) -> None:
    lone_first, _, _ = trained  # seed 7
    lone_second = tmp_path / "seed8.onnx"
    train_digits(out=lone_second, data_dir=tiny_mnist, epochs=1, seed=8, batch_size=64)
    ensemble = tmp_path / "ensemble" / "digits_cnn.onnx"
    fractions: list[float] = []
    metrics = train_digits(out=ensemble, data_dir=tiny_mnist, epochs=1, seed=7, batch_size=64, members=2,
                           progress=lambda done, _message: fractions.append(done))

    assert [m["seed"] for m in metrics["members"]] == [7, 8]
    assert metrics["parameters"] == 2 * sum(p.numel() for p in build_model().parameters())
    assert sorted(p.name for p in ensemble.parent.iterdir()) == ["digits_cnn.json", "digits_cnn.onnx"]
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    images, labels = load_mnist("test", tiny_mnist)
    # Each member is exactly the model its seed trains alone, and the one file reads their mean.
    expected = (DigitReader(lone_first).classify(images) + DigitReader(lone_second).classify(images)) / 2
    np.testing.assert_allclose(DigitReader(ensemble).classify(images), expected, atol=1e-5)
    assert metrics["test_accuracy"] == pytest.approx(float((expected.argmax(axis=1) == labels).mean()), abs=1e-6)


def test_cli_retrains_the_same_model_into_the_models_folder(
    trained: tuple[Path, dict[str, Any], list[float]], tiny_mnist: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from boda.ai.catalog import CARRIED_DIR

    first_out, first, _ = trained
    models = tmp_path / "models"
    carried = (CARRIED_DIR / "digits_cnn.onnx").read_bytes()
    monkeypatch.setenv("BODA_CONFIG", "")
    monkeypatch.setenv("BODA_AI__MODELS_DIR", str(models))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["train-digits", "--data-dir", str(tiny_mnist),
                                          "--epochs", "1", "--seed", "7", "--batch-size", "64"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "Test accuracy" in result.output
    out = models / "digits_cnn.onnx"  # the models folder, never the installed package
    assert out.read_bytes() == first_out.read_bytes()
    assert (CARRIED_DIR / "digits_cnn.onnx").read_bytes() == carried  # the shipped weights are untouched
    refused = CliRunner().invoke(cli, ["train-digits", "--out", str(CARRIED_DIR / "digits_cnn.onnx")])
    assert refused.exit_code == 2 and "carried with Boda" in refused.output
    assert json.loads(out.with_suffix(".json").read_text())["test_accuracy"] == first["test_accuracy"]
    # The deterministic-kernels switch is process-wide: training puts it back.
    assert not torch.are_deterministic_algorithms_enabled()
    # The trained file now wins over the carried one, checked against the digest training recorded.
    found = locate("digits_cnn", models_dir=models)
    assert (found.path, found.origin, found.verified) == (out, "models folder", True)
    out.write_bytes(out.read_bytes() + b"tampered")
    with pytest.raises(Unavailable, match="corrupt"):
        locate("digits_cnn", models_dir=models)


def test_cli_reads_digits_from_an_image_file(tmp_path: Path) -> None:
    image = np.full((200, 600, 3), 225, np.uint8)
    cv2.putText(image, "90210", (40, 150), cv2.FONT_HERSHEY_SIMPLEX, 4, (40, 40, 40), 10, cv2.LINE_AA)
    path = tmp_path / "zip.png"
    cv2.imwrite(str(path), image)
    result = CliRunner().invoke(cli, ["read-digits", str(path), "--multi"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("90210")

    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((100, 100), 255, np.uint8))
    result = CliRunner().invoke(cli, ["read-digits", str(blank)])
    assert result.exit_code == 1 and "No digit" in result.output


def test_export_matches_torch_with_any_batch_size(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build_model().eval()
    images, _ = load_mnist("test")
    out = tmp_path / "m.onnx"
    assert export_onnx(model, out, sample=images[:8]) <= 1e-4

    reader = DigitReader(out)
    for n in (1, 5, 33):
        with torch.no_grad():
            expected = torch.softmax(model(torch.from_numpy(to_input(images[:n]))), dim=1).numpy()
        np.testing.assert_allclose(reader.classify(images[:n]), expected, atol=1e-5)


def test_augment_is_seeded_and_keeps_digits_in_range() -> None:
    images, _ = load_mnist("train")
    x = torch.from_numpy(to_input(images[:64]))
    first = augment(x.clone(), torch.Generator().manual_seed(3))
    second = augment(x.clone(), torch.Generator().manual_seed(3))
    assert first.shape == x.shape
    assert torch.equal(first, second)
    assert float(first.min()) >= 0 and float(first.max()) <= 1
    assert not torch.equal(first, x)
    # Every digit stays visible and inside the frame: little ink near the edges.
    assert float(first.amax(dim=(1, 2, 3)).min()) > 0.4
    edge = first.clone()
    edge[:, :, 2:-2, 2:-2] = 0
    assert float((edge.sum(dim=(1, 2, 3)) / first.sum(dim=(1, 2, 3))).max()) < 0.25


def foot(digit: np.ndarray) -> tuple[float, float]:
    """The ink of the digit's lowest quarter: its width and how far its left end is from the digit's left
    edge, both as shares of the digit's width."""
    ink = digit > 127
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    low = np.flatnonzero(ink[rows[-1] - (rows[-1] - rows[0]) // 4:].any(axis=0))
    width = cols.max() - cols.min() + 1
    return (low.max() - low.min() + 1) / width, (low.min() - cols.min()) / width


def test_a_curled_nine_has_a_wide_foot_and_is_seeded() -> None:
    images, labels = load_mnist("train")
    nines = images[np.flatnonzero(labels == 9)[:20]]
    rng = np.random.default_rng(5)
    curled = [curl_foot(nine, rng) for nine in nines]
    assert all(c is not None and c.shape == (28, 28) and c.dtype == np.uint8 for c in curled)
    again = curl_foot(nines[0], np.random.default_rng(5))
    assert again is not None and np.array_equal(again, curled[0])
    plain = np.array([foot(normalise_digit(nine)) for nine in nines])
    curls = np.array([foot(c) for c in curled if c is not None])
    # A straight stem's foot is narrow and right of the digit's left edge; the curl spreads the lowest
    # quarter across most of the digit, to its left edge.
    assert np.median(plain[:, 0]) < 0.35 < 0.7 < np.median(curls[:, 0])
    assert np.median(curls[:, 1]) < 0.05 < 0.3 < np.median(plain[:, 1])
    assert np.count_nonzero(curls[:, 0] > plain[:, 0]) >= 18  # not where the foot was wide already
    assert np.count_nonzero(curls[:, 1] < plain[:, 1]) >= 18
    assert curl_foot(np.zeros((28, 28), np.uint8), rng) is None


def test_curled_nines_are_a_seeded_share_of_the_nines() -> None:
    images, labels = load_mnist("train")
    images, labels = images[:2000], labels[:2000]
    first = curled_nines(images, labels, np.random.default_rng(1))
    assert first.shape == (int(np.count_nonzero(labels == 9) * 0.5), 28, 28) and first.dtype == np.uint8
    assert np.array_equal(first, curled_nines(images, labels, np.random.default_rng(1)))
    assert not np.array_equal(first, curled_nines(images, labels, np.random.default_rng(2)))
    assert curled_nines(images[labels != 9], labels[labels != 9], np.random.default_rng(1)).shape == (0, 28, 28)
