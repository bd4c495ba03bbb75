"""Real searches to kill, stop and compare, shared by the resilience tests
(``tests/tuning/test_resilience.py``) and the object-storage ones
(``tests/storage/test_object_storage.py``): a 2 x 2 grid on synthetic data, the command line
as a process of its own, and trial histories read back or trained here in one go."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch

from tune_cifar.analysis import load_experiment
from tune_cifar.config import TrialConfig
from tune_cifar.data import DataSpec, load_data
from tune_cifar.results import load_trials
from tune_cifar.train import Trainer

GRID_SPACE = """
from ray import tune

DESCRIPTION = "2 x 2 grid for resilience tests"
SPACE = {
    "width": 0.25,
    "erase_p": 0.0,
    "optimizer": tune.grid_search(["sgd", "adam"]),
    "batch_size": tune.grid_search([32, 64]),
}
"""


DATA = DataSpec(source="synthetic", train_subset=300, val_size=200)


DATA_FLAGS = ["--data", "synthetic", "--train-subset", "300", "--val-size", "200"]  # = DATA


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tune_cifar.cli", *args]


def start(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        args, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True
    )


def trial_rows(experiment: Path) -> dict[str, list[dict]]:
    """Every trial's result.json rows, by trial id."""
    found = (rows_of(p.parent) for p in sorted(Path(experiment).glob("trial_*/result.json")))
    return {rows[0]["trial_id"]: rows for rows in found if rows}


def rows_of(trial_dir: Path) -> list[dict]:
    path = trial_dir / "result.json"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # being written
            break
    return rows


def trial_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("trial_*") if p.is_dir())


def wait_for(condition, timeout: float, what: str, poll: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def histories(folder: Path) -> dict[tuple, list[tuple]]:
    """Per trial (keyed by its config): every epoch's (epoch, train_loss, val_acc)."""
    exp = load_experiment(folder)
    out = {}
    for _, trial in exp.trials.iterrows():
        key = (trial["config.optimizer"], trial["config.batch_size"])
        rows = exp.epochs[exp.epochs["trial_id"] == trial["trial_id"]].sort_values("epoch")
        out[key] = [
            (int(r.epoch), round(r.train_loss, 6), round(r.val_acc, 6)) for r in rows.itertuples()
        ]
    return out


def trained_straight(folder: Path, epochs: int) -> dict[tuple, list[tuple]]:
    """``histories`` of the same trials trained here in one go, one thread as in a trial."""
    bundle = load_data(DATA)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    out = {}
    try:
        for trial in load_trials(folder):
            trainer = Trainer(TrialConfig.from_dict(trial.config), bundle.training, epochs)
            while not trainer.finished:
                trainer.run_epoch()
            out[(trial.config["optimizer"], trial.config["batch_size"])] = [
                (m["epoch"], round(m["train_loss"], 6), round(m["val_acc"], 6))
                for m in trainer.history
            ]
    finally:
        torch.set_num_threads(threads)
    return out
