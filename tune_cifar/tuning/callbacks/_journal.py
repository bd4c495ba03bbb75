"""The Optuna journal written live from Tune's driver during a search (``tune_cifar.results``
holds the journal itself: its study, its trials, and its rebuilding from Tune's files).

An experiment in object storage has its journal written by the driver in the local cache
(``tune_cifar.storage``) and uploaded beside the trials every ``UPLOAD_S`` seconds and when the
run ends, so that a dashboard on another machine follows the search.

    callbacks = [JournalCallback(space_distributions(space), max_epochs, study_attrs(spec))]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune import Callback
from ray.tune.experiment import Trial

from tune_cifar.constants import (
    CHECKPOINT_DIR_NAME,
    DIVERGED_FLAG,
    JOURNAL_FILE,
    TRAINING_ITERATION,
)
from tune_cifar.errors import error_line
from tune_cifar.metrics import ERRORED, METRIC, ended_status
from tune_cifar.results import JournalRecorder, TrialRecord, load_trial, trial_end_attrs
from tune_cifar.storage import cache_folder, local_copy, storage_place, upload
from tune_cifar.tuning.callbacks._result_files import trial_folder

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

UPLOAD_S = 15  # seconds between uploads of the journal of an experiment in object storage
FLUSH_S = 1.0  # seconds between writes of the journal's new lines (a resume fills any gap)


class JournalCallback(Callback):
    """Writes the study live from Tune's driver: trial start, every epoch, trial end.

    The lines are written together every ``FLUSH_S`` and when the search ends (one locked
    append per line was 12% of the driver's time at 2,000 trials); a driver killed between
    two writes leaves a gap that its resume fills from Tune's files (``build_journal``).
    Each trial's reported epochs are kept here as well, since Tune's result.json may not be
    flushed when a trial ends. Tune pickles its callbacks with the experiment; the journal is
    opened on first use, in the folder the trials live in (a moved experiment writes where
    it is now)."""

    def __init__(
        self,
        distributions: dict[str, BaseDistribution],
        max_epochs: int,
        attrs: dict[str, Any],
        metric: str = METRIC,
        remote: str | None = None,
        cost: str | None = None,
    ) -> None:
        self.remote = remote  # the experiment's URI when it lives in object storage
        self.cost = cost  # a multi-objective search's reported cost metric
        self._uploaded = 0.0
        self._flushed = 0.0
        self.distributions = distributions
        self.max_epochs = max_epochs
        self.attrs = attrs
        self.metric = metric
        self._recorder: JournalRecorder | None = None
        self._epochs: dict[str, dict[int, dict[str, Any]]] = {}  # trial id -> epoch -> row
        self._warned = False

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_recorder": None}

    def open(self, folder: Path) -> None:
        """Write the study now, before any trial starts: a dashboard opened at once finds the
        live journal instead of building one from Tune's files."""
        self._safely(
            "the study",
            lambda: setattr(self, "_recorder", self._open(folder)),
        )
        self.flush(now=True)

    def _open(self, folder: Path) -> JournalRecorder:
        return JournalRecorder(
            folder, self.distributions, self.metric, self.attrs, self.cost, batched=True
        )

    def trial_dir(self, trial: Trial) -> Path:
        """The trial's folder to read here: Tune's, or its local copy for object storage."""
        if self.remote is None:
            return trial_folder(trial)
        return cache_folder(storage_place(self.remote)) / trial_folder(trial).name

    def recorder(self, trial: Trial) -> JournalRecorder:
        if self._recorder is None:
            self._recorder = self._open(self.trial_dir(trial).parent)
        return self._recorder

    def flush(self, now: bool = False) -> None:
        """Write the journal's new lines (at most every FLUSH_S unless ``now``)."""
        recorder = self._recorder
        if recorder is None or (not now and time.monotonic() - self._flushed < FLUSH_S):
            return
        self._flushed = time.monotonic()
        self._safely("its new lines", recorder.flush)

    def upload(self, now: bool = False) -> None:
        """Copy the journal beside the trials in object storage (at most every UPLOAD_S)."""
        if self.remote is None or (not now and time.monotonic() - self._uploaded < UPLOAD_S):
            return
        self._uploaded = time.monotonic()
        self.flush(now=True)
        place = storage_place(self.remote)
        self._safely(
            "its upload",
            lambda: upload(cache_folder(place) / JOURNAL_FILE, place.child(JOURNAL_FILE)),
        )

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        self.flush()
        self.upload()

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        self.flush(now=True)
        self.upload(now=True)

    def _safely(self, what: str, write: Callable[[], object]) -> None:
        """The journal is a record beside the search: a failure to write it is said once, on
        stderr, and the search goes on (Tune would count it as the trial's failure)."""
        try:
            write()
        except Exception as exc:
            if not self._warned:
                self._warned = True
                print(
                    f"tune-cifar: warning: the Optuna journal could not record {what} "
                    f"({type(exc).__name__}: {exc}); the search goes on",
                    file=sys.stderr,
                )

    def trial_record(self, trial: Trial, error: str | None = None) -> TrialRecord:
        """The trial as the epochs seen here describe it (Tune's result.json may lag)."""
        seen = self._epochs.get(trial.trial_id, {})
        rows = [seen[e] for e in sorted(seen)]
        return TrialRecord(self.trial_dir(trial), trial.trial_id, trial.config, rows, error)

    def on_trial_start(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        if trial.trial_id not in self._epochs:  # restored by a resume: its epochs so far
            folder = self.trial_dir(trial)
            earlier = load_trial(folder) if folder.is_dir() else None
            self._epochs[trial.trial_id] = (
                {} if earlier is None else {int(r[TRAINING_ITERATION]): r for r in earlier.epochs}
            )
        self._safely(
            f"trial {trial.trial_id}'s start",
            lambda: self.recorder(trial).start(trial.trial_id, trial.config, self.trial_dir(trial)),
        )

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any
    ) -> None:
        epoch = int(result[TRAINING_ITERATION])
        self._epochs.setdefault(trial.trial_id, {})[epoch] = {
            TRAINING_ITERATION: epoch,
            self.metric: result.get(self.metric),
            CHECKPOINT_DIR_NAME: result.get(CHECKPOINT_DIR_NAME),
            **({self.cost: result.get(self.cost)} if self.cost else {}),
        }
        self._safely(
            f"trial {trial.trial_id}'s epoch {epoch}",
            lambda: self.recorder(trial).epoch(trial.trial_id, epoch, result.get(self.metric)),
        )

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        result = trial.last_result or {}
        status = ended_status(
            result.get(TRAINING_ITERATION, 0), self.max_epochs, bool(result.get(DIVERGED_FLAG))
        )
        self._checkpoints_of(trial)
        self._safely(
            f"trial {trial.trial_id}'s end",
            lambda: self.recorder(trial).end(
                trial.trial_id, status, trial_end_attrs(self.trial_record(trial), cost=self.cost)
            ),
        )

    def _checkpoints_of(self, trial: Trial) -> None:
        """For object storage: the names of the trial's kept checkpoints, into its local copy
        (which epoch is best depends on which checkpoints are kept)."""
        remote = self.remote
        if remote is not None:
            self._safely(
                f"trial {trial.trial_id}'s checkpoints",
                lambda: local_copy(storage_place(remote).child(trial_folder(trial).name)),
            )

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        error = trial.get_error()
        record = self.trial_record(trial, error_line(error) if error is not None else None)
        self._safely(
            f"trial {trial.trial_id}'s end",
            lambda: self.recorder(trial).end(
                trial.trial_id, ERRORED, trial_end_attrs(record, cost=self.cost)
            ),
        )
