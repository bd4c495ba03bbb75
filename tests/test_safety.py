"""Nothing lost, nothing run: what tune-cifar replaces, who may write an experiment, what
reading results may do, and results that mean what they say."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from tune_cifar.analysis import load_experiment
from tune_cifar.cli import main
from tune_cifar.constants import JOURNAL_FILE, LOCK_FILE, SPEC_FILE
from tune_cifar.errors import UsageError
from tune_cifar.results import best_trial, build_journal, open_journal
from tune_cifar.storage import ExperimentLock
from tune_cifar.tuning import (
    SearchOptions,
    build_search,
    load_space,
    planned_trials,
    write_points_space,
)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in folder.rglob("*")
        if p.is_file() and p.name != LOCK_FILE
    }


@pytest.fixture()
def experiment(tmp_path: Path, write_trial) -> Path:
    folder = tmp_path / "results" / "exp"
    folder.mkdir(parents=True)
    (folder / SPEC_FILE).write_text(
        json.dumps(
            {
                "options": {"max_epochs": 4, "search": "random", "scheduler": "fifo", "seed": 0},
                "data": {"source": "synthetic"},
                "space": {"name": "x", "source": "/gone.py"},
            }
        )
    )
    (folder / "tuner.pkl").write_bytes(b"")  # what Tune.can_restore looks for
    write_trial(folder, "a", [0.2, 0.4, 0.3, 0.35], kept=[2, 4])
    return folder


def test_a_held_experiment_is_refused_to_every_other_writer(experiment, capsys, monkeypatch):
    """While a search (here: this test) holds an experiment, --overwrite, resume and confirm
    are each refused in one line naming the holder, and change nothing."""
    import tune_cifar.tuning._resources

    monkeypatch.setattr(
        tune_cifar.tuning._resources, "start_ray", lambda *a: pytest.fail("Ray started")
    )
    before = snapshot(experiment)
    lock = ExperimentLock(experiment, "search")
    try:
        for args in (
            [
                "search",
                "--data",
                "synthetic",
                "--space",
                "quick",
                "--storage-path",
                str(experiment.parent),
                "--name",
                "exp",
                "--overwrite",
            ],
            ["resume", str(experiment)],
            ["confirm", str(experiment)],
        ):
            assert main(args) == 2, args
            err = capsys.readouterr().err.strip()
            assert len(err.splitlines()) == 1, err
            assert (
                f"experiment {experiment} is in use by a search (process {os.getpid()} "
                f"on host {socket.gethostname()}, since "
            ) in err, err
    finally:
        lock.release()
    assert snapshot(experiment) == before
    ExperimentLock(experiment, "search").release()  # free again once released


@pytest.mark.slow
def test_a_holder_that_died_blocks_nobody(experiment):
    """A holder killed outright (SIGKILL: no clean-up runs) leaves its lock file behind, but
    the operating system released its lock: the next writer gets it at once."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\nfrom tune_cifar.storage import ExperimentLock\n"
            "held = ExperimentLock(sys.argv[1], 'search')\nprint('held', flush=True)\n"
            "time.sleep(600)\n",
            str(experiment),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UsageError, match=f"in use by a search \\(process {holder.pid} "):
            ExperimentLock(experiment, "resume")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (experiment / LOCK_FILE).is_file()
    ExperimentLock(experiment, "resume").release()


