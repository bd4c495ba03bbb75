"""Nothing lost: a killed driver, a killed trial process, errors, NaNs and a full disk (a lost
node: test_object_storage, a cluster of `ray start` nodes).

Each test runs real searches on synthetic data; trials train with one thread from a fixed
seed, so an interrupted search can be compared epoch for epoch with the same trials trained
here in one go.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import optuna
import pytest
from scenarios import (
    DATA,
    DATA_FLAGS,
    GRID_SPACE,
    cli,
    histories,
    rows_of,
    start,
    trained_straight,
    trial_dirs,
    wait_for,
)

from tune_cifar.analysis import load_experiment
from tune_cifar.cli import main
from tune_cifar.data import DataSpec, load_data
from tune_cifar.errors import TuneCifarError
from tune_cifar.results import open_journal
from tune_cifar.tuning import SearchOptions, raise_if_all_failed, run_search

pytestmark = pytest.mark.slow

EPOCHS = 10  # per trial of the killed search: 40 in all, a few done when it is killed, most
# still to do when its resume is stopped (an epoch of 300 images at width 0.25 takes about
# 0.2 s here, with one thread)


@pytest.fixture()
def grid_space(tmp_path: Path) -> Path:
    path = tmp_path / "grid.py"
    path.write_text(GRID_SPACE)
    return path


def test_a_killed_then_stopped_search_resumes_to_the_same_histories(
    tmp_path, grid_space, shared_ray, capsys
):
    """A search killed outright (SIGKILL to its process group), its resume stopped by
    ``kill PID`` (SIGTERM, which stops a search as Ctrl-C does: one line with the resume
    command, exit 130, though the search has a time budget), and a second resume to the end
    (here, with the session's Ray: the two before ran as processes of their own): every
    trial's history is what the same trials trained in one go give, epoch for epoch."""
    killed = tmp_path / "killed"
    proc = start(
        cli(
            "search",
            "--space",
            str(grid_space),
            "--search",
            "grid",
            "--scheduler",
            "fifo",
            "--max-epochs",
            str(EPOCHS),
            "--max-concurrent",
            "2",
            "--storage-path",
            str(tmp_path),
            "--name",
            "killed",
            "--time-budget",
            "3600",
            *DATA_FLAGS,
        ),
        tmp_path / "killed.log",
    )

    def epochs() -> int:
        return sum(len(rows_of(d)) for d in trial_dirs(killed))

    def state_saved_since(moment: float) -> bool:  # Tune saves its state every 2 s
        return any(p.stat().st_mtime > moment for p in killed.glob("experiment_state-*.json"))

    wait_for(lambda: epochs() >= 5, 300, "five reported epochs")
    fifth = time.time()
    wait_for(lambda: state_saved_since(fifth), 30, "a save of Tune's state after them")
    had_checkpoint = {d.name for d in trial_dirs(killed) if list(d.glob("checkpoint_*"))}
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert had_checkpoint

    before = epochs()
    proc = subprocess.Popen(
        cli("resume", str(killed)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    wait_for(lambda: epochs() >= before + 1, 300, "a new epoch")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "resuming killed" in out
    assert f"Continue with: tune-cifar resume {killed}" in err, err[-3000:]
    assert "Traceback" not in err and "time budget" not in err, err[-6000:]

    capsys.readouterr()
    assert main(["resume", str(killed)]) == 0, capsys.readouterr().err[-2000:]

    assert histories(killed) == trained_straight(killed, EPOCHS)
    # The Optuna journal went on in the same study: each trial once, every epoch in it.
    study = optuna.load_study(study_name="killed", storage=open_journal(killed))
    assert len(study.trials) == 4
    for trial in study.trials:
        assert trial.state == optuna.trial.TrialState.COMPLETE
        assert sorted(trial.intermediate_values) == list(range(1, EPOCHS + 1))
    for name in had_checkpoint:
        epochs_run = [r["training_iteration"] for r in rows_of(killed / name)]
        assert epochs_run.count(1) == 1, f"{name} started again from epoch 1: {epochs_run}"
    # Retention across the restarts deleted no checkpoint a trial keeps (its own or another's):
    # each keeps its latest and the best by val_acc (2 kept by default, plus the latest).
    for trial_dir in trial_dirs(killed):
        val_acc = {r["training_iteration"]: r["val_acc"] for r in rows_of(trial_dir)}
        kept = {int(p.name.removeprefix("checkpoint_")) + 1 for p in trial_dir.glob("checkpoint_*")}
        assert EPOCHS in kept and len(kept) <= 3, (trial_dir.name, kept)
        assert max(val_acc[e] for e in kept) == max(val_acc.values()), trial_dir.name


def test_a_killed_trial_process_resumes_from_its_checkpoint(tmp_path, grid_space, shared_ray):
    exp = tmp_path / "exp"
    killed: list[Path] = []

    # Tune copies a trial's results into the experiment every 2 s or so, several epochs at
    # once: trials long enough that the one seen at 2 epochs is still training when killed
    # (at 5 epochs it had sometimes ended, and its process, reused, ran another trial).
    epochs = 30

    def kill_a_trial_process() -> None:  # beside the search, as the OOM killer would
        wait_for(lambda: any(len(rows_of(d)) >= 2 for d in trial_dirs(exp)), 300, "two epochs")
        victim = next(d for d in trial_dirs(exp) if len(rows_of(d)) >= 2)
        os.kill(rows_of(victim)[-1]["pid"], signal.SIGKILL)
        killed.append(victim)

    killer = threading.Thread(target=kill_a_trial_process, daemon=True)
    killer.start()
    opts = SearchOptions(
        space=str(grid_space),
        search="grid",
        scheduler="fifo",
        max_epochs=epochs,
        max_concurrent=2,
        max_failures=2,
        storage_path=str(tmp_path),
        name="exp",
        progress_interval=60,
    )
    outcome = run_search(opts, DATA, argv=["test"])
    killer.join(timeout=10)
    assert killed and not outcome.errors

    rows = rows_of(killed[0])
    assert rows[0]["pid"] != os.getpid()  # the trial ran in a process of its own
    reported = [r["training_iteration"] for r in rows]
    assert reported.count(1) == 1 and sorted(set(reported)) == list(range(1, epochs + 1))
    restarts = [
        r for r in rows if r["iterations_since_restore"] == 1 and r["training_iteration"] > 1
    ]
    assert restarts, "the trial did not continue from a checkpoint"
    assert load_experiment(exp).trials["status"].eq("done").all()


def test_errored_trials_are_reported_and_the_search_goes_on(tmp_path, shared_ray):
    bundle = load_data(DataSpec(source="synthetic", train_subset=200, val_size=100))
    bundle.training.val_y = np.full_like(bundle.training.val_y, 10)  # no such class: raises
    opts = SearchOptions(
        space="quick",
        num_samples=2,
        max_epochs=2,
        max_failures=0,
        storage_path=str(tmp_path),
        name="err",
        progress_interval=60,
    )
    outcome = run_search(opts, DataSpec(source="synthetic"), argv=["test"], bundle=bundle)
    assert outcome.num_trials == 2 and len(outcome.errors) == 2  # every trial ran, none hidden
    assert all("out of bounds" in e for e in outcome.errors)
    with pytest.raises(TuneCifarError, match="finished without a result"):
        raise_if_all_failed(outcome)


def test_a_diverging_trial_is_stopped_and_marked(tmp_path, shared_ray):
    space = tmp_path / "nan.py"
    space.write_text(
        'from ray import tune\nDESCRIPTION = "x"\nSPACE = {"model": "cnn_v2", '
        '"width": 0.5, "optimizer": "sgd", "momentum": 0.99, "erase_p": 0.0, '
        '"batch_size": 8, "lr": tune.grid_search([0.01, 10.0])}\n'
    )
    bundle = load_data(DataSpec(source="synthetic", train_subset=300, val_size=100))
    opts = SearchOptions(
        space=str(space),
        search="grid",
        scheduler="fifo",
        max_epochs=6,
        storage_path=str(tmp_path),
        name="nan",
        progress_interval=60,
    )
    outcome = run_search(opts, DataSpec(source="synthetic"), argv=["test"], bundle=bundle)
    assert not outcome.errors
    trials = load_experiment(outcome.experiment_path).trials.set_index("config.lr")
    assert trials.loc[10.0, "status"] == "diverged" and trials.loc[10.0, "epochs_run"] < 6
    assert trials.loc[0.01, "status"] == "done"


@pytest.fixture()
def small_disk(tmp_path: Path):
    """A 72 MiB file system of its own (tmpfs), so that a search can fill it."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=72m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_full_storage_stops_the_search_in_order_and_resume_loses_nothing(
    small_disk, grid_space, shared_ray, capsys
):
    """Another program fills the disk mid-search: the search stops in order (a few lines, the
    storage path, the cause, the resume command, exit 1); once space is freed, the resume
    finishes every trial from its last complete checkpoints, epoch for epoch as in one go."""
    exp, filler = small_disk / "full", small_disk / "filler"

    def fill_the_disk() -> None:
        wait_for(lambda: sum(len(rows_of(d)) for d in trial_dirs(exp)) >= 3, 300, "3 epochs")
        with filler.open("wb") as f:
            try:
                while True:
                    f.write(b"\0" * 2**20)
                    f.flush()
            except OSError:  # ENOSPC: the disk is full
                pass

    thread = threading.Thread(target=fill_the_disk, daemon=True)
    thread.start()
    code = main(
        [
            "search",
            "--space",
            str(grid_space),
            "--search",
            "grid",
            "--scheduler",
            "fifo",
            "--max-epochs",
            "5",
            "--max-concurrent",
            "2",
            "--storage-path",
            str(small_disk),
            "--name",
            "full",
            "--progress-interval",
            "600",
            *DATA_FLAGS,
        ]
    )
    thread.join(timeout=10)
    err = capsys.readouterr().err
    assert code == 1, err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 6, err
    assert (
        f"search stopped: the storage at {small_disk} is full" in err
        and f"then continue with: tune-cifar resume {exp}" in err
    ), err
    assert not any(rows[-1].get("done") for rows in map(rows_of, trial_dirs(exp)) if rows)

    filler.unlink()
    assert main(["resume", str(exp)]) == 0, capsys.readouterr().err
    assert histories(exp) == trained_straight(exp, 5)
    study = optuna.load_study(study_name="full", storage=open_journal(exp))
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 4
    assert all(sorted(t.intermediate_values) == list(range(1, 6)) for t in study.trials)
