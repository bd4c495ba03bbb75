"""Real Ray Tune searches on small real images (the shipped sample, 300 train / 200 val)."""

import itertools
import json
import time
from pathlib import Path

import pytest
import torch

from tune_cifar.constants import SPEC_FILE
from tune_cifar.data import DataSpec
from tune_cifar.errors import UsageError
from tune_cifar.results import read_spec
from tune_cifar.tuning import SearchOptions, resume_search, run_search

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("shared_ray")]
SAMPLE = DataSpec(source="sample", train_subset=300)


def search(tmp_path: Path, bundle, **options):
    opts = SearchOptions(storage_path=str(tmp_path), name="exp", progress_interval=60, **options)
    return run_search(opts, SAMPLE, argv=["test"], bundle=bundle)


def trials(folder: Path) -> dict[str, list[dict]]:
    """Each trial's rows as Tune wrote them to its result.json (read here without Ray)."""
    return {
        d.parent.name: [json.loads(line) for line in d.read_text().splitlines()]
        for d in sorted(folder.glob("*/result.json"))
    }


def test_random_search_with_asha_stops_trials_early(asha_experiment):
    outcome = asha_experiment
    runs = trials(outcome.experiment_path)
    assert len(runs) == 6 and not outcome.errors
    epochs = [rows[-1]["training_iteration"] for rows in runs.values()]
    assert min(epochs) < 4 and max(epochs) == 4  # ASHA stopped some, others ran to max_t
    for name, rows in runs.items():
        assert [r["epoch"] for r in rows] == list(range(1, len(rows) + 1))
        kept = list((outcome.experiment_path / name).glob("checkpoint_*"))
        assert 1 <= len(kept) <= 2, name  # best 1 by val_acc + the latest
    # --max-concurrent 1: no two trials trained at the same time, in trial order (Tune's
    # timestamps are whole seconds: 1 s of slack), all in one reused trial process
    spans = [
        (rows[0]["timestamp"] - rows[0]["time_this_iter_s"], rows[-1]["timestamp"])
        for _, rows in sorted(runs.items())
    ]
    assert all(end <= next_start + 1 for (_, end), (next_start, _) in itertools.pairwise(spans))
    assert len({r["pid"] for rows in runs.values() for r in rows}) == 1
    best_value = max(r["val_acc"] for rows in runs.values() for r in rows)
    assert outcome.best.value == best_value
    state = outcome.best.checkpoint / "state.pt"
    assert state.is_file()
    spec = read_spec(outcome.experiment_path)
    assert spec["space"]["name"] == "asha_space" and spec["options"]["max_epochs"] == 4
    assert spec["data"]["source"] == "synthetic" and "ray" in spec["versions"]


def tensorboard_scalars(trial_dir: Path) -> dict[str, list[tuple[int, float]]]:
    """(step, value) per tag of a trial's TensorBoard event files, read here with the
    TFRecord framing (length, CRC, event, CRC) and tensorboardX's Event protobuf."""
    import struct

    from tensorboardX.proto import event_pb2

    tags: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(trial_dir.glob("events.out.tfevents.*")):
        data, i = path.read_bytes(), 0
        while i < len(data):
            (length,) = struct.unpack("<Q", data[i : i + 8])
            event = event_pb2.Event()
            event.ParseFromString(data[i + 12 : i + 12 + length])
            i += 12 + length + 4
            for value in event.summary.value:
                if not value.tag.startswith("_hparams_"):
                    tags.setdefault(value.tag, []).append((event.step, value.simple_value))
    return tags


def test_tensorboard_files_hold_each_epoch_under_readable_names(asha_experiment):
    for name, rows in trials(asha_experiment.experiment_path).items():
        scalars = tensorboard_scalars(asha_experiment.experiment_path / name)
        assert set(scalars) == {
            "accuracy/train",
            "accuracy/validation",
            "loss/train",
            "loss/validation",
            "optimizer/learning_rate",
            "speed/epoch_time_s",
            "speed/train_images_per_s",
            "model/parameters",
            "speed/inference_ms_per_image",
        }
        assert [(s, pytest.approx(v)) for s, v in scalars["accuracy/validation"]] == [
            (r["training_iteration"], r["val_acc"]) for r in rows
        ]


