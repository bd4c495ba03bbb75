"""The real CIFAR-10 sample shipped inside the package, for offline quickstarts and tests.

``cifar10_sample.npz`` holds a class-balanced, seeded pick of 2,000 training and 500 test
images of the official CIFAR-10 (uint8, N x 3 x 32 x 32). Rebuild it from a
``cifar-10-batches-py`` folder with:

    python -m tune_cifar.data FOLDER    # a folder holding cifar-10-batches-py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tune_cifar.data._cifar_reader import read_cifar10_folder, resolve_folder
from tune_cifar.data._splits import balanced_pick

SAMPLE_PATH = Path(__file__).with_name("cifar10_sample.npz")
SAMPLE_TRAIN, SAMPLE_TEST, SAMPLE_SEED = 2000, 500, 2024


def load_sample(path: Path = SAMPLE_PATH) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """train_x, train_y, test_x, test_y of the shipped sample (no pickles: allow_pickle=False)."""
    with np.load(path, allow_pickle=False) as npz:
        return npz["train_x"], npz["train_y"], npz["test_x"], npz["test_y"]


def write_sample(folder: Path, path: Path = SAMPLE_PATH) -> None:
    """Pick the sample from a CIFAR-10 folder and write it to ``path``."""
    train_x, train_y, test_x, test_y = read_cifar10_folder(resolve_folder(folder))
    train_idx = balanced_pick(train_y, SAMPLE_TRAIN, SAMPLE_SEED)
    test_idx = balanced_pick(test_y, SAMPLE_TEST, SAMPLE_SEED)
    np.savez_compressed(
        path,
        train_x=train_x[train_idx],
        train_y=train_y[train_idx],
        test_x=test_x[test_idx],
        test_y=test_y[test_idx],
        train_index=train_idx,
        test_index=test_idx,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m tune_cifar.data", description=__doc__.splitlines()[0]
    )
    parser.add_argument("folder", type=Path, help="cifar-10-batches-py folder (or its parent)")
    parser.add_argument("--out", type=Path, default=SAMPLE_PATH, help="where to write the .npz")
    args = parser.parse_args()
    write_sample(args.folder, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")
