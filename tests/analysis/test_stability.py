"""When could early stopping be trusted: the rank correlation of each epoch with the final
ranking, on hand-made trials whose ranking reverses and then settles."""

from __future__ import annotations

import json

import pytest

from tune_cifar.analysis import load_experiment, rank_stability, write_plots, write_report
from tune_cifar.constants import SPEC_FILE


@pytest.fixture()
def settling(tmp_path, write_trial):
    """Four trials that ran all 4 epochs, ranked backwards after epoch 1 and in their final
    order from epoch 3 on, and one that ASHA stopped at its first rung."""
    (tmp_path / SPEC_FILE).write_text(
        json.dumps(
            {
                "options": {
                    "max_epochs": 4,
                    "search": "random",
                    "scheduler": "asha",
                    "grace_period": 1,
                    "reduction_factor": 2,
                },
                "data": {"source": "synthetic", "val_source": "holdout", "train_subset": None},
                "space": {"name": "x", "source": "/gone.py", "description": "hand-made"},
                "created": "now",
            }
        )
    )
    runs = {
        "a": [0.1, 0.2, 0.5, 0.6],
        "b": [0.2, 0.3, 0.4, 0.5],
        "c": [0.3, 0.35, 0.3, 0.4],
        "d": [0.35, 0.2, 0.2, 0.3],
    }
    for name, accs in runs.items():
        write_trial(tmp_path, name, accs, kept=[1, 2, 3, 4])
    write_trial(tmp_path, "e", [0.05], kept=[1])  # stopped early: no final value
    return tmp_path


def test_the_ranking_settles_after_the_first_rung(settling):
    stability = rank_stability(load_experiment(settling))
    assert stability.trials == 4 and stability.epochs == [1, 2, 3, 4]
    assert stability.rho[0] == pytest.approx(-1.0) and stability.rho[2:] == [1.0, 1.0]
    assert stability.rho[1] < 0.8 and stability.stable_from == 3
    assert stability.summary() == (
        "rank stability (4 trials that ran every epoch): Spearman with the final ranking "
        "-1.00 after epoch 1; at 0.8 or above from epoch 3 on; ASHA's grace period was 1: its "
        "first rung judged trials by a ranking that had not settled"
    )


def test_the_report_and_a_plot_say_it(settling, tmp_path):
    exp = load_experiment(settling)
    plots = write_plots(exp, tmp_path / "out")
    assert plots["rank_stability"].read_bytes().startswith(b"\x89PNG")
    md, _ = write_report(exp, plots, tmp_path / "out")
    text = md.read_text()
    assert "## When could early stopping be trusted?" in text
    assert "at 0.8 or above from epoch 3 on" in text


def test_too_few_finished_trials_give_no_ranking(settling):
    for name in ("c", "d"):
        (settling / f"trial_{name}" / "result.json").unlink()
    assert rank_stability(load_experiment(settling)) is None
