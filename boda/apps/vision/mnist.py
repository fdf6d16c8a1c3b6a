"""MNIST loading from the original IDX files.

The full set (60k train + 10k test) is carried in the package (`data/mnist/`,
CC BY-SA 3.0, see its README), so the app, the tests and training work offline
in any clone; `vision.mnist_dir` points elsewhere.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from boda.core.errors import Unavailable

MNIST_ATTRIBUTION = (
    "MNIST database of handwritten digits, Yann LeCun, Corinna Cortes and "
    "Christopher J.C. Burges, CC BY-SA 3.0"
)

Split = Literal["train", "test"]
CARRIED_DIR = Path(__file__).parent / "data" / "mnist"

_FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
_IDX_UBYTE = 0x08


def load_mnist(split: Split, data_dir: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 (N,28,28), labels uint8 (N,)) for a split.

    Reads `data_dir`, else the carried copy. Arrays are cached and read-only: copy them before changing them.
    """
    if split not in _FILES:
        raise ValueError(f"Unknown MNIST split {split!r}; expected 'train' or 'test'")
    images, labels = (Path(data_dir or CARRIED_DIR) / name for name in _FILES[split])
    if not (images.is_file() and labels.is_file()):
        raise Unavailable(f"MNIST {split} files ({', '.join(_FILES[split])}) not found in {images.parent}",
                          details={"folder": str(images.parent)}, key="mnist_missing")
    return _load_idx_pair(images.resolve(), labels.resolve())


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
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels
