"""A concise live view of a running search, in place of Ray's trial table.

A ``tune.Callback`` (it runs in the driver) that prints one line whenever a trial starts or
ends, and at least every ``interval_s`` seconds:

    [00:01:12] 2 running, 3 pending, 1 stopped early, 2 done, 0 errored | best val_acc 0.6120
    (3f2a1_00004) | 14 of at most 56 trial-epochs, 12.3/min, at most 00:03:25 left

where a person watches above tqdm's bar of the trial-epochs: a terminal, or a notebook with
ipywidgets (its widget; a text bar in a notebook's output would be a line per update).

Ray's own output engine runs with ``verbose=0``; ``live_output()`` also hides the banner it
prints even then (its TensorBoard hint names a temporary staging folder), while LiveView
writes to the console it was started from.
"""

from __future__ import annotations

import contextlib
import importlib.util
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
    NICE,
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
    return _STATUS.get(trial.status, trial.status.lower())


_STATUS = {  # Tune's status -> the view's word, for trials that have not ended
    Trial.RUNNING: "running",
    Trial.PENDING: "pending",
    Trial.PAUSED: "paused",
    Trial.ERROR: ERRORED,
}


def _annotation(trial: Trial, key: str) -> str | None:
    """How a trial's configuration was drawn (a searcher's annotation), if it says."""
    value = (getattr(trial, "config", None) or {}).get(key)
    return str(value) if value else None


def format_elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


