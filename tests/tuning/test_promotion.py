"""``--scheduler asha-promote``: ASHA's promotion rule (a trial waits, paused, at a rung until
it ranks in the top floor(n / eta) of the trials that reached it), decision by decision, and
a real search that pauses and resumes trials from their rung checkpoints."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pyarrow.fs as pafs
import pytest
from ray.tune.experiment import Trial
from ray.tune.schedulers import TrialScheduler

from tune_cifar.constants import FULL_BUDGET, STOPPED_FILE
from tune_cifar.metrics import asha_rungs
from tune_cifar.tuning import SearchOptions
from tune_cifar.tuning._promotion import PromotionASHA

CONTINUE, PAUSE = TrialScheduler.CONTINUE, TrialScheduler.PAUSE


class Controller:
    """What the scheduler sees of Tune's controller: the trials, and stop_trial."""

    def __init__(
        self,
        scheduler: PromotionASHA,
        *names: str,
        folder: Path | None = None,
        full_budget: tuple[str, ...] = (),
    ) -> None:
        self.scheduler = scheduler
        self.trials = [
            SimpleNamespace(
                trial_id=n,
                config={FULL_BUDGET: True} if n in full_budget else {},
                status=Trial.PENDING,
                last_result={},
                storage=SimpleNamespace(
                    storage_filesystem=pafs.LocalFileSystem(),
                    trial_fs_path=str((folder or Path("/nonexistent")) / n),
                ),
            )
            for n in names
        ]
        self.stopped: list[str] = []

    def get_trials(self) -> list[SimpleNamespace]:
        return self.trials

    def stop_trial(self, trial: SimpleNamespace) -> None:  # as Tune's: the scheduler hears
        if trial.status in (Trial.PENDING, Trial.PAUSED):  # of a trial that is not running
            self.scheduler.on_trial_remove(self, trial)
        trial.status = Trial.TERMINATED
        self.stopped.append(trial.trial_id)

    def __getitem__(self, name: str) -> SimpleNamespace:
        return next(t for t in self.trials if t.trial_id == name)


def report(
    scheduler: PromotionASHA,
    ctl: Controller,
    name: str,
    epoch: int,
    value: float,
    metric: str = "val_acc",
) -> str:
    trial = ctl[name]
    trial.status = Trial.RUNNING
    trial.last_result = {"training_iteration": epoch, metric: value}
    decision = scheduler.on_trial_result(ctl, trial, trial.last_result)
    if decision == PAUSE:
        trial.status = Trial.PAUSED
    return decision


def test_the_rungs_are_grace_times_eta_powers_below_max_epochs():
    assert asha_rungs(2, 3, 35) == [2, 6, 18]
    assert asha_rungs(1, 3, 9) == [1, 3]  # a rung at max_epochs compares nothing
    assert asha_rungs(1, 2, 4) == [1, 2]
    assert asha_rungs(5, 3, 5) == []


