"""Multi-objective search: val_acc and a cost at once, the Pareto front read back."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from tune_cifar.analysis import pareto_front
from tune_cifar.metrics import DONE, STOPPED_EARLY
from tune_cifar.tuning import SearchOptions, build_search, load_space
from tune_cifar.tuning.ray import optuna_study


def test_the_front_holds_the_trials_nothing_beats_on_both():
    trials = pd.DataFrame(
        {
            "trial_id": list("abcdefg"),
            "status": [DONE, DONE, DONE, DONE, DONE, STOPPED_EARLY, DONE],
            "best_val_acc": [0.50, 0.60, 0.55, 0.70, 0.70, 0.99, np.nan],
            "cost.params": [100, 200, 300, 400, 500, 50, 10],
        }
    )
    front = pareto_front(trials, "cost.params")
    # c (0.55 at 300) is beaten by b (0.60 at 200); e ties d's val_acc at a higher cost; f was
    # stopped early; g has no val_acc
    assert list(front["trial_id"]) == ["a", "b", "d"]


@pytest.mark.parametrize(
    ("objective", "message"),
    [
        (("val_acc", "size"), r"--objective must be val_acc or val_acc,COST"),
        (("params",), r"--objective must be val_acc"),
        (("val_acc", "params", "epoch_time"), r"--objective must be"),
    ],
)
def test_a_bad_objective_is_one_line(objective, message):
    from tune_cifar.errors import UsageError

    with pytest.raises(UsageError, match=message):
        SearchOptions(objective=objective).check()


SPACE = """
from ray import tune

DESCRIPTION = "multi-objective test: two widths, a learning rate"
SPACE = {"model": "cnn_v2", "width": tune.choice([0.25, 0.5]), "optimizer": "adam",
         "batch_size": 50, "hflip_p": 0.0, "erase_p": 0.0, "lr": tune.loguniform(3e-4, 3e-3)}
"""


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """Optuna's multi-objective TPE over (val_acc, params) with ASHA, on synthetic images."""
    from tests.conftest import SYNTHETIC
    from tune_cifar.data import load_data
    from tune_cifar.tuning import run_search

    folder = tmp_path_factory.mktemp("objectives")
    (folder / "space.py").write_text(SPACE)
    opts = SearchOptions(
        space=str(folder / "space.py"),
        search="optuna",
        num_samples=6,
        max_epochs=3,
        grace_period=1,
        reduction_factor=2,
        objective=("val_acc", "params"),
        progress_interval=60,
        storage_path=str(folder),
        name="mo",
    )
    run_search(opts, SYNTHETIC, argv=["test"], bundle=load_data(SYNTHETIC))
    return folder / "mo"


@pytest.mark.slow
def test_the_journal_holds_both_objectives_and_optuna_agrees_on_the_front(experiment):
    from tune_cifar.analysis import load_experiment
    from tune_cifar.results import open_journal

    study = optuna.load_study(study_name="mo", storage=open_journal(experiment))
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert study.metric_names == ["val_acc", "params"]
    exp = load_experiment(experiment)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert complete, "no trial ran every epoch"
    by_id = exp.trials.set_index("trial_id")
    for trial in complete:  # (best epoch's val_acc, the model's parameter count)
        row = by_id.loc[trial.user_attrs["tune_trial_id"]]
        assert trial.values == pytest.approx([row["best_val_acc"], row["cost.params"]])
    widths = {w: by_id[by_id["config.width"] == w]["cost.params"].unique() for w in (0.25, 0.5)}
    assert all(len(v) <= 1 for v in widths.values())  # one parameter count per width
    optuna_front = {t.user_attrs["tune_trial_id"] for t in study.best_trials}
    assert optuna_front == set(pareto_front(exp.trials, "cost.params")["trial_id"])


@pytest.mark.slow
def test_best_lists_the_front_and_analyze_draws_it(experiment, capsys):
    from tune_cifar.cli import main

    assert main(["best", str(experiment)]) == 0
    out = capsys.readouterr().out
    assert "Pareto front (val_acc up, parameters down; trials that ran every epoch):" in out
    assert main(["analyze", str(experiment)]) == 0
    assert (experiment / "analysis" / "pareto.png").stat().st_size > 10_000
    report = (experiment / "analysis" / "report.md").read_text()
    assert "## Accuracy and parameters: the Pareto front" in report


def test_the_searcher_keeps_both_objectives_when_tune_hands_it_one_metric():
    """Tune passes its own metric (val_acc, ASHA's) to the searcher with the space; the study
    behind Ray's OptunaSearch must still have two objectives."""
    opts = SearchOptions(space="quick", search="optuna", objective=("val_acc", "epoch_time"))
    searcher, param_space, _ = build_search(opts, load_space("quick"))
    assert searcher.set_search_properties("val_acc", "max", param_space)
    study = optuna_study(searcher)
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    assert searcher.metric == ["val_acc", "epoch_time_s"]