def test_confirm_passes_its_configurations_as_data(tmp_path):
    """An experiment name with quotes and code in it is only ever data in confirm's space."""
    name = 'it\'s """; open("pwned", "w")  # \\'
    points = [{"lr": 0.01, "seed": 1}, {"lr": 0.02, "seed": 2}]
    path = tmp_path / "confirm_space.json"
    write_points_space(path, tmp_path / name, points, 2, [1, 2])
    space = load_space(str(path))
    assert space.points == points and name in space.description
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_repeats_of_fixed_configurations_and_grids_are_new_seeds():
    points = load_space("seed_study")
    _, param_space, num_samples = build_search(
        SearchOptions(space="seed_study", num_samples=2, seed=5), points
    )
    assert planned_trials(param_space, num_samples) == 12
    search_alg, _, _ = build_search(
        SearchOptions(space="seed_study", num_samples=2, seed=5), points
    )
    configs = search_alg._points_to_evaluate  # the configurations Tune will run, in order
    assert [c["seed"] for c in configs] == [5] * 6 + [6] * 6
    assert [c["model"] for c in configs[:6]] == [c["model"] for c in configs[6:]]

    quick = load_space("quick")  # 2 x 2 x 2 discrete choices (lr is a range: fixed here)
    grid = type(quick)(
        quick.name, quick.description, quick.source, params={**quick.params, "lr": 0.001}
    )
    _, param_space, num_samples = build_search(
        SearchOptions(space="quick", search="grid", num_samples=3), grid
    )
    assert param_space["seed"] == {"grid_search": [0, 1, 2]}
    assert planned_trials(param_space, num_samples) == 8 * 3


def test_one_best_epoch_everywhere_with_checkpoints_every_other_epoch(tmp_path, write_trial):
    """With --checkpoint-every 2 the best epoch (0.7, epoch 1) kept no checkpoint: every
    reader selects the best epoch that did (epoch 4, 0.55), the one that can be restored."""
    (tmp_path / SPEC_FILE).write_text(
        json.dumps(
            {
                "options": {"max_epochs": 4, "search": "random", "scheduler": "fifo"},
                "data": {"source": "synthetic"},
                "space": {"name": "x", "source": "/gone.py"},
            }
        )
    )
    write_trial(tmp_path, "a", [0.7, 0.5, 0.6, 0.55], kept=[2, 4])
    best = best_trial(tmp_path)
    assert (best.value, best.epoch) == (0.55, 4)
    assert best.checkpoint == tmp_path / "trial_a" / "checkpoint_000003"
    row = load_experiment(tmp_path).trials.iloc[0]
    assert (row["best_val_acc"], row["best_epoch"]) == (0.55, 4)
    assert row["best_checkpoint"] == str(best.checkpoint)
    build_journal(tmp_path)
    trial = optuna.load_study(study_name=tmp_path.name, storage=open_journal(tmp_path)).trials[0]
    assert trial.value == 0.55 and trial.user_attrs["best_epoch"] == 4


PLANT = "planted_pickle_ran"


