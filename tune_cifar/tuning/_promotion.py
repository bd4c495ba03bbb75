"""ASHA as its paper runs it (``--scheduler asha-promote``): a trial waits at a rung until
it has earned the next one.

Li et al., "A System for Massively Parallel Hyperparameter Tuning" (MLSys 2020), Algorithm 2:
a trial that reaches rung k is promoted to rung k+1 only while it ranks among the top
floor(n_k / eta) of the n_k trials that have reached rung k; until then it waits, and a free
worker starts a new trial instead. Ray's ``ASHAScheduler`` is the paper's stopping variant:
it compares a trial with those that reached the rung *before* it and stops it or lets it go
on at once, so the first trial at each rung always goes on (nothing to compare it with). With
few trials per rung, as in a search of a hundred trial-epochs, that gives the early trials the
budget whatever their worth (measured: docs/benchmarks.md).

Here a trial that is not (yet) promotable is *paused* at the rung (Tune saves its checkpoint
and frees its resources) and resumed from that checkpoint when later arrivals make it
promotable. Paused trials are promoted best first, from the highest rung down, before any
new trial starts. When nothing runs and nothing new comes (a search of a fixed number of
trials, at its end), each rung promotes at least its best waiting trial, then the rest stop.
A trial stopped while it waits (so, or by an epoch budget) says so in its folder
(``STOPPED_FILE``).

A trial whose searcher asked for the full budget (``constants.FULL_BUDGET``: PriorBand's
prior mode) is judged at each rung as every other, and goes on whatever its rank; so too
under Ray's ASHA, through ``FullBudgetASHA``.

A trial's rung value is its ``metric`` at the first result at or past the rung's epoch (after
``tune-cifar resume``, which starts waiting trials again, the rungs fill anew as they report).
"""

from __future__ import annotations

import json
import math
from typing import Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from tune_cifar.constants import FULL_BUDGET, STOPPED_FILE, TRAINING_ITERATION
from tune_cifar.metrics import asha_rungs
from tune_cifar.tuning.ray import trial_storage


