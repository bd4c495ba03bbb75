"""A trial's best epoch, and the best trial: the one rule every command uses.

    best = best_trial(folder)                # the best trial's best epoch, with its checkpoint
    print(best.summary())

A trial's best epoch is its highest-``val_acc`` epoch among those that saved a checkpoint
still kept, the latest of equal ones (``epoch_rank``); only a trial with no checkpoint at all
falls back to all its epochs. ``best_row`` applies it to a trial's files, ``RunningBest`` to
the reports as they come (the live view, the Optuna searcher): the same rule, where a report
says only whether it saved a checkpoint, not whether retention kept it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tune_cifar.constants import CHECKPOINT_DIR_NAME, TRAINING_ITERATION
from tune_cifar.metrics import METRIC
from tune_cifar.results._trials import (
    Row,
    TrialRecord,
    epochs_run,
    finite,
    format_value,
    load_trials,
)
from tune_cifar.storage import shown


def epoch_rank(value: float, checkpointed: bool) -> tuple[bool, float]:
    """How an epoch ranks for its trial's best: epochs with a checkpoint before those without,
    then by value. Of equal ranks the latest wins, since Tune's retention keeps the newest of
    equal scores."""
    return checkpointed, value


@dataclass(frozen=True)
class BestTrial:
    trial_id: str
    trial_dir: Path
    config: dict[str, Any]
    metric: str
    value: float
    epoch: int
    epochs_run: int
    checkpoint: Path | None

    def summary(self) -> str:
        keys = {k: v for k, v in self.config.items() if k != "seed"}
        config = " ".join(f"{k}={format_value(v)}" for k, v in keys.items())
        return (
            f"best trial {self.trial_id}: {self.metric} {self.value:.4f} at epoch "
            f"{self.epoch} of {self.epochs_run}\n  config: {config}\n"
            f"  checkpoint: {shown(self.checkpoint) or '(none kept)'}"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "trial_id": self.trial_id,
            "trial_dir": shown(self.trial_dir),
            "config": self.config,
            "metric": self.metric,
            "value": self.value,
            "epoch": self.epoch,
            "epochs_run": self.epochs_run,
            "checkpoint": shown(self.checkpoint) if self.checkpoint else None,
        }


def best_row(
    trial: TrialRecord, metric: str = METRIC, scope: str = "best"
) -> tuple[Row, Path | None] | None:
    """The epoch a trial is judged by, with its checkpoint: its last epoch (``scope="last"``)
    or its best epoch. This is the one definition of a trial's best epoch, used by ``best``,
    ``evaluate``, ``confirm``, the analysis frames and report, and the Optuna journal.

    The best epoch is the highest-scoring one among those whose checkpoint is kept
    (``epoch_rank``), so that the best can always be restored: with ``--checkpoint-every``
    above 1 the epochs between checkpoints are not candidates. Only a trial with no checkpoint
    at all falls back to all its epochs (and names no checkpoint)."""
    rows = [r for r in trial.epochs if finite(r.get(metric))]
    if not rows:
        return None
    if scope == "last":
        return rows[-1], trial.checkpoint_at(rows[-1])
    found = [(row, trial.checkpoint_at(row)) for row in rows]
    # the latest of equal ranks: max over (rank, position)
    _, i = max(
        (epoch_rank(float(row[metric]), checkpoint is not None), i)
        for i, (row, checkpoint) in enumerate(found)
    )
    return found[i]


def best_trial(folder: Path, metric: str = METRIC, scope: str = "best") -> BestTrial | None:
    """The trial with the highest ``metric`` (see ``best_row``), with a checkpoint that exists
    whenever any trial kept one."""
    return best_of(load_trials(folder), metric, scope)


def best_of(
    trials: list[TrialRecord], metric: str = METRIC, scope: str = "best"
) -> BestTrial | None:
    """``best_trial`` of trials already loaded."""
    best: BestTrial | None = None
    for trial in trials:
        found = best_row(trial, metric, scope)
        if found is None:
            continue
        row, checkpoint = found
        candidate = BestTrial(
            trial_id=trial.trial_id,
            trial_dir=trial.trial_dir,
            config=trial.config_at(int(row[TRAINING_ITERATION])),
            metric=metric,
            value=float(row[metric]),
            epoch=int(row[TRAINING_ITERATION]),
            epochs_run=epochs_run(trial),
            checkpoint=checkpoint,
        )
        if best is None or _rank(candidate) > _rank(best):
            best = candidate
    return best


def _rank(best: BestTrial) -> tuple[bool, float]:
    """Trials with a kept checkpoint first, then by value."""
    return best.checkpoint is not None, best.value


class RunningBest:
    """``best_row``'s rule over reports as they arrive, per trial: each trial's best epoch so
    far (a report's checkpoint counts as kept: retention has not run yet). Of that epoch's
    report it keeps the metric and the keys in ``keep`` only."""

    def __init__(self, metric: str = METRIC, keep: Sequence[str] = ()) -> None:
        self.metric = metric
        self.keep = tuple(keep)
        self._best: dict[str, tuple[tuple[bool, float], dict[str, Any]]] = {}
        self._leader: tuple[str, float] | None = None  # leader(), kept as reports arrive
        self._leader_stale = False  # the leader's value fell or it ended: find it again

    def add(
        self, trial_id: str, result: Mapping[str, Any], checkpointed: bool | None = None
    ) -> None:
        """One report of ``trial_id``; ``checkpointed``: whether it saved a checkpoint (by
        default, whether the report names one)."""
        value = result.get(self.metric)
        if not isinstance(value, (int, float)) or not math.isfinite(value):
            return
        if checkpointed is None:
            checkpointed = bool(result.get(CHECKPOINT_DIR_NAME))
        rank = epoch_rank(float(value), checkpointed)
        if trial_id not in self._best or rank >= self._best[trial_id][0]:
            kept = {key: result.get(key) for key in self.keep}
            self._best[trial_id] = (rank, {self.metric: float(value), **kept})
            self._follow(trial_id, float(value))

    def _follow(self, trial_id: str, value: float) -> None:
        """Keep leader() current after ``trial_id``'s best became ``value``: O(1) unless the
        leader fell or a tie needs the insertion order."""
        if self._leader_stale:
            return
        if self._leader is None or value > self._leader[1]:
            self._leader = (trial_id, value)
        elif (trial_id == self._leader[0] and value < self._leader[1]) or value == self._leader[1]:
            self._leader_stale = True

    def __contains__(self, trial_id: str) -> bool:
        return trial_id in self._best

    def result(self, trial_id: str) -> dict[str, Any] | None:
        """The metric and the kept keys of the trial's best epoch so far (None before any
        finite value)."""
        found = self._best.get(trial_id)
        return None if found is None else found[1]

    def pop(self, trial_id: str) -> dict[str, Any] | None:
        """``result``, and the trial forgotten (it ended)."""
        found = self._best.pop(trial_id, None)
        if self._leader is not None and trial_id == self._leader[0]:
            self._leader_stale = True
        return None if found is None else found[1]

    def leader(self) -> tuple[str, float] | None:
        """(trial id, value) of the best trial so far, by value (the first of equal ones)."""
        if self._leader_stale:
            self._leader_stale = False
            self._leader = None
            if self._best:
                trial_id = max(self._best, key=lambda t: self._best[t][0][1])
                self._leader = (trial_id, self._best[trial_id][0][1])
        return self._leader
