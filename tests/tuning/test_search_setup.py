"""Building a search without running it (no Ray started): the search algorithm and param space
for each kind of space, the trial scheduler, resource checks against described nodes, the
epoch budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter
from ray.tune.search.sample import Categorical

from tune_cifar.constants import FULL_BUDGET, SPEC_FILE
from tune_cifar.errors import UsageError
from tune_cifar.tuning import (
    SearchOptions,
    build_search,
    build_trial_scheduler,
    load_space,
    planned_trials,
)
from tune_cifar.tuning._optuna import AshaAwareOptunaSearch
from tune_cifar.tuning._resources import check_resources
from tune_cifar.tuning._run_config import EpochBudget


def test_random_search_samples_the_space_with_the_search_seed():
    algorithm, params, samples = build_search(
        SearchOptions(space="quick", seed=3), load_space("quick")
    )
    assert isinstance(algorithm, BasicVariantGenerator) and samples == 8
    assert params["seed"] == 3 and isinstance(params["model"], Categorical)
    assert planned_trials(params, samples) == 8


def test_grid_search_crosses_every_choice_and_refuses_ranges():
    space = load_space("optimizers")
    with pytest.raises(UsageError, match="--search grid needs discrete values"):
        build_search(SearchOptions(space="optimizers", search="grid"), space)
    choices = type(space)(
        "c", "d", "s", params={"model": load_space("quick").params["model"], "batch_size": 64}
    )
    _, params, samples = build_search(SearchOptions(search="grid"), choices)
    assert params["model"] == {"grid_search": ["cnn_v2", "cnn_v4"]}
    assert planned_trials(params, samples) == 2


def test_optuna_search_gets_the_sampled_space_and_a_limiter_when_asked():
    quick = load_space("quick")
    algorithm, params, samples = build_search(SearchOptions(search="optuna", max_epochs=5), quick)
    assert isinstance(algorithm, AshaAwareOptunaSearch) and algorithm.max_epochs == 5
    assert samples == 8 and isinstance(params["lr"], type(quick.params["lr"]))
    limited, _, _ = build_search(SearchOptions(search="optuna", max_concurrent=2), quick)
    assert isinstance(limited, ConcurrencyLimiter) and limited.max_concurrent == 2
    with pytest.raises(UsageError, match="fixed list of configurations"):
        build_search(SearchOptions(search="optuna"), load_space("seed_study"))


@pytest.mark.parametrize(
    ("options", "random_first"),
    [
        ({}, 4),  # the default 8 trials: half of them, not Optuna's 10 (which is all 8)
        ({"num_samples": 19}, 9),
        ({"num_samples": 20}, 10),
        ({"num_samples": 500}, 10),
        ({"num_samples": 1}, 1),
        ({"num_samples": 500, "startup_trials": 3}, 3),
    ],
)
def test_tpe_models_the_results_after_its_random_first_trials(options, random_first):
    algorithm, _, _ = build_search(SearchOptions(search="optuna", **options), load_space("quick"))
    assert algorithm._sampler._n_startup_trials == random_first


CONTINUE = TrialScheduler.CONTINUE


def test_the_trial_scheduler():
    quick = load_space("quick")
    asha = build_trial_scheduler(
        SearchOptions(scheduler="asha", max_epochs=9, grace_period=2, reduction_factor=3), quick
    )
    assert isinstance(asha, ASHAScheduler)
    assert asha._max_t == 9 and asha._reduction_factor == 3  # rungs at 2 and 6 epochs
    assert isinstance(build_trial_scheduler(SearchOptions(scheduler="fifo"), quick), FIFOScheduler)


def test_rays_asha_trains_a_trial_asked_for_the_full_budget_to_the_end():
    """PriorBand's prior mode (``FULL_BUDGET``) under Ray's ASHA: never stopped at a rung, and
    its value there ranks the trials after it."""
    from ray.tune.experiment import Trial

    asha = build_trial_scheduler(
        SearchOptions(scheduler="asha", max_epochs=9, grace_period=1, reduction_factor=3),
        load_space("quick"),
    )
    asha.set_search_properties("val_acc", "max")
    trials = {
        name: Trial("__fake", trial_id=name, config=config, stub=True)
        for name, config in (("b", {}), ("m", {FULL_BUDGET: True}), ("a", {}))
    }
    for trial in trials.values():
        asha.on_trial_add(None, trial)

    def report(name: str, epoch: int, value: float) -> str:
        return asha.on_trial_result(
            None, trials[name], {"training_iteration": epoch, "val_acc": value}
        )

    assert [report("b", e, v) for e, v in ((1, 0.3), (2, 0.5), (3, 0.9))] == [CONTINUE] * 3
    # m is below b at rung 3 (Ray's ASHA would stop it there): it goes on to the end
    assert [report("m", e, v) for e, v in ((1, 0.9), (2, 0.5), (3, 0.1))] == [CONTINUE] * 3
    assert [report("m", e, 0.1) for e in range(4, 9)] == [CONTINUE] * 5
    # rung 1 holds b (0.3) and m (0.9): a's 0.5 is below the top third's cutoff
    assert report("a", 1, 0.5) == TrialScheduler.STOP and asha._num_stopped == 1


def test_the_default_scheduler_is_the_measured_best_where_it_applies():
    """asha-promote (the search-quality benchmark's best); Ray's ASHA beside TPE and a limit
    on live trials, which asha-promote refuses; a scheduler asked for is kept."""
    assert SearchOptions().scheduler == "asha-promote"
    assert SearchOptions(search="optuna").scheduler == "asha"
    assert SearchOptions(max_concurrent=2).scheduler == "asha"
    assert SearchOptions(search="optuna", scheduler="fifo").scheduler == "fifo"
    SearchOptions(search="optuna").check()  # (the default never makes a refused pair)
    SearchOptions(max_concurrent=2).check()


NODES = [{"CPU": 16.0, "GPU": 2.0}, {"CPU": 4.0, "GPU": 0.0}]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"cpus_per_trial": 32},
            r"--cpus-per-trial 32 is more than any node of the Ray cluster "
            r"has \(16 CPUs\)",
        ),
        (
            {"gpus_per_trial": 3.0},
            r"--gpus-per-trial 3 cannot be met: the Ray cluster has at most "
            r"2 GPUs on a node",
        ),
        ({"gpus_per_trial": 1.5}, r"--gpus-per-trial 1.5: above 1, use a whole number of GPUs"),
        ({"cuda_graph": "on", "gpus_per_trial": 0.0}, r"--cuda-graph on needs GPU trials"),
    ],
)
def test_resources_no_node_can_give_are_refused(options, message):
    with pytest.raises(UsageError, match=message):
        check_resources(SearchOptions(**options), NODES)


def test_resources_a_node_can_give():
    assert check_resources(SearchOptions(cpus_per_trial=4), NODES) == (4, 1.0)  # GPUs: 1 each
    assert check_resources(SearchOptions(gpus_per_trial=0.25), NODES) == (1, 0.25)
    assert check_resources(SearchOptions(), [{"CPU": 2.0}], "this machine") == (1, 0.0)
    with pytest.raises(UsageError, match="this machine has no GPUs"):
        check_resources(SearchOptions(gpus_per_trial=1.0), [{"CPU": 2.0}], "this machine")


def test_the_epoch_budget_counts_earlier_trials_and_new_epochs(tmp_path: Path, write_trial):
    """A resumed search's budget starts from the epochs its trials already reported."""
    (tmp_path / SPEC_FILE).write_text(json.dumps({"options": {}, "data": {}, "space": {}}))
    write_trial(tmp_path, "a", [0.1, 0.2, 0.3], kept=[3])  # 3 epochs already
    budget = EpochBudget(6, tmp_path)
    assert budget("b", {"training_iteration": 1}) is False and not budget.stop_all()
    budget("a", {"training_iteration": 4})  # the resumed trial's fourth epoch
    budget("b", {"training_iteration": 2})
    assert budget.epochs == {"a": 4, "b": 2} and budget.stop_all()


def test_a_tpe_search_that_would_never_model_is_noted():
    from tune_cifar.tuning._algorithms import check_plan

    space = load_space("quick")
    never = SearchOptions(search="optuna", num_samples=6, startup_trials=6)
    (note,) = check_plan(never, space, 6)
    assert note.startswith("note: TPE samples its first 6 trials at random, and this search runs 6")
    assert (
        check_plan(SearchOptions(search="optuna", num_samples=6, startup_trials=5), space, 6) == []
    )
    assert check_plan(SearchOptions(search="optuna", num_samples=12), space, 12) == []  # 6 first


def test_options_of_population_training_mean_nothing_elsewhere():
    """--perturbation-interval is 2 under pbt / pb2 unless given, and given elsewhere it is
    refused; an older spec file, which recorded 2 for every search, still resumes."""
    assert SearchOptions(scheduler="pbt").perturbation_interval == 2
    assert SearchOptions(scheduler="asha").perturbation_interval is None
    with pytest.raises(UsageError, match=r"^--perturbation-interval steers population-based"):
        SearchOptions(scheduler="asha", perturbation_interval=2).check()
    old = SearchOptions.from_record({"scheduler": "asha", "perturbation_interval": 2})
    old.check()
    assert old.perturbation_interval is None
    assert (
        SearchOptions.from_record(
            {"scheduler": "pb2", "perturbation_interval": 3}
        ).perturbation_interval
        == 3
    )
