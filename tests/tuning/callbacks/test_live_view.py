"""The live view: a tune.Callback driven here by hand, as Tune's controller drives it."""

import pickle
from dataclasses import dataclass, field

from ray.tune import Callback
from ray.tune.experiment import Trial

from tune_cifar.tuning import _stopping
from tune_cifar.tuning.callbacks import LiveView, live_output
from tune_cifar.tuning.callbacks import _live_view as progress


@dataclass
class FakeTrial:
    """What the view reads of a Tune trial: id, status, last result."""

    trial_id: str
    status: str = Trial.PENDING
    last_result: dict = field(default_factory=dict)


def lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def test_a_line_per_change_and_the_best_over_every_epoch(capsys, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    view = LiveView(max_epochs=3, interval_s=30)
    assert isinstance(view, Callback)
    view.setup()
    a, b = FakeTrial("a"), FakeTrial("b")
    trials = [a, b]
    view.on_step_end(0, trials)
    assert lines(capsys) == ["[00:00:00] 0 running, 2 pending, 0 done, 0 errored"]

    a.status = Trial.RUNNING
    view.on_trial_start(0, trials, a)
    for epoch, acc in ((1, 0.40), (2, 0.55), (3, 0.50)):  # the best epoch is not the last
        result = {"training_iteration": epoch, "val_acc": acc}
        a.last_result = result
        view.on_trial_result(0, trials, a, result)
    now[0] += 5
    view.on_step_end(1, trials)
    view.on_step_end(2, trials)  # nothing changed: no second line
    assert lines(capsys) == [
        "[00:00:05] 1 running, 1 pending, 0 done, 0 errored | best val_acc 0.5500 (a)"
    ]

    a.status = Trial.TERMINATED  # ran all 3 epochs
    b.status, b.last_result = Trial.TERMINATED, {"training_iteration": 1, "val_acc": 0.1}
    view.on_trial_result(0, trials, b, b.last_result)
    view.on_trial_complete(0, trials, a)
    view.on_trial_complete(0, trials, b)
    now[0] += 1
    view.on_step_end(3, trials)
    view.on_experiment_end(trials)  # the same counts: not printed twice
    assert lines(capsys) == [
        "[00:00:06] 0 running, 1 stopped early, 1 done, 0 errored | best val_acc 0.5500 (a)"
    ]

    now[0] += 30  # nothing changed, but the interval passed
    view.on_step_end(4, trials)
    assert lines(capsys)[0].startswith("[00:00:36] 0 running, 1 stopped early, 1 done")


def test_change_lines_come_at_most_every_min_gap(capsys, monkeypatch):
    """Ten thousand trials start and end: a change within min_gap_s of the last line waits
    for the next step after it."""
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    view = LiveView(max_epochs=3, interval_s=30, min_gap_s=1.0)
    view.setup()
    trials = [FakeTrial("a"), FakeTrial("b")]
    view.on_step_end(0, trials)
    for trial in trials:
        trial.status = Trial.RUNNING
        view.on_trial_start(0, trials, trial)
        now[0] += 0.25
        view.on_step_end(1, trials)
    assert lines(capsys) == ["[00:00:00] 0 running, 2 pending, 0 done, 0 errored"]
    now[0] += 0.5
    view.on_step_end(2, trials)
    assert lines(capsys) == ["[00:00:01] 2 running, 0 done, 0 errored"]


class CountingTrial(FakeTrial):
    """A trial that counts reads of its last result (a property that costs in Tune)."""

    reads = 0

    @property  # type: ignore[override]
    def last_result(self) -> dict:
        CountingTrial.reads += 1
        return self._last_result

    @last_result.setter
    def last_result(self, value: dict) -> None:
        self._last_result = value


def test_a_step_costs_only_the_trials_added_since_the_last(capsys):
    """At 2,000 trials the view's rescan of every trial at every step was most of the
    driver's time: steps with nothing new read no trial's result."""
    view = LiveView(max_epochs=3)
    view.setup()
    trials = [CountingTrial(f"t{i}", Trial.PAUSED, {"val_acc": 0.1}) for i in range(500)]
    view.on_step_begin(0, trials)  # a resume restores them: read once
    view.on_step_end(0, trials)
    assert CountingTrial.reads == 500
    assert "500 paused" in lines(capsys)[0]
    for step in range(1, 200):
        view.on_step_begin(step, trials)
        view.on_step_end(step, trials)
    assert CountingTrial.reads == 500
    trials.append(CountingTrial("new", Trial.PENDING))
    view.on_step_end(200, trials)
    assert CountingTrial.reads == 500  # a trial added in a search has no result to read


def test_a_resume_counts_what_it_restored_and_a_stop_leaves_trials_unfinished(capsys, monkeypatch):
    view = LiveView(max_epochs=3)
    view.setup()
    done = FakeTrial("done", Trial.TERMINATED, {"training_iteration": 3, "val_acc": 0.6})
    early = FakeTrial("early", Trial.TERMINATED, {"training_iteration": 1, "val_acc": 0.3})
    paused = FakeTrial("paused", Trial.PAUSED, {"training_iteration": 2, "val_acc": 0.7})
    trials = [done, early, paused]
    view.on_step_begin(0, trials)
    view.on_step_end(0, trials)
    assert lines(capsys) == [
        "[00:00:00] 0 running, 1 paused, 1 stopped early, 1 done, 0 errored"
        " | best val_acc 0.7000 (paused)"
    ]
    paused.status = Trial.RUNNING
    view.on_trial_start(0, trials, paused)
    paused.status = Trial.TERMINATED  # the search was stopped: Tune ends it, uncompleted
    monkeypatch.setattr(_stopping._Stop, "reason", "a time budget")
    view.on_experiment_end(trials)
    assert "1 unfinished, 1 stopped early, 1 done" in lines(capsys)[0]


def test_diverged_and_errored_trials_are_named(capsys):
    view = LiveView(max_epochs=5)
    view.setup()
    trials = [
        FakeTrial(
            "a",
            Trial.TERMINATED,
            {"training_iteration": 1, "diverged": True, "val_acc": float("nan")},
        ),
        FakeTrial("b", Trial.ERROR),
    ]
    view.on_step_end(0, trials)
    assert "0 running, 0 done, 1 diverged, 1 errored" in lines(capsys)[0]


def test_it_pickles_as_tune_saves_it_and_prints_through_live_output(capsys):
    view = pickle.loads(pickle.dumps(LiveView(max_epochs=2)))
    view.setup()
    with live_output():
        print("Ray's banner")  # swallowed
        view.on_step_end(0, [FakeTrial("a")])
    out = lines(capsys)
    assert out == ["[00:00:00] 0 running, 1 pending, 0 done, 0 errored"]


def test_priorbands_draws_and_weights_are_said_when_they_change(capsys):
    """A searcher's annotations (PriorBand): how many configurations came from where, and a
    line when the weights of the newest draw differ from those last said."""
    view = LiveView(max_epochs=3)
    view.setup()
    weights = ["prior 0.500, uniform 0.500, incumbent 0.000"] * 2 + [
        "prior 0.100, uniform 0.500, incumbent 0.400"
    ]
    trials = [FakeTrial(f"t{i}", Trial.RUNNING) for i in range(3)]
    for i, (trial, source) in enumerate(zip(trials, ("prior", "uniform", "prior"), strict=True)):
        trial.config = {
            "lr": 0.1,
            "sampled_from": source,
            "sampling_weights": weights[i],
            "sample_number": i + 1,
        }
    view.on_step_end(0, trials[:2])
    assert lines(capsys) == [
        "[00:00:00] 2 running, 0 done, 0 errored | drawn from 1 prior, 1 uniform",
        "PriorBand now draws new configurations: prior 0.500, uniform 0.500, incumbent 0.000",
    ]
    view.on_step_end(1, trials)
    assert lines(capsys)[-1] == (
        "PriorBand now draws new configurations: prior 0.100, uniform 0.500, incumbent 0.400"
    )


def test_trials_that_cannot_run_at_the_niceness_asked_are_said_once(capsys):
    """A cluster's workers started at nice 15 may not go lower: one warning line on stderr."""
    view = LiveView(max_epochs=3, nice=0)
    view.setup()
    trial = FakeTrial("a", Trial.RUNNING)
    for epoch in (1, 2):
        view.on_trial_result(0, [trial], trial, {"training_iteration": epoch, "nice": 15})
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "tune-cifar: warning: trials run at nice 15, not 0 (--nice): Ray started its workers "
        "at 15 and they may not go lower; start the cluster with RAY_worker_niceness=0 ray "
        "start ..."
    ]
    view.on_trial_result(0, [trial], trial, {"training_iteration": 3, "nice": 0})
    assert capsys.readouterr().err == ""


