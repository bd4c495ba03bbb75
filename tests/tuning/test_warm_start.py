"""Warm starts: which earlier trials and which seed configurations a search starts from."""

from __future__ import annotations

import json

import optuna
import pytest
from ray import tune

from tune_cifar.constants import SPEC_FILE
from tune_cifar.data import DataSpec
from tune_cifar.errors import UsageError
from tune_cifar.tuning import SearchOptions, SearchSpace, build_search, load_space, plan_warm_start
from tune_cifar.tuning.ray import optuna_study

SAMPLE = {"source": "sample", "train_subset": None, "val_size": None, "val_source": "holdout"}


@pytest.fixture()
def earlier(tmp_path, write_trial):
    """A finished search over the quick space, on other data and with 2 epochs per trial."""
    folder = tmp_path / "earlier"
    folder.mkdir()
    (folder / SPEC_FILE).write_text(
        json.dumps(
            {
                "options": {"max_epochs": 2, "search": "optuna", "scheduler": "asha"},
                "data": {**SAMPLE, "source": "synthetic", "train_subset": 400},
                "space": {"name": "quick", "source": "quick"},
            }
        )
    )
    quick = {
        "seed": 0,
        "model": "cnn_v4",
        "optimizer": "adam",
        "lr": 1e-3,
        "batch_size": 32,
        "erase_p": 0.5,
    }
    write_trial(folder, "a", [0.3, 0.5], kept=[2], config=quick)
    write_trial(folder, "b", [0.4, 0.6], kept=[2], config={**quick, "optimizer": "sgd"})
    write_trial(folder, "c", [0.2, 0.7], kept=[2], config={**quick, "lr": 0.1})
    write_trial(folder, "d", [0.9], kept=[1], config=quick, finished=False)  # unfinished
    return folder


def test_finished_trials_of_this_space_are_told_with_their_best_values(earlier):
    opts = SearchOptions(space="quick", search="optuna", max_epochs=4, warm_start=(str(earlier),))
    warm = plan_warm_start(opts, load_space("quick"), SAMPLE)
    assert warm.evaluated == [
        ({"model": "cnn_v4", "lr": 1e-3, "batch_size": 32, "erase_p": 0.5}, 0.5)
    ]  # b: not adam; c: lr out of range
    assert warm.enqueued == []
    assert warm.lines[0] == (
        "warm start: 1 finished trials of earlier told to TPE, 2 skipped (not in this space)"
    )
    assert warm.lines[1].startswith(
        "note: earlier was measured at another fidelity (source "
        "synthetic, here sample, train_subset 400, here default, "
        "up to 2 epochs, not 4)"
    )


SEEDS_SPACE = SearchSpace(
    "seeds",
    "the seed's choices",
    "test",
    params={
        "model": tune.choice(["cnn_v2", "cnn_v4"]),
        "optimizer": tune.choice(["sgd", "adam"]),
        "lr": tune.loguniform(1e-3, 1e-2),
        "momentum": tune.choice([0.0, 0.9]),
        "hflip_p": tune.choice([0.0, 0.5]),
        "erase_p": tune.choice([0.0, 0.5]),
    },
)


def test_the_seed_study_runs_first_where_the_space_holds_it(earlier):
    opts = SearchOptions(search="optuna", warm_start=("seed", str(earlier)))
    warm = plan_warm_start(opts, SEEDS_SPACE, SAMPLE)
    assert [p["model"] for p in warm.enqueued] == [
        "cnn_v2",
        "cnn_v2",
        "cnn_v2",
        "cnn_v4",
        "cnn_v4",
    ]  # CNN_v3 is not in this space
    assert warm.lines[0] == (
        "warm start: the seed study's 6 configurations: 5 in this space "
        "run first, 1 skipped (not in this space)"
    )
    assert warm.evaluated == []  # the quick trials fix weight 1, erase 0.5, hflip 0.5: not here

    searcher, params, _ = build_search(opts, SEEDS_SPACE, warm)
    assert searcher.set_search_properties("val_acc", "max", params)  # as Tune hands it over
    waiting = optuna_study(searcher).trials
    assert [t.state for t in waiting] == [optuna.trial.TrialState.WAITING] * 5


def test_told_trials_are_complete_in_the_study_before_the_first_suggestion(earlier):
    opts = SearchOptions(space="quick", search="optuna", warm_start=(str(earlier),))
    quick = load_space("quick")
    searcher, params, _ = build_search(opts, quick, plan_warm_start(opts, quick, SAMPLE))
    assert searcher.set_search_properties("val_acc", "max", params)
    (told,) = optuna_study(searcher).trials
    assert told.state == optuna.trial.TrialState.COMPLETE and told.value == 0.5
    assert told.params["lr"] == 1e-3


def test_a_warm_start_needs_optuna_and_a_space_to_search():
    with pytest.raises(UsageError, match="--warm-start needs --search optuna"):
        SearchOptions(search="random", warm_start=("seed",)).check()
    with pytest.raises(UsageError, match="fixed list of configurations"):
        plan_warm_start(
            SearchOptions(search="optuna", warm_start=("seed",)),
            load_space("seed_study"),
            DataSpec().__dict__,
        )
