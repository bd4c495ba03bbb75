"""What Tune keeps of a trial that has ended and that nothing reads again, dropped: a search of
thousands of short trials keeps its driver lean (``benchmarks/search_soak.py`` measures it).
"""

from __future__ import annotations

from typing import Any

from ray.tune import Callback
from ray.tune.experiment import Trial

from tune_cifar.tuning.ray import forget_step_history


class TrimEndedTrials(Callback):
    """Once a trial completes, Tune's history of its last 5 and 10 values of every metric
    goes (``tune_cifar.tuning.ray._private``, item 5): a completed trial reports no more.
    Errored trials keep theirs (a retry reports on)."""

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        forget_step_history(trial)
