"""MNIST loading: the carried IDX files, another folder, caching."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pytest

from boda.apps.vision.mnist import CARRIED_DIR, MNIST_ATTRIBUTION, load_mnist, read_idx
from boda.core.errors import Unavailable


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


def test_default_is_the_carried_full_set() -> None:
    images, labels = load_mnist("train")
    assert images.shape == (60000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (60000,) and labels.dtype == np.uint8
    assert not images.flags.writeable and not labels.flags.writeable
    test_images, _ = load_mnist("test")
    assert test_images.shape == (10000, 28, 28)  # a held-out split of its own


def test_folder_without_files_is_refused(tmp_path: Path) -> None:
    with pytest.raises(Unavailable, match="not found"):
        load_mnist("test", tmp_path)


def test_reads_idx_files_and_caches(tmp_path: Path) -> None:
    sample, sample_labels = load_mnist("train")
    data_dir = write_mnist_dir(tmp_path / "mnist", sample[:32], sample_labels[:32])
    images, labels = load_mnist("train", data_dir)
    np.testing.assert_array_equal(images, sample[:32])
    np.testing.assert_array_equal(labels, sample_labels[:32])
    assert load_mnist("train", data_dir)[0] is images


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
    train_images, train_labels = load_mnist("train")
    test_images, test_labels = load_mnist("test")
    assert train_images.shape == (60000, 28, 28) and test_images.shape == (10000, 28, 28)
    assert train_labels[:5].tolist() == [5, 0, 4, 1, 9]
    assert np.bincount(test_labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(train_labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


def test_carried_files_match_their_checksums_and_keep_their_licence() -> None:
    for line in (CARRIED_DIR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((CARRIED_DIR / name).read_bytes()).hexdigest() == digest, name
    readme = (CARRIED_DIR / "README.md").read_text()
    assert MNIST_ATTRIBUTION in readme.replace("\n", " ") and "CC BY-SA 3.0" in readme