class PromotionASHA(FIFOScheduler):
    """Promotion-based asynchronous successive halving over ``time_attr`` (epochs). The
    metric and mode are Tune's (``TuneConfig``), or given here where no Tuner runs it."""

    def __init__(
        self,
        max_t: int,
        grace_period: int,
        reduction_factor: int,
        time_attr: str = TRAINING_ITERATION,
        metric: str | None = None,
        mode: str | None = None,
    ) -> None:
        super().__init__()
        self.time_attr, self.eta = time_attr, reduction_factor
        self.milestones = asha_rungs(grace_period, reduction_factor, max_t)
        self.rungs: dict[int, dict[str, float]] = {m: {} for m in self.milestones}
        self.promoted: dict[int, set[str]] = {m: set() for m in self.milestones}
        self.rank_metric: str | None = None
        self.rank_mode: str | None = None
        self.set_search_properties(metric, mode)

    @property
    def metric(self) -> str | None:  # Tune's controller reads it
        return self.rank_metric

    @property
    def supports_buffered_results(self) -> bool:
        return False  # a trial must stop at its rung, not epochs after it

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        if (self.rank_metric and metric) or (self.rank_mode and mode):
            return False  # set twice: Tune says so
        self.rank_metric = metric or self.rank_metric
        self.rank_mode = mode or self.rank_mode
        return True

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        epoch = int(result.get(self.time_attr, 0))
        for milestone in reversed(self.milestones):
            if epoch < milestone:
                continue
            if trial.trial_id in self.rungs[milestone]:
                return TrialScheduler.CONTINUE  # judged here already, and promoted
            value = float(result.get(self.rank_metric, math.nan))
            sign = -1.0 if self.rank_mode == "min" else 1.0
            # NaN (a diverged trial's val_acc) ranks last
            self.rungs[milestone][trial.trial_id] = (
                sign * value if math.isfinite(value) else -math.inf
            )
            # a trial its searcher asked to train to the end (constants.FULL_BUDGET) goes on,
            # counted as promoted: it takes a promotion only if it ranks among the top
            full_budget = bool(trial.config.get(FULL_BUDGET))
            if full_budget or trial.trial_id in self._promotable(
                milestone, quota=self._quota(milestone)
            ):
                self.promoted[milestone].add(trial.trial_id)
                return TrialScheduler.CONTINUE
            return TrialScheduler.PAUSE
        return TrialScheduler.CONTINUE

    def _quota(self, milestone: int) -> int:
        """How many of a rung's trials go on to the next: floor(n / eta) (the paper's rule)."""
        return len(self.rungs[milestone]) // self.eta

    def _promotable(self, milestone: int, quota: int) -> list[str]:
        """The rung's top ``quota`` trials not promoted yet, best first."""
        ranked = sorted(self.rungs[milestone], key=self.rungs[milestone].__getitem__, reverse=True)
        return [t for t in ranked[:quota] if t not in self.promoted[milestone]]

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        trials = tune_controller.get_trials()
        paused = {t.trial_id: t for t in trials if t.status == Trial.PAUSED}
        promotion = self._promotion(paused, relaxed=False)
        if promotion is not None:
            return promotion
        for trial in trials:
            if trial.status == Trial.PENDING:
                return trial
        if not paused or any(t.status == Trial.RUNNING for t in trials):
            return None
        # Nothing runs and nothing new comes: the rungs are final. Each promotes at least its
        # best waiting trial; when none is left to promote, the waiting trials stop.
        promotion = self._promotion(paused, relaxed=True)
        if promotion is None:
            for trial in paused.values():
                tune_controller.stop_trial(trial)
        return promotion

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        """Tune stops a trial that is not running: here, or at the search's end (an epoch
        budget); one that waited at a rung says so. (Ctrl-C and a time budget stop nothing:
        waiting trials stay unfinished, and a resume continues them.)"""
        if trial.status == Trial.PAUSED:
            mark_stopped(trial)

    def _promotion(self, paused: dict[str, Trial], relaxed: bool) -> Trial | None:
        """The best waiting trial of the highest rung that may go on, marked promoted."""
        for milestone in reversed(self.milestones):
            quota = self._quota(milestone)
            if relaxed:
                quota = max(quota, 1)
            for trial_id in self._promotable(milestone, quota):
                if trial_id in paused:
                    self.promoted[milestone].add(trial_id)
                    return paused[trial_id]
        return None

    def debug_string(self) -> str:
        return "Promotion ASHA: " + ", ".join(
            f"epoch {m}: {len(self.promoted[m])} of {len(self.rungs[m])} promoted"
            for m in self.milestones
        )


class FullBudgetASHA(ASHAScheduler):
    """Ray's ASHA (``--scheduler asha``), except that a trial its searcher asked to train to
    the end (``constants.FULL_BUDGET``: PriorBand's prior mode) is never stopped at a rung;
    its value still counts there, for the trials after it."""

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        action = super().on_trial_result(tune_controller, trial, result)
        if (
            action == TrialScheduler.STOP
            and trial.config.get(FULL_BUDGET)
            and result.get(TRAINING_ITERATION, 0) < self._max_t
        ):
            self._num_stopped -= 1
            return TrialScheduler.CONTINUE
        return action


def mark_stopped(trial: Trial) -> None:
    """Say in the trial's folder (``STOPPED_FILE``, where the experiment is stored) that it
    ended here, stopped while it waited: its last result row was reported before it waited,
    without Tune's "done"."""
    fs, folder = trial_storage(trial)
    fs.create_dir(folder, recursive=True)
    with fs.open_output_stream(f"{folder}/{STOPPED_FILE}") as out:
        out.write(
            json.dumps(
                {"stopped_by": "asha-promote", "epoch": trial.last_result.get(TRAINING_ITERATION)}
            ).encode()
        )