def test_grid_search_runs_every_combination(tmp_path, sample_bundle):
    space = tmp_path / "tiny_grid.py"
    space.write_text(
        'from ray import tune\nDESCRIPTION = "2x2"\nSPACE = {"width": 0.5, '
        '"optimizer": tune.choice(["sgd", "adam"]), '
        '"batch_size": tune.grid_search([50, 100])}\n'
    )
    outcome = search(
        tmp_path, sample_bundle, space=str(space), search="grid", scheduler="fifo", max_epochs=1
    )
    combos = {
        (rows[0]["config"]["optimizer"], rows[0]["config"]["batch_size"])
        for rows in trials(outcome.experiment_path).values()
    }
    assert combos == {("sgd", 50), ("sgd", 100), ("adam", 50), ("adam", 100)}


def test_unsatisfiable_resources_fail_before_any_trial(tmp_path, sample_bundle):
    for options, message in [
        (
            {"gpus_per_trial": torch.cuda.device_count() + 1.0},
            "--gpus-per-trial \\d+ cannot be met: this machine has",
        ),
        ({"cpus_per_trial": 64}, "--cpus-per-trial 64 is more than this machine has"),
    ]:
        with pytest.raises(UsageError, match=message):
            search(tmp_path, sample_bundle, space="quick", **options)
        assert not (tmp_path / "exp").exists()


def test_existing_experiment_is_refused_untouched(tmp_path, sample_bundle):
    folder = tmp_path / "exp"
    folder.mkdir()
    (folder / SPEC_FILE).write_text(json.dumps({"old": True}))
    with pytest.raises(UsageError, match="already exists"):
        search(tmp_path, sample_bundle, space="quick", max_epochs=1)
    assert json.loads((folder / SPEC_FILE).read_text()) == {"old": True}


def test_time_budget_ends_the_search_and_a_resume_continues_it(tmp_path, sample_bundle):
    start = time.monotonic()
    outcome = search(
        tmp_path,
        sample_bundle,
        space="quick",
        scheduler="fifo",
        num_samples=2,
        max_epochs=200,
        time_budget=20,
    )
    assert time.monotonic() - start < 90
    assert outcome.budget == "time budget" and not outcome.interrupted
    assert outcome.unfinished == 2 and outcome.best is not None
    assert 1 <= outcome.best.epochs_run < 200
    before = {name: len(rows) for name, rows in trials(outcome.experiment_path).items()}
    # The trials are unfinished, not ended: a resume (another 20 s) continues both of them
    # from their checkpoints (Tune's own time_budget_s marked them terminated: nothing to do).
    # (On a loaded machine one trial may not finish an epoch in the 20 s: at least one must.)
    again = resume_search(outcome.experiment_path, bundle=sample_bundle)
    assert again.budget == "time budget" and again.unfinished == 2
    grew = 0
    for name, rows in trials(outcome.experiment_path).items():
        epochs = [r["training_iteration"] for r in rows]
        assert epochs.count(1) == 1, (name, epochs)  # continued, never started again
        grew += len(set(epochs)) > before[name]
    assert grew >= 1


def test_seed_study_runs_the_six_fixed_configurations(tmp_path, synthetic_bundle):
    outcome = search(tmp_path, synthetic_bundle, space="seed_study", scheduler="fifo", max_epochs=1)
    runs = [rows[0]["config"] for rows in trials(outcome.experiment_path).values()]
    got = sorted(
        (c["model"], c["optimizer"], c["momentum"], c["erase_p"], c["batch_norm"], c["dropout1"])
        for c in runs
    )
    assert got == sorted(
        [
            ("cnn_v2", "sgd", 0.0, 0.0, False, 0.0),
            ("cnn_v2", "sgd", 0.9, 0.0, False, 0.0),
            ("cnn_v2", "adam", 0.9, 0.0, False, 0.0),
            ("cnn_v3", "adam", 0.9, 0.0, False, 0.2),
            ("cnn_v4", "adam", 0.9, 0.0, True, 0.2),
            ("cnn_v4", "adam", 0.9, 0.5, True, 0.2),
        ]
    )