def test_a_trial_waits_at_a_rung_until_it_ranks_in_the_top_third(tmp_path):
    sched = PromotionASHA(max_t=9, grace_period=1, reduction_factor=3, metric="val_acc", mode="max")
    ctl = Controller(sched, "a", "b", "c", "d", "e", folder=tmp_path)
    # Ray's ASHAScheduler lets the first trial at a rung go on (nothing to compare it with);
    # here it waits until three have arrived and it is the best of them.
    assert report(sched, ctl, "a", 1, 0.50) == PAUSE  # 1 at the rung: floor(1/3) = 0 go on
    assert report(sched, ctl, "b", 1, 0.70) == PAUSE  # 2: still none
    assert report(sched, ctl, "c", 1, 0.60) == PAUSE  # 3: one goes on, and it is b
    assert sched.choose_trial_to_run(ctl) is ctl["b"]  # a promotion before a new trial (d)
    assert report(sched, ctl, "b", 2, 0.72) == CONTINUE  # promoted at rung 1: on to rung 3
    assert report(sched, ctl, "b", 3, 0.75) == PAUSE  # alone at rung 3
    assert sched.choose_trial_to_run(ctl) is ctl["d"]  # nothing promotable: a new trial
    assert report(sched, ctl, "d", 1, 0.40) == PAUSE
    # 5 at rung 1: still one goes on (floor 5/3), and e is that one now, above b: e goes on
    # at once, and b's promotion stands
    assert report(sched, ctl, "e", 1, 0.90) == CONTINUE
    assert report(sched, ctl, "e", 2, 0.91) == CONTINUE
    assert report(sched, ctl, "e", 3, 0.95) == PAUSE  # 2 at rung 3: floor(2/3) = 0
    # Nothing pending or running: the rungs are final. Rung 3 sends its best (e) on...
    assert sched.choose_trial_to_run(ctl) is ctl["e"]
    assert report(sched, ctl, "e", 9, 0.96) == CONTINUE
    ctl["e"].status = Trial.TERMINATED
    # ... then has promoted its one; rung 1 (5 trials) has promoted 2 >= max(1, 1): the rest
    # stop where they wait.
    assert sched.choose_trial_to_run(ctl) is None
    assert sorted(ctl.stopped) == ["a", "b", "c", "d"]
    # each says so in its folder (its last result row was reported before it waited)
    assert sorted(p.parent.name for p in tmp_path.glob(f"*/{STOPPED_FILE}")) == ["a", "b", "c", "d"]
    assert json.loads((tmp_path / "b" / STOPPED_FILE).read_text()) == {
        "stopped_by": "asha-promote",
        "epoch": 3,
    }
    assert "epoch 1: 2 of 5 promoted, epoch 3: 1 of 2 promoted" in sched.debug_string()


def test_a_trial_asked_to_train_to_the_end_goes_on_and_counts_at_each_rung(tmp_path):
    """PriorBand's prior mode (``FULL_BUDGET``) never waits; its value ranks the others, and
    it takes a promotion only where it is among the top."""
    sched = PromotionASHA(max_t=9, grace_period=1, reduction_factor=3, metric="val_acc", mode="max")
    ctl = Controller(sched, "m", "a", "b", "c", folder=tmp_path, full_budget=("m",))
    assert [report(sched, ctl, "m", e, v) for e, v in ((1, 0.5), (2, 0.55), (3, 0.6))] == [
        CONTINUE
    ] * 3
    assert report(sched, ctl, "m", 9, 0.7) == CONTINUE
    assert report(sched, ctl, "a", 1, 0.4) == PAUSE  # 2 at rung 1: none go on
    # 3 at rung 1: one goes on, and the top is m, already gone on: nobody else
    assert report(sched, ctl, "b", 1, 0.45) == PAUSE
    # 4: still one; c is now the top, above m (m's promotion stands): c goes on
    assert report(sched, ctl, "c", 1, 0.8) == CONTINUE
    assert sched.rungs[1] == {"m": 0.5, "a": 0.4, "b": 0.45, "c": 0.8}
    assert sched.promoted[1] == {"m", "c"} and sched.promoted[3] == {"m"}


def test_an_epoch_budget_ends_waiting_trials_as_stopped_and_pending_ones_as_nothing(tmp_path):
    sched = PromotionASHA(max_t=9, grace_period=1, reduction_factor=3, metric="val_acc", mode="max")
    ctl = Controller(sched, "waiting", "queued", "running", folder=tmp_path)
    assert report(sched, ctl, "waiting", 1, 0.5) == PAUSE
    ctl["running"].status = Trial.RUNNING  # between rungs
    for trial in ctl.trials:  # Tune's stop_all: every trial not ended is stopped
        ctl.stop_trial(trial)
    assert [p.parent.name for p in tmp_path.glob(f"*/{STOPPED_FILE}")] == ["waiting"]


