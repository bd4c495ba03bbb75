"""Shared fixtures: small real (sample) and synthetic data, the real-data folder if present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tune_cifar.data import DataBundle, DataSpec, load_data

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = Path(os.environ.get("TUNE_CIFAR_DATA", REPO.parent / "shared" / "data"))


SYNTHETIC = DataSpec(source="synthetic", train_subset=400, val_size=200)


@pytest.fixture(scope="session")
def synthetic_bundle() -> DataBundle:
    return load_data(SYNTHETIC)


@pytest.fixture(scope="session")
def sample_bundle() -> DataBundle:
    """Real CIFAR-10 images from the shipped sample: 300 train, 200 validation."""
    return load_data(DataSpec(source="sample", train_subset=300))


ASHA_SPACE = """
from ray import tune

DESCRIPTION = "test space: random model and batch size, two learning rates too small to learn"
SPACE = {
    "model": tune.choice(["cnn_v2", "cnn_v4"]),
    "width": 0.5,
    "batch_size": tune.choice([32, 64]),
    "erase_p": 0.0,
    "lr": tune.grid_search([1e-3, 1e-6, 2e-3, 2e-6, 5e-4, 1.5e-3]),
}
"""


@pytest.fixture(scope="session")
def asha_experiment(tmp_path_factory, synthetic_bundle):
    """One real random search with ASHA on synthetic images, shared by the search and analysis
    tests: 6 trials, up to 4 epochs, rungs at 1 and 2 epochs. Trials run one at a time, so
    ASHA's decisions are deterministic: the two trials whose lr is too small to learn are
    stopped at the first rung."""
    from tune_cifar.tuner import SearchOptions, run_search

    folder = tmp_path_factory.mktemp("results")
    (folder / "asha_space.py").write_text(ASHA_SPACE)
    opts = SearchOptions(space=str(folder / "asha_space.py"), num_samples=1, max_epochs=4,
                         grace_period=1, reduction_factor=2, keep_checkpoints=1,
                         max_concurrent=1, progress_interval_s=60, storage_path=str(folder),
                         name="asha")
    return run_search(opts, SYNTHETIC, argv=["test"], bundle=synthetic_bundle)


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    if not (REAL_DATA / "cifar-10-batches-py" / "test_batch").exists():
        pytest.skip(f"real CIFAR-10 not found under {REAL_DATA}")
    return REAL_DATA
