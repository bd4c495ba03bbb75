"""Shared fixtures: small real (sample) and synthetic data, the real-data folder if present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tune_cifar.data import DataBundle, DataSpec, load_data

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = Path(os.environ.get("TUNE_CIFAR_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def synthetic_bundle() -> DataBundle:
    return load_data(DataSpec(source="synthetic", train_subset=400, val_size=200))


@pytest.fixture(scope="session")
def sample_bundle() -> DataBundle:
    """Real CIFAR-10 images from the shipped sample: 300 train, 200 validation."""
    return load_data(DataSpec(source="sample", train_subset=300))


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    if not (REAL_DATA / "cifar-10-batches-py" / "test_batch").exists():
        pytest.skip(f"real CIFAR-10 not found under {REAL_DATA}")
    return REAL_DATA