def test_progress_says_how_far_at_what_rate_and_when_it_ends(capsys, monkeypatch):
    """A scripted clock: 4 trials x 3 epochs at most; 3 epochs in the first 60 s is 3 a
    minute, so the 9 left take at most 3 minutes; a time budget caps that."""
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    view = LiveView(max_epochs=3, interval_s=30, planned_epochs=12)
    view.setup()
    trials = [FakeTrial(t) for t in "abcd"]
    view.on_step_end(0, trials)
    assert lines(capsys) == [
        "[00:00:00] 0 running, 4 pending, 0 done, 0 errored | 0 of at most 12 trial-epochs"
    ]
    a = trials[0]
    a.status = Trial.RUNNING
    view.on_trial_start(0, trials, a)
    for epoch in (1, 2, 3):
        view.on_trial_result(0, trials, a, {"training_iteration": epoch, "val_acc": 0.5})
    now[0] = 60.0
    assert view.progress() == "3 of at most 12 trial-epochs, 3.0/min, at most 00:03:00 left"
    budget = LiveView(max_epochs=3, planned_epochs=12, time_budget_s=100)
    budget.setup()  # at second 60
    budget.on_trial_result(0, trials, a, {"training_iteration": 1, "val_acc": 0.5})
    now[0] = 70.0  # 11 epochs left at 6 a minute take 110 s: the budget ends first
    assert budget.progress() == "1 of at most 12 trial-epochs, 6.0/min, at most 00:01:30 left"
    now[0] = 150.0
    assert budget.progress().endswith(", 0.7/min, at most 00:00:10 left")
    assert LiveView(max_epochs=3).progress() == ""  # nothing bounds the search


