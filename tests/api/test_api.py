"""The Python API: keywords as the command's flags (defaults, checks, one-line errors), and a
real search from Python whose experiment, best trial, plots and model are the command's."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys

import matplotlib.figure
import pytest
import torch

import tune_cifar
from tune_cifar.api import options_from_keywords
from tune_cifar.data import DataSpec
from tune_cifar.results import best_trial
from tune_cifar.tuning import SearchOptions, option_fields


def test_no_keyword_is_the_command_with_no_flag():
    opts, data = options_from_keywords({})
    assert opts == SearchOptions()
    assert data == DataSpec(source="cifar10")  # the command's --data default


def test_every_option_is_a_keyword_named_as_its_flag():
    for f in option_fields():
        assert f.flag == "--" + f.name.replace("_", "-")
        opts, _ = options_from_keywords({f.name: f.default})
        assert getattr(opts, f.name) == getattr(SearchOptions(), f.name)


def test_keywords_take_python_values_and_the_flags_text():
    opts, data = options_from_keywords(
        {
            "space": "quick",
            "num_samples": 8,
            "max_epochs": "10",  # as the flag's text
            "objective": "val_acc,params",
            "search": "optuna",
            "warm_start": "seed",
            "time_budget": 60,
            "data": "sample",
            "val_size": 100,
        }
    )
    assert (opts.space, opts.num_samples, opts.max_epochs) == ("quick", 8, 10)
    assert opts.objective == ("val_acc", "params")
    assert opts.warm_start == ("seed",)
    assert opts.time_budget == 60.0 and isinstance(opts.time_budget, float)
    assert (data.source, data.val_size) == ("sample", 100)
    assert options_from_keywords({"objective": ["val_acc", "params"]})[0].objective == (
        "val_acc",
        "params",
    )


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"num_sample": 8}, "unknown option num_sample=8; did you mean num_samples?"),
        ({"scheduler": "hyperband"}, "argument --scheduler: invalid choice: 'hyperband'"),
        ({"max_epochs": "ten"}, "argument --max-epochs: invalid int value: 'ten'"),
        ({"max_epochs": 2.5}, "argument --max-epochs: invalid int value: 2.5"),
        ({"overwrite": "yes"}, "argument --overwrite: takes True or False"),
        ({"val_size": -1}, "--val-size must be positive, got -1"),
    ],
)
def test_a_bad_keyword_is_the_commands_one_line(keywords, message):
    with pytest.raises(tune_cifar.UsageError) as caught:
        options_from_keywords(keywords)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_check_of_the_command_is_the_same_line():
    """--grace-period above --max-epochs: the same UsageError text from both."""
    with pytest.raises(tune_cifar.UsageError) as from_python:
        options_from_keywords({"max_epochs": 2, "grace_period": 3, "scheduler": "asha"})
    with pytest.raises(tune_cifar.UsageError) as from_flags:
        SearchOptions(max_epochs=2, grace_period=3, scheduler="asha").check()
    assert str(from_python.value) == str(from_flags.value)


def test_the_top_level_offers_the_api_and_lists_it():
    for name in tune_cifar.__all__:
        thing = getattr(tune_cifar, name)
        assert thing.__doc__, name
    assert {"search", "resume", "confirm", "load_experiment", "Experiment"} <= set(
        tune_cifar.__all__
    )
    assert "num_samples:" in tune_cifar.search.__doc__  # every keyword, from the one description


@pytest.mark.slow
def test_importing_the_package_imports_neither_torch_nor_ray():
    code = "import sys, tune_cifar; print('torch' in sys.modules, 'ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.slow
def test_a_search_from_python_gives_the_commands_experiment(tmp_path, shared_ray, capsys):
    exp = tune_cifar.search(
        space="quick",
        data="synthetic",
        num_samples=3,
        max_epochs=2,
        grace_period=1,
        storage_path=tmp_path,
        name="from-python",
        progress_interval=60,
    )
    assert isinstance(exp, tune_cifar.Experiment)
    assert exp.path == tmp_path / "from-python"
    assert len(exp.trials) == 3 and set(exp.epochs["trial_id"]) == set(exp.trials["trial_id"])
    said = capsys.readouterr().out
    assert "3 trials; best trial" in said and f"experiment: {exp.path}" in said
    best = best_trial(exp.path)
    assert dataclasses.asdict(exp.best) == dataclasses.asdict(best)  # what `best` says
    assert exp.trials["best_val_acc"].iloc[0] == pytest.approx(best.value)
    again = tune_cifar.load_experiment(str(exp.path))
    assert again.trials.equals(exp.trials)

    figure = exp.plot("all_trials")
    assert isinstance(figure, matplotlib.figure.Figure)
    assert "All 3 trials" in figure.axes[0].get_title()
    with pytest.raises(tune_cifar.UsageError, match="no plot 'nope'; choose from"):
        exp.plot("nope")

    restored = exp.load_model()
    assert restored.checkpoint == best.checkpoint
    with torch.no_grad():
        logits = restored.model(torch.zeros(2, 3, 32, 32))
    assert logits.shape == (2, 10)


def test_a_bad_keyword_raises_before_ray_starts(tmp_path):
    """(A fast test: conftest fails it if it starts Ray.)"""
    with pytest.raises(tune_cifar.UsageError, match="--num-samples"):
        tune_cifar.search(num_samples=0, storage_path=tmp_path, data="synthetic")
    assert list(tmp_path.iterdir()) == []


INTERRUPTED = """
import tune_cifar
exp = tune_cifar.search(space="quick", data="synthetic", num_samples=4, max_epochs=30,
                        storage_path={folder!r}, name="x", progress_interval=1)
