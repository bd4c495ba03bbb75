"""Read the python version of CIFAR-10 (``cifar-10-batches-py``) safely.

The batches are pickles. ``SafeUnpickler`` admits numpy arrays and plain Python types only,
so a planted batch whose pickle would import or call anything else is refused before it runs.
Every check (shape, dtype, label range) names the file that failed.

    train_x, train_y, test_x, test_y = read_cifar10_folder(Path("data/cifar-10-batches-py"))
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from tune_cifar.errors import TuneCifarError, UsageError

FOLDER_NAME = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
IMAGE_BYTES = 3 * 32 * 32

# What a CIFAR-10 batch pickle legitimately references: numpy's array reconstruction, and
# _codecs.encode, which Python 3 protocol-2 pickles use to store bytes (it only encodes text).
_ALLOWED_GLOBALS = {
    ("_codecs", "encode"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class SafeUnpickler(pickle.Unpickler):
    """An unpickler that resolves only numpy's array-reconstruction globals."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refused to load global {module}.{name}")
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def safe_load_pickle(path: Path) -> Any:
    """Unpickle ``path`` through ``SafeUnpickler`` (py2 strings decoded as latin-1)."""
    data = path.read_bytes()
    return SafeUnpickler(io.BytesIO(data), encoding="latin1").load()


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file as uint8 images (N, 3, 32, 32) and int64 labels (N,)."""
    if not path.is_file():
        raise UsageError(f"CIFAR-10 file missing: {path}")
    try:
        batch = safe_load_pickle(path)
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        UnicodeDecodeError,
    ) as exc:
        raise TuneCifarError(f"CIFAR-10 file {path} is truncated or corrupt: {exc}") from None
    if not isinstance(batch, dict) or "data" not in batch or "labels" not in batch:
        raise TuneCifarError(f"CIFAR-10 file {path} has no 'data'/'labels' entries")
    images, labels = batch["data"], np.asarray(batch["labels"])
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        raise TuneCifarError(f"CIFAR-10 file {path}: 'data' is not a uint8 array")
    if images.ndim != 2 or images.shape[1] != IMAGE_BYTES or len(labels) != len(images):
        raise TuneCifarError(
            f"CIFAR-10 file {path}: expected (N, {IMAGE_BYTES}) images with N labels, "
            f"got {images.shape} and {labels.shape}"
        )
    if labels.dtype.kind not in "iu" or labels.min() < 0 or labels.max() > 9:
        raise TuneCifarError(f"CIFAR-10 file {path}: labels outside 0..9")
    return images.reshape(-1, 3, 32, 32), labels.astype(np.int64)


def resolve_folder(data_dir: Path) -> Path:
    """``data_dir`` itself or its ``cifar-10-batches-py`` child, whichever holds the batches."""
    for candidate in (data_dir / FOLDER_NAME, data_dir):
        if (candidate / TEST_FILE).exists() or (candidate / TRAIN_FILES[0]).exists():
            return candidate
    raise UsageError(
        f"no CIFAR-10 batches in {data_dir} (expected {FOLDER_NAME}/ with data_batch_1..5 "
        "and test_batch; pass --data-dir or set TUNE_CIFAR_DATA)"
    )


def read_cifar10_folder(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All five training batches and the test batch: train_x, train_y, test_x, test_y."""
    train = [read_batch(folder / name) for name in TRAIN_FILES]
    test_x, test_y = read_batch(folder / TEST_FILE)
    train_x = np.concatenate([x for x, _ in train])
    train_y = np.concatenate([y for _, y in train])
    return train_x, train_y, test_x, test_y