def test_a_nan_ranks_last_and_min_mode_ranks_low_values_first():
    def second_arrival(first: float, second: float) -> str:  # eta 2: one of two goes on
        sched = PromotionASHA(
            max_t=4, grace_period=1, reduction_factor=2, metric="val_loss", mode="min"
        )
        ctl = Controller(sched, "a", "b")
        assert report(sched, ctl, "a", 1, first, "val_loss") == PAUSE
        return report(sched, ctl, "b", 1, second, "val_loss")

    assert second_arrival(float("nan"), 2.0) == CONTINUE  # a diverged trial ranks last
    assert second_arrival(1.0, 2.0) == PAUSE  # a lower loss ranks first
    assert second_arrival(3.0, 2.0) == CONTINUE


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"search": "optuna"}, "TPE learns only from ended trials"),
        ({"max_concurrent": 2}, "--max-concurrent counts the trials asha-promote keeps waiting"),
        ({"grace_period": 5, "max_epochs": 4}, "--grace-period 5 is above --max-epochs 4"),
    ],
)
def test_asha_promote_refuses_what_cannot_work_beside_it(flags, message):
    from tune_cifar.errors import UsageError

    with pytest.raises(UsageError, match=message):
        SearchOptions(scheduler="asha-promote", **flags).check()


PROMOTE_SPACE = """
from ray import tune

DESCRIPTION = "test space: learning rates from too small to learn to fine"
SPACE = {"model": "cnn_v2", "width": 0.5, "optimizer": "adam", "batch_size": 32,
         "erase_p": 0.0, "lr": tune.loguniform(1e-6, 3e-3)}
"""


@pytest.mark.slow
def test_a_promotion_search_pauses_and_resumes_trials_from_their_rung_checkpoints(
    tmp_path, synthetic_bundle, shared_ray
):
    """6 trials one at a time (2 CPUs each on the session's 2-CPU Ray), rungs at epochs 1 and
    2 (eta 2), 4 epochs at most: trials resume where they waited (no epoch twice, no restart),
    the best at each rung goes on, fewer epochs than running all, and the journal ends every
    trial."""
    import optuna

    from tune_cifar.analysis import load_experiment
    from tune_cifar.data import DataSpec
    from tune_cifar.results import open_journal
    from tune_cifar.tuning import run_search

    (tmp_path / "space.py").write_text(PROMOTE_SPACE)
    opts = SearchOptions(
        space=str(tmp_path / "space.py"),
        scheduler="asha-promote",
        num_samples=6,
        max_epochs=4,
        grace_period=1,
        reduction_factor=2,
        cpus_per_trial=2,
        storage_path=str(tmp_path),
        name="exp",
        progress_interval=60,
    )
    outcome = run_search(opts, DataSpec(source="synthetic"), argv=["test"], bundle=synthetic_bundle)
    assert not outcome.errors and outcome.unfinished == 0  # the waiting trials ended
    runs = {
        d.parent.name: [json.loads(line) for line in d.read_text().splitlines()]
        for d in sorted(Path(outcome.experiment_path).glob("*/result.json"))
    }
    assert len(runs) == 6
    for name, rows in runs.items():  # a paused trial went on from its rung's checkpoint
        assert [r["training_iteration"] for r in rows] == list(range(1, len(rows) + 1)), name
    at = {
        m: {n: rows[m - 1]["val_acc"] for n, rows in runs.items() if len(rows) >= m}
        for m in (1, 2, 4)
    }
    assert len(at[1]) == 6 and 1 <= len(at[2]) <= 4 and len(at[4]) >= 1
    assert max(at[1], key=at[1].get) in at[2]  # each rung's best goes on
    assert max(at[2], key=at[2].get) in at[4]
    assert sum(len(rows) for rows in runs.values()) < 6 * 4
    status = load_experiment(outcome.experiment_path).trials.set_index("trial_id")["status"]
    assert {n: status[rows[0]["trial_id"]] for n, rows in runs.items()} == {
        n: "done" if len(rows) == 4 else "stopped early" for n, rows in runs.items()
    }
    study = optuna.load_study(study_name="exp", storage=open_journal(outcome.experiment_path))
    assert {t.state for t in study.trials} <= {
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
    }
    assert len(study.trials) == 6