class Planted:
    """Pickles as a call that creates ``marker``: unpickling it runs code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.slow
def test_reading_results_unpickles_nothing(asha_experiment, tmp_path, monkeypatch, capsys):
    """A planted error.pkl in every trial, whose unpickling would create a file: best,
    analyze, evaluate, predict, confirm and the dashboard's journal rebuild read the
    experiment, and no file appears."""
    from PIL import Image

    folder = tmp_path / "exp"
    shutil.copytree(asha_experiment.experiment_path, folder)
    (folder / JOURNAL_FILE).unlink()
    marker = tmp_path / PLANT
    for trial_dir in folder.glob("trial_*"):
        (trial_dir / "error.pkl").write_bytes(pickle.dumps(Planted(marker)))
    image = tmp_path / "cat.png"
    Image.new("RGB", (32, 32), (200, 100, 50)).save(image)
    monkeypatch.chdir(tmp_path)
    for args in (
        ["best", str(folder)],
        ["analyze", str(folder)],
        ["evaluate", str(folder), "--split", "val"],
        ["predict", str(folder), str(image)],
        ["confirm", str(folder), "--top", "1", "--seeds", "1"],
    ):
        assert main(args) == 0, (args, capsys.readouterr().err)
        assert not marker.exists(), args
    from tune_cifar.results._dashboard import prepare_journal

    assert prepare_journal(folder) == (
        folder / JOURNAL_FILE,
        "the experiment predates live journals",
    )
    assert not marker.exists()
    assert (folder / "confirm" / "confirm_summary.csv").is_file()


def test_a_planted_pickle_would_have_run(tmp_path):
    """The plant of the test above works: unpickled, it does create its file."""
    marker = tmp_path / PLANT
    pickle.loads(pickle.dumps(Planted(marker))).close()
    assert marker.exists()


def test_lock_files_are_not_taken_for_trials_or_results(experiment):
    """A lock left in an experiment is invisible to its readers."""
    ExperimentLock(experiment, "search").release()
    assert (experiment / LOCK_FILE).is_file()
    assert [t for t in load_experiment(experiment).trials["trial_id"]] == ["a"]


def test_a_checkpoint_is_deleted_once_the_saved_state_no_longer_names_it(tmp_path, monkeypatch):
    """Tune's retention asks to delete a checkpoint; it goes only once the experiment's saved
    state stops naming it (a driver killed in between resumes from a checkpoint that is
    there), and at the latest when the run ends."""
    import pyarrow.fs
    from ray.train._internal import checkpoint_manager

    from tune_cifar.tuning.ray import _private as ray_private

    monkeypatch.setattr(
        checkpoint_manager, "_delete_fs_path", checkpoint_manager._delete_fs_path
    )  # restored after the test
    monkeypatch.setattr(ray_private, "_pending", [])
    ray_private.defer_checkpoint_deletion()
    fs = pyarrow.fs.LocalFileSystem()
    old, new, other = (tmp_path / "trial_a" / f"checkpoint_00000{i}" for i in (1, 2, 3))
    for folder in (old, new, other):
        folder.mkdir(parents=True)
    state = tmp_path / "experiment_state-2026-12-01_00-00-00.json"
    names = {"trial_a": str(old).encode().hex()}  # as Tune's pickled checkpoint manager has it
    state.write_text(json.dumps(names))

    checkpoint_manager._delete_fs_path(fs=fs, fs_path=str(old))  # retention drops it
    assert old.is_dir()  # the saved state still names it: kept
    checkpoint_manager._delete_fs_path(fs=fs, fs_path=str(other))
    assert not other.exists()  # named nowhere: deleted at once
    state.write_text(json.dumps({"trial_a": str(new).encode().hex()}))  # the next save
    checkpoint_manager._delete_fs_path(fs=fs, fs_path=str(tmp_path / "gone"))  # already gone
    assert not old.exists() and new.is_dir()
    state.write_text('{"trial_a": ')  # a save caught mid-write names everything
    checkpoint_manager._delete_fs_path(fs=fs, fs_path=str(new))
    assert new.is_dir()
    ray_private.delete_unnamed_checkpoints(everything=True)  # the run ended
    assert not new.exists()


def test_checkpoints_a_killed_driver_left_waiting_are_deleted_when_a_run_ends(tmp_path):
    """Deferred deletions die with a SIGKILLed driver; the next run of the experiment deletes
    the checkpoint folders Tune's final state names for no trial, and only for trials whose
    folders it does name (the naming is read right for them)."""
    import pyarrow.fs

    from tune_cifar.tuning.ray import delete_orphan_checkpoints

    experiment = tmp_path / "exp"
    folders = {
        name: experiment / name
        for name in (
            "trial_a/checkpoint_000001",
            "trial_a/checkpoint_000005",
            "trial_a/checkpoint_000006",
            "trial_b/checkpoint_000002",
            "confirm/trial_c/checkpoint_000001",
        )
    }
    for folder in folders.values():
        folder.mkdir(parents=True)
    named = ("trial_a/checkpoint_000005", "trial_a/checkpoint_000006")
    (experiment / "experiment_state-2026-12-01_00-00-00.json").write_text(
        json.dumps([str(folders[n]).encode().hex() for n in named])
    )
    fs = pyarrow.fs.LocalFileSystem()
    assert delete_orphan_checkpoints(fs, str(experiment)) == 1
    assert not folders["trial_a/checkpoint_000001"].exists()
    assert all(
        folders[n].is_dir()
        for n in (*named, "trial_b/checkpoint_000002", "confirm/trial_c/checkpoint_000001")
    )
