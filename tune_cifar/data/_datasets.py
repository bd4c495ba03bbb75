"""Load a data source into arrays and split off the validation set, once, in the driver.

    spec = DataSpec(source="sample")
    data = load_data(spec)          # DataBundle: train / val / test uint8 arrays + labels
    print(data.describe())

Sources: ``cifar10`` (a ``cifar-10-batches-py`` folder, or torchvision's download with
``download=True``), ``sample`` (the real sample shipped in the package), ``synthetic``
(generated, learnable). Validation is a seeded, class-balanced holdout from the training
images (10% unless ``val_size`` says otherwise: 5,000 for cifar10), identical for every
trial; ``val_source="test"`` uses the test set instead, as the seed study did.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tune_cifar.data._cifar_reader import read_cifar10_folder, resolve_folder
from tune_cifar.data._sample import load_sample
from tune_cifar.data._splits import balanced_pick, holdout_split
from tune_cifar.data._synthetic import make_synthetic
from tune_cifar.errors import TuneCifarError, UsageError

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
SOURCES = ("cifar10", "sample", "synthetic")
DATA_DIR_ENV = "TUNE_CIFAR_DATA"
SYNTHETIC_TRAIN, SYNTHETIC_TEST = 2000, 500


# The data settings that make a val_acc figure what it is: the images trained on and the ones
# validated on (a DataSpec's fields; warm starts and ``tune-cifar compare`` name differences).
FIDELITY_KEYS = ("source", "train_subset", "val_size", "val_source", "split_seed")


@dataclass(frozen=True)
class DataSpec:
    """What data a run asked for; recorded in the experiment's spec file. Two runs validated
    alike (their val_acc compare) when they agree on ``FIDELITY_KEYS``; where the files were
    read from (``data_dir``, ``download``) does not matter."""

    source: str = "sample"
    data_dir: str | None = None
    download: bool = False
    val_source: str = "holdout"
    val_size: int | None = None
    train_subset: int | None = None
    split_seed: int = 0

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise UsageError(f"unknown data source {self.source!r}; use one of {SOURCES}")
        if self.val_source not in ("holdout", "test"):
            raise UsageError(f"--val-source must be holdout or test, not {self.val_source!r}")
        for name in ("val_size", "train_subset"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise UsageError(f"--{name.replace('_', '-')} must be positive, got {value}")


@dataclass
class TrainingData:
    """What a trial needs: training and validation arrays (shared via Ray's object store)."""

    train_x: np.ndarray
    train_y: np.ndarray
    val_x: np.ndarray
    val_y: np.ndarray
    val_label: str = "holdout"


@dataclass
class DataBundle:
    """Training, validation and test arrays of one run, with a description of each."""

    training: TrainingData
    test_x: np.ndarray
    test_y: np.ndarray
    source: str
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        t = self.training
        return (
            f"data {self.source}: {len(t.train_y)} train, {len(t.val_y)} validation "
            f"({t.val_label}), {len(self.test_y)} test"
        )


def default_data_dir() -> Path | None:
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else None


def _download_cifar10(root: Path) -> Path:
    from torchvision.datasets import CIFAR10  # imported here: only --download needs it

    try:
        CIFAR10(root=str(root), train=True, download=True)
    except (OSError, RuntimeError) as exc:
        raise TuneCifarError(
            f"could not download CIFAR-10 into {root} ({exc.__class__.__name__}); offline, "
            "pass --data-dir with a cifar-10-batches-py folder instead"
        ) from None
    return root


def _read_source(spec: DataSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if spec.source == "sample":
        return load_sample()
    if spec.source == "synthetic":
        return (*make_synthetic(SYNTHETIC_TRAIN, seed=1), *make_synthetic(SYNTHETIC_TEST, seed=2))
    data_dir = Path(spec.data_dir) if spec.data_dir else default_data_dir()
    if spec.download:
        data_dir = _download_cifar10(data_dir or Path.home() / ".cache" / "tune-cifar")
    if data_dir is None:
        raise UsageError(f"--data cifar10 needs --data-dir (or ${DATA_DIR_ENV}) or --download")
    if not data_dir.is_dir():
        raise UsageError(f"--data-dir {data_dir} is not a folder")
    return read_cifar10_folder(resolve_folder(data_dir))


def load_data(spec: DataSpec) -> DataBundle:
    """Read the source once and split it as the spec says."""
    train_x, train_y, test_x, test_y = _read_source(spec)
    notes = []
    if spec.val_source == "test":
        val_x, val_y, label = test_x, test_y, "the test set, as the seed study did"
        notes.append("validation = the test set (as the seed study did): val_acc is test accuracy")
    else:
        val_size = spec.val_size or (5000 if spec.source == "cifar10" else len(train_y) // 10)
        train_idx, val_idx = holdout_split(train_y, val_size, spec.split_seed)
        val_x, val_y = train_x[val_idx], train_y[val_idx]
        train_x, train_y = train_x[train_idx], train_y[train_idx]
        label = f"seeded class-balanced holdout of {val_size} training images"
    if spec.train_subset is not None:
        subset = balanced_pick(train_y, spec.train_subset, spec.split_seed + 1)
        train_x, train_y = train_x[subset], train_y[subset]
    training = TrainingData(
        np.ascontiguousarray(train_x), train_y, np.ascontiguousarray(val_x), val_y, label
    )
    return DataBundle(training, test_x, test_y, spec.source, notes)
