"""Shared fixtures: small real (sample) and synthetic data, the real-data folder if present."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch  # (its first import runs ldconfig: here, not inside a fast test)

from tune_cifar.data import DataBundle, DataSpec, load_data

REPO = Path(__file__).resolve().parents[1]
REAL_DATA = Path(os.environ.get("TUNE_CIFAR_DATA", REPO.parent / "shared" / "data"))
# Nothing here may reach an address off this machine: the AWS SDK (pyarrow's S3, in this
# process, the searches it starts and the session's Ray workers) never asks the EC2 metadata
# service for credentials.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(autouse=True)
def fast_tests_start_no_ray_and_no_process(request, monkeypatch):
    """Tests outside the ``slow`` mark must start neither Ray nor a subprocess."""
    if request.node.get_closest_marker("slow"):
        return

    def refuse(*args, **kwargs):
        raise AssertionError(f"{request.node.name} is not marked slow but starts Ray or a process")

    import ray

    monkeypatch.setattr(ray, "init", refuse)
    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


@pytest.fixture(scope="session")
def shared_ray():
    """One local Ray for every in-process search of the session (a search leaves running a Ray
    it did not start), instead of a start and a shutdown per search or module. Command-line
    searches run in processes of their own and start their own."""
    import ray

    from tune_cifar.tuning.ray import start_ray

    start_ray(None)
    yield
    ray.shutdown()


@pytest.fixture()
def free_port() -> int:
    """A local TCP port where nothing listens (bound for a moment, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
def asha_experiment(tmp_path_factory, synthetic_bundle, shared_ray):
    """One real random search with ASHA on synthetic images, shared by the search and analysis
    tests: 6 trials, up to 4 epochs, rungs at 1 and 2 epochs. Trials run one at a time, so
    ASHA's decisions are deterministic: the two trials whose lr is too small to learn are
    stopped at the first rung."""
    from tune_cifar.tuning import SearchOptions, run_search

    folder = tmp_path_factory.mktemp("results")
    (folder / "asha_space.py").write_text(ASHA_SPACE)
    opts = SearchOptions(
        space=str(folder / "asha_space.py"),
        num_samples=1,
        max_epochs=4,
        grace_period=1,
        reduction_factor=2,
        keep_checkpoints=1,
        max_concurrent=1,
        progress_interval=60,
        storage_path=str(folder),
        name="asha",
    )
    return run_search(opts, SYNTHETIC, argv=["test"], bundle=synthetic_bundle)


def _write_trial(
    folder: Path,
    trial_id: str,
    val_accs: list[float],
    kept: list[int],
    finished: bool = True,
    config: dict | None = None,
    timestamps: list[int] | None = None,
) -> Path:
    """A trial folder as Tune writes it: one result.json line per epoch (the last marked done
    when the trial ``finished``; reported at ``timestamps``, default second 1, 2, ...), its
    ``config``, and checkpoint folders for the epochs in ``kept`` only (the others deleted by
    retention)."""
    trial_dir = folder / f"trial_{trial_id}"
    trial_dir.mkdir(parents=True)
    lines = []
    for epoch, acc in enumerate(val_accs, start=1):
        name = f"checkpoint_{epoch - 1:06d}"
        lines.append(
            json.dumps(
                {
                    "trial_id": trial_id,
                    "training_iteration": epoch,
                    "epoch": epoch,
                    "val_acc": acc,
                    "train_loss": 1.0,
                    "train_acc": 0.5,
                    "val_loss": 1.0,
                    "time_total_s": float(epoch),
                    "checkpoint_dir_name": name,
                    "timestamp": timestamps[epoch - 1] if timestamps else epoch,
                    "config": config or {"lr": 0.001},
                    "done": finished and epoch == len(val_accs),
                }
            )
        )
        if epoch in kept:
            (trial_dir / name).mkdir()
            (trial_dir / name / "state.pt").write_bytes(b"")
    (trial_dir / "result.json").write_text("\n".join(lines) + "\n")
    return trial_dir


@pytest.fixture()
def write_trial():
    return _write_trial


@pytest.fixture(scope="session")
def real_data_dir() -> Path:
    if not (REAL_DATA / "cifar-10-batches-py" / "test_batch").exists():
        pytest.skip(f"real CIFAR-10 not found under {REAL_DATA}")
    return REAL_DATA


@pytest.fixture()
def one_thread():
    """One torch thread for the test (exact comparisons of runs), then as it was."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def without_timing(history: list[dict]) -> list[dict]:
    """Epoch metrics without those that time the machine (equal runs differ only there)."""
    from tune_cifar.metrics import TIMINGS

    return [{k: v for k, v in row.items() if k not in TIMINGS} for row in history]
