"""Real Ray Tune searches on small real images (the shipped sample, 300 train / 200 val)."""

import json
import time
from pathlib import Path

import pytest

from tune_cifar.data import DataSpec
from tune_cifar.errors import UsageError
from tune_cifar.experiment import SPEC_FILE, read_spec
from tune_cifar.tuner import SearchOptions, run_search

pytestmark = pytest.mark.slow
SAMPLE = DataSpec(source="sample", train_subset=300)


def search(tmp_path: Path, bundle, **options):
    opts = SearchOptions(storage_path=str(tmp_path), name="exp", progress_interval_s=60,
                         **options)
    return run_search(opts, SAMPLE, argv=["test"], bundle=bundle)


def trials(folder: Path) -> dict[str, list[dict]]:
    """Each trial's rows as Tune wrote them to its result.json (read here without Ray)."""
    return {d.parent.name: [json.loads(line) for line in d.read_text().splitlines()]
            for d in sorted(folder.glob("*/result.json"))}


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
    best_value = max(r["val_acc"] for rows in runs.values() for r in rows)
    assert outcome.best.value == best_value
    state = outcome.best.checkpoint / "state.pt"
    assert state.is_file()
    spec = read_spec(outcome.experiment_path)
    assert spec["space"]["name"] == "asha_space" and spec["options"]["max_epochs"] == 4
    assert spec["data"]["source"] == "synthetic" and "ray" in spec["versions"]


def test_optuna_search_runs_seeded_tpe(tmp_path, sample_bundle):
    outcome = search(tmp_path, sample_bundle, space="quick", search="optuna", scheduler="fifo",
                     num_samples=4, max_epochs=2, max_concurrent=2, seed=5)
    runs = trials(outcome.experiment_path)
    assert len(runs) == 4 and not outcome.errors
    configs = [rows[0]["config"] for rows in runs.values()]
    assert len({c["lr"] for c in configs}) == 4
    assert all(c["seed"] == 5 and c["optimizer"] == "adam" for c in configs)
    assert all(len(rows) == 2 for rows in runs.values())  # FIFO: no early stopping


def test_grid_search_runs_every_combination(tmp_path, sample_bundle):
    space = tmp_path / "tiny_grid.py"
    space.write_text('from ray import tune\nDESCRIPTION = "2x2"\nSPACE = {"width": 0.5, '
                     '"optimizer": tune.choice(["sgd", "adam"]), '
                     '"batch_size": tune.grid_search([50, 100])}\n')
    outcome = search(tmp_path, sample_bundle, space=str(space), search="grid",
                     scheduler="fifo", max_epochs=1)
    combos = {(rows[0]["config"]["optimizer"], rows[0]["config"]["batch_size"])
              for rows in trials(outcome.experiment_path).values()}
    assert combos == {("sgd", 50), ("sgd", 100), ("adam", 50), ("adam", 100)}


def test_unsatisfiable_resources_fail_before_any_trial(tmp_path, sample_bundle):
    for options, message in [
        ({"gpus_per_trial": 1.0}, "--gpus-per-trial 1 cannot be met: the Ray cluster has no"),
        ({"cpus_per_trial": 64}, "--cpus-per-trial 64 is more than any node has"),
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


def test_time_budget_ends_the_search_and_keeps_what_was_trained(tmp_path, sample_bundle):
    start = time.monotonic()
    outcome = search(tmp_path, sample_bundle, space="quick", scheduler="fifo", num_samples=2,
                     max_epochs=200, time_budget=15)
    assert time.monotonic() - start < 90
    assert outcome.unfinished == 2 and outcome.best is not None
    assert 1 <= outcome.best.epochs_run < 200


def test_seed_study_runs_the_six_fixed_configurations(tmp_path, synthetic_bundle):
    outcome = search(tmp_path, synthetic_bundle, space="seed_study", scheduler="fifo",
                     max_epochs=1)
    runs = [rows[0]["config"] for rows in trials(outcome.experiment_path).values()]
    got = sorted((c["model"], c["optimizer"], c["momentum"], c["erase_p"], c["batch_norm"],
                  c["dropout1"]) for c in runs)
    assert got == sorted([
        ("cnn_v2", "sgd", 0.0, 0.0, False, 0.0), ("cnn_v2", "sgd", 0.9, 0.0, False, 0.0),
        ("cnn_v2", "adam", 0.9, 0.0, False, 0.0), ("cnn_v3", "adam", 0.9, 0.0, False, 0.2),
        ("cnn_v4", "adam", 0.9, 0.0, True, 0.2), ("cnn_v4", "adam", 0.9, 0.5, True, 0.2)])


def test_an_address_where_no_cluster_answers_fails_fast(tmp_path, sample_bundle):
    """Nothing listening, and a port that accepts but never speaks Ray: one line each, within
    about 15 s (Ray alone retries for minutes)."""
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        free_port = closed.getsockname()[1]
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    try:
        for port, message in [(free_port, "Connection refused"),
                              (silent.getsockname()[1], "no Ray cluster answered within 15 s")]:
            start = time.monotonic()
            with pytest.raises(UsageError, match=f"cannot join the Ray cluster at "
                                                 f"127.0.0.1:{port}: {message}"):
                search(tmp_path, sample_bundle, space="quick", address=f"127.0.0.1:{port}")
            assert time.monotonic() - start < 25
            assert not (tmp_path / "exp").exists()
    finally:
        silent.close()