class LiveView(Callback):
    """Prints trial counts and the best metric so far, one line at a time.

    It keeps its counts as Tune's hooks fire rather than rescanning every trial at every
    controller step: a step costs O(trials added since the last one), and a printed line
    one pass over the trials' statuses. (At 2,000 trials the rescan was 44% of the driver's
    time, most of it in ``Trial.last_result``.)"""

    def __init__(
        self,
        max_epochs: int,
        metric: str = METRIC,
        interval_s: float = 30.0,
        min_gap_s: float = 1.0,
        nice: int | None = None,
        planned_epochs: int | None = None,
        time_budget_s: float | None = None,
        bar: bool | None = None,
    ) -> None:
        # No stream attribute: Tune pickles its callbacks with the run config, so this prints
        # to whatever sys.stdout is at the time.
        self.max_epochs = max_epochs
        self.metric = metric
        self.interval_s = interval_s
        self.min_gap_s = min_gap_s  # change lines come at most this often (10,000 trials)
        self.nice = nice  # the trial processes' niceness asked for: said once if not met
        # How far the search is: trial-epochs done of at most ``planned_epochs`` (every
        # trial to its last epoch, or the epoch budget), and the time budget's end.
        self.planned_epochs = planned_epochs
        self.time_budget_s = time_budget_s
        # A progress bar of the trial-epochs (tqdm's, with its rate and ETA) above the lines,
        # by default where a person watches: a terminal or a notebook; plain lines elsewhere.
        self.bar = bar
        self._bar: Any = None
        self._reset()

    def _reset(self) -> None:
        self.start = time.monotonic()
        self._last_time = float("-inf")
        self._last_key: tuple = ()
        self._last_line = ""
        self.best = RunningBest(self.metric)  # each trial's best epoch, by best_row's rule
        self.ended: dict[str, str] = {}  # trial id -> how it ended, once Tune ended it
        self._ended_counts: Counter[str] = Counter()
        self.started: set[str] = set()  # trials seen running
        self._seen = 0  # trials[:_seen] have been looked at (Tune only appends)
        self._drawn: Counter[str] = Counter()  # PriorBand: where configurations came from
        self._newest_draw = (0, "")  # (sample number, weights) of the newest draw
        self._weights = ""  # PriorBand's weights as last printed
        self._began = False
        self._nice_said = False
        self.epochs_before = 0  # trial-epochs a resumed search had done before this run
        self.epochs_now = 0  # trial-epochs reported in this run

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_bar": None}  # (Tune pickles its callbacks; a bar is not)

    def setup(self, *args: Any, **info: Any) -> None:
        self._reset()  # a resumed search starts its clock and its view afresh

    def _wants_bar(self) -> bool:
        if self.planned_epochs is None:
            return False
        if self.bar is not None:
            return self.bar
        stream = _console or sys.stdout
        if "ipykernel" in sys.modules:  # a notebook: tqdm's widget, where it can draw one
            return importlib.util.find_spec("ipywidgets") is not None
        return bool(getattr(stream, "isatty", lambda: False)())

    def _say(self, line: str) -> None:
        """A line, above the bar where there is one."""
        if self._bar is None and self._wants_bar():
            from tqdm.auto import tqdm  # (in a notebook, the widget)

            self._bar = tqdm(
                total=self.planned_epochs,
                initial=self.epochs_done,
                unit=" trial-epochs",
                file=_console or sys.stdout,
                dynamic_ncols=True,
            )
        if self._bar is None:
            _print(line)
            return
        self._bar.write(line, file=_console or sys.stdout)
        self._sync_bar()

    @property
    def epochs_done(self) -> int:
        """Trial-epochs of the whole search: before a resume and in this run."""
        return self.epochs_before + self.epochs_now

    def _sync_bar(self) -> None:
        if self._bar is not None and self._bar.n != self.epochs_done:
            self._bar.n = self.epochs_done
            self._bar.refresh()

    def _end(self, trial: Trial, state: str) -> None:
        previous = self.ended.get(trial.trial_id)
        if previous is not None:
            self._ended_counts[previous] -= 1
        self.ended[trial.trial_id] = state
        self._ended_counts[state] += 1

    def on_trial_start(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self.started.add(trial.trial_id)

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any
    ) -> None:
        self.best.add(trial.trial_id, result)
        self.epochs_now += 1
        got = result.get(NICE)
        if self.nice is not None and got is not None and got != self.nice and not self._nice_said:
            self._nice_said = True
            print(
                f"tune-cifar: warning: trials run at nice {got}, not {self.nice} (--nice): "
                f"Ray started its workers at {got} and they may not go lower; start the "
                f"cluster with RAY_worker_niceness={self.nice} ray start ...",
                file=sys.stderr,
                flush=True,
            )

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        result = trial.last_result or {}
        self._end(
            trial,
            ended_status(
                result.get(TRAINING_ITERATION, 0), self.max_epochs, bool(result.get(DIVERGED_FLAG))
            ),
        )

    def on_trial_error(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._end(trial, ERRORED)

    def _look_at_new(self, trials: list[Trial]) -> None:
        """The trials added since the last step: their draws, and at the first step of a
        resume, the results and end states of the trials it restored."""
        if len(trials) < self._seen:  # not Tune's append-only list: look at all again
            self._seen, self._drawn = 0, Counter()
        first = not self._began
        self._began = True
        for trial in trials[self._seen :]:
            if first:  # a resume restores trials with their last result and status
                restored = trial.last_result or {}
                self.best.add(trial.trial_id, restored, checkpointed=True)
                self.epochs_before += int(restored.get(TRAINING_ITERATION, 0) or 0)
                if trial.status == Trial.TERMINATED:
                    self.on_trial_complete(0, trials, trial)
                elif trial.status == Trial.ERROR:
                    self._end(trial, ERRORED)
            if source := _annotation(trial, SAMPLED_FROM):
                self._drawn[source] += 1
            if number := _annotation(trial, SAMPLE_NUMBER):
                weights = _annotation(trial, SAMPLING_WEIGHTS) or ""
                self._newest_draw = max(self._newest_draw, (int(number), weights))
        self._seen = len(trials)

    def line(self, trials: list[Trial], stopped: bool = False) -> str:
        """The counts and the best so far; ``stopped``: the search was stopped, so terminated
        trials that never completed are unfinished."""
        self._look_at_new(trials)
        counts: Counter[str] = Counter()
        for trial in trials:
            status = trial.status
            if status == Trial.TERMINATED:
                ended = self.ended.get(trial.trial_id)
                if ended is None:  # ended by a stop, or not yet completed
                    ended = UNFINISHED if stopped else trial_state(trial, self.max_epochs)
                counts[ended] += 1
            else:
                counts[_STATUS.get(status, status.lower())] += 1
        parts = [f"{counts[s]} {s}" for s in ORDER if counts[s] or s in ("running", DONE, ERRORED)]
        text = f"[{format_elapsed(time.monotonic() - self.start)}] " + ", ".join(parts)
        leader = self.best.leader()
        if leader is not None:
            text += f" | best {self.metric} {leader[1]:.4f} ({leader[0]})"
        if self._drawn:  # PriorBand: where the configurations came from
            drawn = self._drawn
            text += " | drawn from " + ", ".join(f"{drawn[s]} {s}" for s in sorted(drawn))
        progress = self.progress()
        if progress:
            text += " | " + progress
        return text

    def progress(self) -> str:
        """Trial-epochs done (of at most how many), the rate this run has measured, and the
        time left at that rate, capped by the time budget: "14 of at most 56 trial-epochs,
        12.3/min, at most 00:03:25 left". Empty where nothing bounds the search."""
        if self.planned_epochs is None and self.time_budget_s is None:
            return ""
        elapsed = time.monotonic() - self.start
        done = self.epochs_done
        text = f"{done} trial-epochs"
        if self.planned_epochs is not None:
            text = f"{done} of at most {self.planned_epochs} trial-epochs"
        if self.epochs_now == 0 or elapsed <= 0:
            return text
        rate = self.epochs_now / elapsed  # trial-epochs per second, this run's own
        left = [] if self.planned_epochs is None else [(self.planned_epochs - done) / rate]
        if self.time_budget_s is not None:
            left.append(self.time_budget_s - elapsed)
        text += f", {60 * rate:.1f}/min"
        if left:
            text += f", at most {format_elapsed(max(0.0, min(left)))} left"
        return text

    def weights_line(self, trials: list[Trial]) -> str | None:
        """PriorBand's weights when they changed since last said, for the newest trial."""
        self._look_at_new(trials)
        latest = self._newest_draw[1]
        if not latest or latest == self._weights:
            return None
        self._weights = latest
        return f"PriorBand now draws new configurations: {latest}"

    def on_step_begin(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        self._look_at_new(trials)

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        # A new line when a trial starts for the first time or ends (not when it queues, nor
        # when PBT pauses and restarts it), at most every min_gap_s, or after interval_s.
        self._look_at_new(trials)
        key = (len(self.started), *sorted((s, n) for s, n in self._ended_counts.items() if n))
        since = time.monotonic() - self._last_time
        if (key != self._last_key and since >= self.min_gap_s) or since >= self.interval_s:
            self._last_key, self._last_time = key, time.monotonic()
            self._last_line = self.line(trials)
            self._say(self._last_line)
        else:
            self._sync_bar()
        weights = self.weights_line(trials)
        if weights is not None:
            self._say(weights)

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        from tune_cifar.tuning._stopping import stop_reason

        line = self.line(trials, stopped=stop_reason()[0] is not None)
        if line.split("] ", 1)[-1] != self._last_line.split("] ", 1)[-1]:
            self._say(line)
        if self._bar is not None:
            self._bar.close()
            self._bar = None