print("returned", len(exp.trials), "trials:", ",".join(sorted(set(exp.trials["status"]))))
"""


@pytest.mark.slow
def test_an_interrupt_stops_a_python_search_in_order_and_python_goes_on(tmp_path):
    """SIGINT is what interrupting a notebook's kernel sends: the search ends in order, the
    experiment comes back with its unfinished trials, and the code after the call runs."""
    import signal

    proc = subprocess.Popen(
        [sys.executable, "-u", "-c", INTERRUPTED.format(folder=str(tmp_path))],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if "best val_acc" in line:  # a trial has reported an epoch
            proc.send_signal(signal.SIGINT)
            break
    out = "".join(seen) + proc.communicate(timeout=120)[0]
    assert proc.returncode == 0, out
    assert "search interrupted with" in out and f"tune-cifar resume {tmp_path / 'x'}" in out
    assert "returned" in out and "unfinished" in out.split("returned", 1)[1], out


@pytest.mark.slow
def test_a_users_own_tuner_runs_the_trainable_and_reads_back(tmp_path, shared_ray):
    """A Tuner with a space and a scheduler of its own (Ray's HyperBand-style ASHA, stopping
    at epochs 1 and 2), no tune-cifar search around it; its experiment read back as any."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler

    tuner = tune.Tuner(
        tune_cifar.trainable("synthetic", max_epochs=3, train_subset=200),
        param_space={
            "model": "cnn_v2",
            "width": 0.25,
            "lr": tune.grid_search([1e-4, 3e-3, 1e-2]),
            "batch_size": 32,
        },
        tune_config=tune.TuneConfig(
            metric="val_acc",
            mode="max",
            scheduler=ASHAScheduler(max_t=3, grace_period=1, reduction_factor=2),
            max_concurrent_trials=1,
        ),
        run_config=tune.RunConfig(storage_path=str(tmp_path), name="mine"),
    )
    results = tuner.fit()
    assert not results.errors
    exp = tune_cifar.load_experiment(results.experiment_path)
    assert exp.max_epochs == 3 and len(exp.trials) == 3
    assert sorted(exp.trials["config.lr"]) == [1e-4, 3e-3, 1e-2]
    ray_best = results.get_best_result(metric="val_acc", mode="max", scope="all")
    assert exp.best.value == pytest.approx(ray_best.metrics_dataframe["val_acc"].max())
    assert exp.best.checkpoint is not None and exp.best.checkpoint.is_dir()
    assert isinstance(exp.plot("all_trials"), matplotlib.figure.Figure)
    assert exp.load_model().config.lr == exp.best.config["lr"]


def test_the_trainable_refuses_what_the_flag_refuses():
    with pytest.raises(tune_cifar.UsageError, match="--max-epochs"):
        tune_cifar.trainable("synthetic", max_epochs=0)


USERS_TUNER = """
import os, signal, sys
from ray import tune
import tune_cifar


class CtrlC(tune.Callback):  # the user presses Ctrl-C once four epochs are reported
    reported = 0  # (Tuner.restore brings the callback back: only this script presses it)

    def on_trial_result(self, iteration, trials, trial, result, **info):
        self.reported += 1
        if self.reported == 4 and os.environ.get("PRESS_CTRL_C"):
            os.kill(os.getpid(), signal.SIGINT)


tuner = tune.Tuner(
    tune_cifar.trainable(max_epochs=EPOCHS, data="synthetic", train_subset=200),
    param_space={"model": "cnn_v2", "width": 0.25, "batch_size": 32,
                 "lr": tune.grid_search([3e-3, 1e-2])},
    tune_config=tune.TuneConfig(metric="val_acc", mode="max"),
    run_config=tune.RunConfig(storage_path=sys.argv[1], name="mine", callbacks=[CtrlC()]),
)
tuner.fit()
"""


@pytest.mark.slow
def test_a_users_tuner_restored_goes_on_exactly_from_its_checkpoints(tmp_path, shared_ray):
    """A user's own Tuner script interrupted by Ctrl-C with its trials unfinished, then
    ``Tuner.restore``: each trial ends with the history it would have had in one go."""
    from ray import tune

    from tune_cifar.config import TrialConfig
    from tune_cifar.data import load_data
    from tune_cifar.results import load_trials
    from tune_cifar.train import Trainer

    epochs = 12
    script = tmp_path / "mine.py"
    script.write_text(USERS_TUNER.replace("EPOCHS", str(epochs)))
    path = tmp_path / "mine"
    run = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PRESS_CTRL_C": "1"},
    )
    assert "Experiment has been interrupted" in run.stderr + run.stdout, run.stderr[-2000:]
    reached = [len(t.epochs) for t in load_trials(path)]
    assert min(reached) < epochs  # interrupted with epochs to train
    restored = tune.Tuner.restore(
        str(path),
        trainable=tune_cifar.trainable(max_epochs=epochs, data="synthetic", train_subset=200),
        resume_unfinished=True,
    )
    assert not restored.fit().errors
    bundle = load_data(DataSpec(source="synthetic", train_subset=200))
    trials = load_trials(path)
    assert len(trials) == 2
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the trainable trains (one thread per trial)
    try:
        for trial in trials:
            trainer = Trainer(TrialConfig.from_dict(trial.config), bundle.training, epochs)
            while not trainer.finished:
                trainer.run_epoch()
            assert [round(r["val_acc"], 6) for r in trial.epochs] == [
                round(m["val_acc"], 6) for m in trainer.history
            ]
    finally:
        torch.set_num_threads(threads)
