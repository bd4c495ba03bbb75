"""Reading an experiment folder without Ray: the best trial and its checkpoint."""

import json
from pathlib import Path

import pytest

from tune_cifar.analysis import load_experiment
from tune_cifar.constants import SPEC_FILE
from tune_cifar.results import best_trial, resolve_checkpoint


@pytest.fixture()
def tied(tmp_path: Path, write_trial) -> Path:
    """Every epoch of trial a scores the same; retention kept only the newest two."""
    (tmp_path / SPEC_FILE).write_text(
        json.dumps(
            {
                "options": {"max_epochs": 4, "scheduler": "fifo"},
                "data": {},
                "space": {"name": "x", "source": "x"},
                "created": "now",
            }
        )
    )
    write_trial(tmp_path, "a", [0.5, 0.5, 0.5, 0.5], kept=[3, 4])
    write_trial(tmp_path, "b", [0.3, 0.4, 0.45, 0.2], kept=[3, 4])
    return tmp_path


def test_tied_epochs_name_one_whose_checkpoint_was_kept(tied):
    best = best_trial(tied)
    assert (best.trial_id, best.value, best.epoch) == ("a", 0.5, 4)
    assert best.checkpoint == tied / "trial_a" / "checkpoint_000003"
    assert "(none kept)" not in best.summary()
    assert resolve_checkpoint(tied) == best.checkpoint
    trials = load_experiment(tied).trials.set_index("trial_id")
    assert trials.loc["a", "best_epoch"] == 4
    assert trials.loc["a", "best_checkpoint"] == str(best.checkpoint)
    assert trials.loc["b", "best_epoch"] == 3 and trials.loc["b", "best_val_acc"] == 0.45


def test_the_best_score_among_kept_checkpoints(tied, write_trial):
    write_trial(tied, "c", [0.9, 0.1], kept=[])  # no checkpoint left at all
    write_trial(tied, "d", [0.2, 0.55, 0.1], kept=[3])  # the 0.55 epoch was not kept
    best = best_trial(tied)
    assert best.trial_id == "a" and best.checkpoint.is_dir()
    last = best_trial(tied, scope="last")
    assert last.checkpoint is not None and last.checkpoint.is_dir()


def test_the_running_leader_matches_a_full_scan_after_every_report():
    """RunningBest keeps its leader as reports arrive (the live view asks at every line of
    a 10,000-trial search); after each report, checkpointed or not, and each ended trial, it
    names what a scan of every trial's best would name, ties by first-seen trial."""
    import random

    from tune_cifar.results import RunningBest

    rng = random.Random(0)
    running = RunningBest("val_acc")
    best: dict[str, tuple[tuple[bool, float], float]] = {}
    for _ in range(3000):
        trial = f"t{rng.randrange(40)}"
        if rng.random() < 0.05:
            running.pop(trial)
            best.pop(trial, None)
        else:
            value = rng.choice([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])  # many ties
            checkpointed = rng.random() < 0.5
            running.add(trial, {"val_acc": value}, checkpointed=checkpointed)
            rank = (checkpointed, value)
            if trial not in best or rank >= best[trial][0]:
                best[trial] = (rank, value)
        expected = max(best, key=lambda t: best[t][1]) if best else None
        found = running.leader()
        assert (found[0] if found else None) == expected
        assert found is None or found[1] == best[expected][1]


def test_a_result_file_that_lost_epochs_is_not_trusted_over_a_whole_progress_file(
    tmp_path, write_trial
):
    """Issue #31: after a PBT restart Tune once began a trial's result.json from a partial
    copy (epochs 1-4 gone) while progress.csv kept every row; the reader takes the whole one,
    and keeps result.json where no file holds more."""
    import pandas as pd

    from tune_cifar.results import load_trial

    trial_dir = write_trial(tmp_path, "a", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], kept=[6])
    result = trial_dir / "result.json"
    lines = result.read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    progress = pd.json_normalize(rows, sep="/")
    progress.to_csv(trial_dir / "progress.csv", index=False)
    result.write_text("\n".join(lines[4:]) + "\n")  # began at epoch 5
    trial = load_trial(trial_dir)
    assert [int(r["training_iteration"]) for r in trial.epochs] == [1, 2, 3, 4, 5, 6]
    assert [r["val_acc"] for r in trial.epochs] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert trial.config == {"lr": 0.001}
    progress.iloc[2:].to_csv(trial_dir / "progress.csv", index=False)  # no whole file: as read
    assert [int(r["training_iteration"]) for r in load_trial(trial_dir).epochs] == [5, 6]
    # epochs 5-6 lost at the end: every epoch from 1 on, but the checkpoint saved at epoch 6
    # is named by no row, so the whole progress.csv is read
    kept = rows[-1]["checkpoint_dir_name"]
    assert (trial_dir / kept).is_dir() and not (trial_dir / rows[3]["checkpoint_dir_name"]).exists()
    result.write_text("\n".join(lines[:4]) + "\n")
    progress.to_csv(trial_dir / "progress.csv", index=False)
    assert [int(r["training_iteration"]) for r in load_trial(trial_dir).epochs] == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    progress.iloc[:5].to_csv(trial_dir / "progress.csv", index=False)  # short too: as read
    assert len(load_trial(trial_dir).epochs) == 4
