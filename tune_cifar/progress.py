"""A concise live view of a running search, in place of Ray's log flood.

One line whenever a trial starts or ends, and at least every ``interval_s`` seconds:

    [00:01:12] 2 running, 3 pending, 1 stopped early, 2 done, 0 errored | best val_acc 0.6120
    (train_cifar_3f2a1_00004, epoch 3)
"""

from __future__ import annotations

import sys
import time
from collections import Counter

from ray.tune import ProgressReporter
from ray.tune.experiment import Trial


def trial_state(trial: Trial, max_epochs: int) -> str:
    """running / pending / paused / stopped early / done / errored, for one trial."""
    if trial.status == Trial.TERMINATED:
        epochs = (trial.last_result or {}).get("training_iteration", 0)
        if (trial.last_result or {}).get("diverged"):
            return "diverged"
        return "done" if epochs >= max_epochs else "stopped early"
    return {Trial.RUNNING: "running", Trial.PENDING: "pending", Trial.PAUSED: "paused",
            Trial.ERROR: "errored"}.get(trial.status, trial.status.lower())


def format_elapsed(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


class LiveView(ProgressReporter):
    """Prints trial counts and the best metric so far, one line at a time."""

    ORDER = ("running", "pending", "paused", "stopped early", "done", "diverged", "errored")

    def __init__(self, max_epochs: int, metric: str = "val_acc", interval_s: float = 30.0) -> None:
        # No stream attribute: Tune pickles the reporter with the run config, so it prints to
        # whatever sys.stdout is at the time.
        self.max_epochs = max_epochs
        self.metric = metric
        self.interval_s = interval_s
        self.start = time.monotonic()
        self._last_time = 0.0
        self._last_line_key: tuple = ()

    def _counts(self, trials: list[Trial]) -> Counter:
        return Counter(trial_state(t, self.max_epochs) for t in trials)

    def _best(self, trials: list[Trial]) -> tuple[float, Trial | None]:
        best, best_trial = float("-inf"), None
        for trial in trials:
            stats = trial.metric_analysis.get(self.metric)
            if stats and stats.get("max", float("-inf")) > best:
                best, best_trial = stats["max"], trial
        return best, best_trial

    def _key(self, counts: Counter) -> tuple:
        """What a new line is printed for: trials starting or ending, not trials queued."""
        return tuple(sorted((s, n) for s, n in counts.items() if s != "pending"))

    def should_report(self, trials: list[Trial], done: bool = False) -> bool:
        return self._key(self._counts(trials)) != self._last_line_key or (
            time.monotonic() - self._last_time >= self.interval_s)

    def report(self, trials: list[Trial], done: bool, *sys_info: dict) -> None:
        counts = self._counts(trials)
        self._last_line_key = self._key(counts)
        self._last_time = time.monotonic()
        parts = [f"{counts[s]} {s}" for s in self.ORDER
                 if counts[s] or s in ("running", "done", "errored")]
        line = f"[{format_elapsed(self._last_time - self.start)}] " + ", ".join(parts)
        best, trial = self._best(trials)
        if trial is not None:
            line += f" | best {self.metric} {best:.4f} ({trial.trial_id})"
        print(line, file=sys.stdout, flush=True)