def test_an_address_where_no_cluster_answers_fails_fast(
    tmp_path, sample_bundle, monkeypatch, free_port
):
    """Nothing listening, and a port that accepts but never speaks Ray: one line each, within
    the join limit (4 s here) where Ray alone retries for minutes."""
    import socket

    from tune_cifar.tuning.ray import _runtime as ray_runtime

    monkeypatch.setattr(ray_runtime, "JOIN_TIMEOUT_S", 4)

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        for port, message in [
            (free_port, "Connection refused"),
            (silent.getsockname()[1], "no Ray cluster answered within 4 s"),
        ]:
            start = time.monotonic()
            with pytest.raises(
                UsageError, match=f"cannot join the Ray cluster at 127.0.0.1:{port}: {message}"
            ):
                search(tmp_path, sample_bundle, space="quick", address=f"127.0.0.1:{port}")
            assert time.monotonic() - start < 14
            assert not (tmp_path / "exp").exists()
        # Without --address, RAY_ADDRESS names the cluster, as for Ray's own tools.
        monkeypatch.setenv("RAY_ADDRESS", f"127.0.0.1:{free_port}")
        with pytest.raises(
            UsageError,
            match=f"cluster at 127.0.0.1:{free_port} \\(from RAY_ADDRESS\\): Connection refused",
        ):
            search(tmp_path, sample_bundle, space="quick")
    finally:
        silent.close()


def test_optuna_tpe_with_an_epoch_budget_ends_at_exactly_that_many_trial_epochs(
    tmp_path, sample_bundle
):
    """Seeded Optuna TPE, one trial at a time (Optuna with trials at once: the search_quality
    smoke test), ended by an epoch budget in the middle of the third trial."""
    outcome = search(
        tmp_path,
        sample_bundle,
        space="quick",
        search="optuna",
        scheduler="fifo",
        num_samples=4,
        max_epochs=2,
        max_concurrent=1,
        seed=5,
        epoch_budget=5,
    )
    runs = trials(outcome.experiment_path)
    assert not outcome.errors
    reported = sum(len(rows) for rows in runs.values())
    assert reported == outcome.trial_epochs == 5  # one trial at a time: exactly the budget
    assert outcome.budget == "epoch budget"
    assert outcome.compute.trial_epochs == 5 and outcome.compute.wall_s > 0
    assert sorted(len(rows) for rows in runs.values()) == [1, 2, 2]  # FIFO: no early stopping
    configs = [rows[0]["config"] for rows in runs.values()]
    assert len({c["lr"] for c in configs}) == 3
    assert all(c["seed"] == 5 and c["optimizer"] == "adam" for c in configs)


def test_confirm_retrains_the_top_configurations_with_new_seeds(asha_experiment, tmp_path):
    import shutil

    import numpy as np
    from scipy import stats

    from tune_cifar.analysis import load_experiment, write_plots, write_report
    from tune_cifar.results import evaluate_checkpoint, read_confirmation
    from tune_cifar.tuning import run_confirmation
    from tune_cifar.tuning._confirm import top_configs

    folder = tmp_path / "asha"
    shutil.copytree(asha_experiment.experiment_path, folder)
    result = run_confirmation(folder, top=2, seeds=2)
    chosen = top_configs(folder, 2)
    runs = result.runs
    assert len(runs) == 4 and sorted(set(runs["seed"])) == [1, 2]  # the search used seed 0
    assert list(result.summary["source_trial"]) == [trial_id for trial_id, _, _ in chosen]
    one = runs.iloc[0]
    assert one["test_acc"] == pytest.approx(
        evaluate_checkpoint(Path(one["checkpoint"]), split="test").accuracy
    )
    for row in result.summary.itertuples():
        accs = runs.loc[runs["rank"] == row.rank, "test_acc"].to_numpy()
        half = stats.t.ppf(0.975, 1) * accs.std(ddof=1) / np.sqrt(2)
        assert row.test_acc_mean == pytest.approx(accs.mean())
        assert row.test_acc_ci95_high == pytest.approx(accs.mean() + half)
    assert read_confirmation(folder).summary.equals(result.summary)
    with pytest.raises(UsageError, match="confirmed before"):
        run_confirmation(folder, top=2, seeds=2)
    exp = load_experiment(folder)
    plots = write_plots(exp, tmp_path / "analysis")
    md, _ = write_report(exp, plots, tmp_path / "analysis")
    assert "confirmation" in plots and "## Confirmation over seeds" in md.read_text()
