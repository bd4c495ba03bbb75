import pickle
from pathlib import Path

import numpy as np
import pytest

from tune_cifar.data import SAMPLE_PATH, DataSpec, load_data, load_sample
from tune_cifar.data._cifar_reader import (
    TEST_FILE,
    TRAIN_FILES,
    read_batch,
    read_cifar10_folder,
    resolve_folder,
)
from tune_cifar.data._splits import balanced_pick, holdout_split
from tune_cifar.data._synthetic import make_synthetic
from tune_cifar.errors import TuneCifarError, UsageError


def write_batch(path: Path, n: int = 20, seed: int = 0) -> tuple[np.ndarray, list[int]]:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, size=(n, 3072), dtype=np.uint8)
    labels = [int(i % 10) for i in range(n)]
    with path.open("wb") as f:
        pickle.dump(
            {"data": data, "labels": labels, "batch_label": "x", "filenames": []}, f, protocol=2
        )
    return data, labels


@pytest.fixture()
def tiny_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i, name in enumerate((*TRAIN_FILES, TEST_FILE)):
        write_batch(folder / name, seed=i)
    return folder


class Exploit:
    """Unpickling this would call os.system: the safe reader must refuse it."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_reads_a_folder_from_its_parent_or_itself(tiny_folder):
    assert resolve_folder(tiny_folder.parent) == tiny_folder
    assert resolve_folder(tiny_folder) == tiny_folder
    train_x, train_y, test_x, _test_y = read_cifar10_folder(tiny_folder)
    assert train_x.shape == (100, 3, 32, 32) and train_x.dtype == np.uint8
    assert test_x.shape == (20, 3, 32, 32) and train_y.dtype == np.int64
    data, _ = write_batch(tiny_folder / "again", seed=5)
    assert np.array_equal(test_x.reshape(20, -1), data)  # row-major RGB planes kept


def test_planted_code_in_a_batch_is_refused_and_never_runs(tiny_folder, tmp_path):
    marker = tmp_path / "pwned"
    with (tiny_folder / "data_batch_3").open("wb") as f:
        pickle.dump({"data": Exploit(marker), "labels": [0]}, f, protocol=2)
    with pytest.raises(TuneCifarError, match=r"data_batch_3 .*refused to load global"):
        read_cifar10_folder(tiny_folder)
    assert not marker.exists()


def test_truncated_batch_names_the_file(tiny_folder):
    path = tiny_folder / "data_batch_2"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(TuneCifarError, match="data_batch_2 is truncated or corrupt"):
        read_batch(path)


def test_missing_batch_is_a_usage_error_naming_it(tiny_folder):
    (tiny_folder / "data_batch_4").unlink()
    with pytest.raises(UsageError, match=r"CIFAR-10 file missing: .*data_batch_4"):
        read_cifar10_folder(tiny_folder)


def test_bad_shapes_and_labels_are_refused(tmp_path):
    path = tmp_path / "b"
    with path.open("wb") as f:
        pickle.dump({"data": np.zeros((4, 100), np.uint8), "labels": [0] * 4}, f)
    with pytest.raises(TuneCifarError, match=r"expected \(N, 3072\)"):
        read_batch(path)
    with path.open("wb") as f:
        pickle.dump({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 11]}, f)
    with pytest.raises(TuneCifarError, match=r"labels outside 0\.\.9"):
        read_batch(path)


def test_folder_without_batches_points_to_data_dir(tmp_path):
    with pytest.raises(UsageError, match="pass --data-dir"):
        resolve_folder(tmp_path)
    with pytest.raises(UsageError, match="--data cifar10 needs --data-dir"):
        load_data(DataSpec(source="cifar10"))


def test_balanced_pick_is_seeded_balanced_and_sorted():
    labels = np.repeat(np.arange(10), 50)
    a = balanced_pick(labels, 100, seed=3)
    assert np.array_equal(a, balanced_pick(labels, 100, seed=3))
    assert not np.array_equal(a, balanced_pick(labels, 100, seed=4))
    assert np.bincount(labels[a]).tolist() == [10] * 10
    assert np.all(np.diff(a) > 0)
    with pytest.raises(UsageError, match="cannot pick 600 images from 500"):
        balanced_pick(labels, 600, seed=0)


def test_holdout_is_disjoint_and_complete():
    labels = np.repeat(np.arange(10), 30)
    train, val = holdout_split(labels, 50, seed=0)
    assert len(set(train) & set(val)) == 0 and len(train) + len(val) == 300
    assert np.bincount(labels[val]).tolist() == [5] * 10


def test_shipped_sample_is_real_balanced_and_small():
    assert SAMPLE_PATH.stat().st_size <= 8 * 1024 * 1024
    train_x, train_y, test_x, test_y = load_sample()
    assert train_x.shape == (2000, 3, 32, 32) and test_x.shape == (500, 3, 32, 32)
    assert np.bincount(train_y).tolist() == [200] * 10
    assert np.bincount(test_y).tolist() == [50] * 10
    assert len({row.tobytes() for row in train_x}) == 2000


def test_load_data_splits_as_asked(sample_bundle):
    t = sample_bundle.training
    assert (len(t.train_y), len(t.val_y), len(sample_bundle.test_y)) == (300, 200, 500)
    bundle = load_data(DataSpec(source="sample", val_source="test"))
    assert len(bundle.training.val_y) == 500 and len(bundle.training.train_y) == 2000
    assert "test set" in bundle.describe() and bundle.notes


def test_synthetic_is_balanced_and_deterministic():
    x1, y1 = make_synthetic(100, seed=1)
    x2, y2 = make_synthetic(100, seed=1)
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert np.bincount(y1).tolist() == [10] * 10 and x1.dtype == np.uint8


def test_real_cifar10_matches_published_values(real_data_dir):
    train_x, train_y, test_x, test_y = read_cifar10_folder(resolve_folder(real_data_dir))
    assert train_x.shape == (50000, 3, 32, 32) and test_x.shape == (10000, 3, 32, 32)
    row0 = train_x[0].reshape(-1)
    assert row0[:3].tolist() == [59, 43, 50] and row0[-3:].tolist() == [140, 84, 72]
    assert test_x[0].reshape(-1)[:3].tolist() == [158, 159, 165]
    assert train_y[:2].tolist() == [6, 9] and test_y[:3].tolist() == [3, 8, 8]
    assert np.bincount(train_y).tolist() == [5000] * 10


def test_real_cifar10_default_holdout_is_5000(real_data_dir):
    bundle = load_data(DataSpec(source="cifar10", data_dir=str(real_data_dir), train_subset=1000))
    assert len(bundle.training.val_y) == 5000 and len(bundle.training.train_y) == 1000
    assert np.bincount(bundle.training.val_y).tolist() == [500] * 10
