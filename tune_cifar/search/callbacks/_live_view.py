"""A concise live view of a running search, in place of Ray's trial table.

A ``tune.Callback`` (it runs in the driver) that prints one line whenever a trial starts or
ends, and at least every ``interval_s`` seconds:

    [00:01:12] 2 running, 3 pending, 1 stopped early, 2 done, 0 errored | best val_acc 0.6120
    (3f2a1_00004)

Ray's own output engine runs with ``verbose=0``; ``live_output()`` also hides the banner it
prints even then (its TensorBoard hint names a temporary staging folder), while LiveView
writes to the console it was started from.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any, TextIO

from ray.tune import Callback
from ray.tune.experiment import Trial

from tune_cifar.constants import (
    DIVERGED_FLAG,
    SAMPLE_NUMBER,
    SAMPLED_FROM,
    SAMPLING_WEIGHTS,
    TRAINING_ITERATION,
)
from tune_cifar.metrics import (
    DIVERGED,
    DONE,
    ERRORED,
    METRIC,
    STOPPED_EARLY,
    UNFINISHED,
    ended_status,
)
from tune_cifar.results import RunningBest

_console: TextIO | None = None  # where LiveView prints while live_output() hides Ray's prints


@contextlib.contextmanager
def live_output() -> Iterator[None]:
    """Run a search with only LiveView's lines on stdout (Ray's banner swallowed)."""
    global _console
    _console = sys.stdout
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        _console = None


def _print(line: str) -> None:
    print(line, file=_console or sys.stdout, flush=True)


ORDER = ("running", "pending", "paused", UNFINISHED, STOPPED_EARLY, DONE, DIVERGED, ERRORED)


def trial_state(trial: Trial, max_epochs: int, stopped: bool = False) -> str:
    """running / pending / paused / stopped early / done / diverged / errored, for one trial;
    ``stopped``: the search was stopped (Ctrl-C, a budget, a full storage) and Tune ended this
    trial with it, unfinished: a resume continues it."""
    if stopped and trial.status == Trial.TERMINATED:
        return UNFINISHED
    if trial.status == Trial.TERMINATED:
        result = trial.last_result or {}
        return ended_status(
            result.get(TRAINING_ITERATION, 0), max_epochs, bool(result.get(DIVERGED_FLAG))
        )
    return {
        Trial.RUNNING: "running",
        Trial.PENDING: "pending",
        Trial.PAUSED: "paused",
        Trial.ERROR: ERRORED,
    }.get(trial.status, trial.status.lower())


def _annotation(trial: Trial, key: str) -> str | None:
    """How a trial's configuration was drawn (a searcher's annotation), if it says."""
    value = (getattr(trial, "config", None) or {}).get(key)
    return str(value) if value else None


def format_elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


class LiveView(Callback):
    """Prints trial counts and the best metric so far, one line at a time."""

    def __init__(self, max_epochs: int, metric: str = METRIC, interval_s: float = 30.0) -> None:
        # No stream attribute: Tune pickles its callbacks with the run config, so this prints
        # to whatever sys.stdout is at the time.
        self.max_epochs = max_epochs
        self.metric = metric
        self.interval_s = interval_s
        self._reset()

    def _reset(self) -> None:
        self.start = time.monotonic()
        self._last_time = 0.0
        self._last_key: tuple = ()
        self._last_line = ""
        self.best = RunningBest(self.metric)  # each trial's best epoch, by best_row's rule
        self.ended: set[str] = set()  # trials Tune completed (done, stopped by ASHA)
        self._weights = ""  # PriorBand's weights as last printed
        self.started: set[str] = set()  # trials seen running
        self._began = False

    def setup(self, *args: Any, **info: Any) -> None:
        self._reset()  # a resumed search starts its clock and its view afresh

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any
    ) -> None:
        self.best.add(trial.trial_id, result)

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self.ended.add(trial.trial_id)

    def line(self, trials: list[Trial], stopped: bool = False) -> str:
        """The counts and the best so far; ``stopped``: the search was stopped, so terminated
        trials that never completed are unfinished."""
        counts = Counter(
            trial_state(t, self.max_epochs, stopped and t.trial_id not in self.ended)
            for t in trials
        )
        parts = [f"{counts[s]} {s}" for s in ORDER if counts[s] or s in ("running", DONE, ERRORED)]
        text = f"[{format_elapsed(time.monotonic() - self.start)}] " + ", ".join(parts)
        for trial in trials:  # trials restored by a resume report their last result only
            if trial.trial_id not in self.best:
                self.best.add(trial.trial_id, trial.last_result or {}, checkpointed=True)
        leader = self.best.leader()
        if leader is not None:
            text += f" | best {self.metric} {leader[1]:.4f} ({leader[0]})"
        drawn = Counter(s for t in trials if (s := _annotation(t, SAMPLED_FROM)))
        if drawn:  # PriorBand: where the configurations came from
            text += " | drawn from " + ", ".join(f"{drawn[s]} {s}" for s in sorted(drawn))
        return text

    def weights_line(self, trials: list[Trial]) -> str | None:
        """PriorBand's weights when they changed since last said, for the newest trial."""
        drawn = [
            (int(n), _annotation(t, SAMPLING_WEIGHTS))
            for t in trials
            if (n := _annotation(t, SAMPLE_NUMBER))
        ]
        latest = max(drawn)[1] if drawn else None
        if latest is None or latest == self._weights:
            return None
        self._weights = latest
        return f"PriorBand now draws new configurations: {latest}"

    def on_step_begin(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        if not self._began:  # a resume: the trials it restored as finished stay finished
            self._began = True
            self.ended.update(t.trial_id for t in trials if t.status == Trial.TERMINATED)

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        # A new line when a trial starts for the first time or ends (not when it queues, nor
        # when PBT pauses and restarts it), or after interval_s.
        self.started.update(t.trial_id for t in trials if t.status == Trial.RUNNING)
        key = (
            len(self.started),
            *sorted(
                (s, n)
                for s, n in Counter(trial_state(t, self.max_epochs) for t in trials).items()
                if s not in ("pending", "running", "paused")
            ),
        )
        if key != self._last_key or time.monotonic() - self._last_time >= self.interval_s:
            self._last_key, self._last_time = key, time.monotonic()
            self._last_line = self.line(trials)
            _print(self._last_line)
        weights = self.weights_line(trials)
        if weights is not None:
            _print(weights)

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        from tune_cifar.search._stopping import stop_reason

        line = self.line(trials, stopped=stop_reason()[0] is not None)
        if line.split("] ", 1)[-1] != self._last_line.split("] ", 1)[-1]:
            _print(line)