def test_a_resume_counts_the_epochs_done_before_but_not_in_its_rate(capsys, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: now[0])
    view = LiveView(max_epochs=4, planned_epochs=8)
    view.setup()
    done = FakeTrial("a", Trial.TERMINATED, {"training_iteration": 4, "val_acc": 0.5})
    half = FakeTrial("b", Trial.PAUSED, {"training_iteration": 2, "val_acc": 0.4})
    view.on_step_end(0, [done, half])
    view.on_trial_result(0, [done, half], half, {"training_iteration": 3, "val_acc": 0.45})
    now[0] = 30.0
    assert view.progress() == "7 of at most 8 trial-epochs, 2.0/min, at most 00:00:30 left"


def test_a_bar_where_a_person_watches_and_the_same_lines_above_it(capsys):
    view = LiveView(max_epochs=2, planned_epochs=4, bar=True)
    view.setup()
    trial = FakeTrial("a", Trial.RUNNING)
    view.on_trial_start(0, [trial], trial)
    view.on_step_end(0, [trial])
    for epoch in (1, 2):
        trial.last_result = {"training_iteration": epoch, "val_acc": 0.5}
        view.on_trial_result(0, [trial], trial, trial.last_result)
    trial.status = Trial.TERMINATED
    view.on_trial_complete(0, [trial], trial)
    view.on_experiment_end([trial])
    out = capsys.readouterr().out
    assert "1 running, 0 done, 0 errored | 0 of at most 4 trial-epochs" in out
    assert "0 running, 1 done, 0 errored | best val_acc 0.5000 (a) | 2 of at most 4" in out
    assert "2/4" in out and "trial-epochs" in out  # tqdm's bar: done of total
    assert pickle.loads(pickle.dumps(view)).bar is True  # as Tune saves it
    assert LiveView(max_epochs=2, planned_epochs=4)._wants_bar() is False  # (captured: no tty)
