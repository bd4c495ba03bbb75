"""Ray's OptunaSearch, told what ASHA did: multi-fidelity TPE done right.

Ray 2.60's ``OptunaSearch`` reports every epoch to Optuna as an intermediate value, but when a
scheduler stops a trial early it tells Optuna the trial is COMPLETE, with the value of its last
epoch. TPE then takes "2 epochs, 0.41" as a finished configuration worth 0.41 and ranks it
beside trials that ran to the end. Optuna's own convention for a trial stopped early is
PRUNED: when TPE splits the trials into good and bad, it fills the good group with complete
trials first, then with pruned trials ordered by the furthest epoch they reached and their
value there (``_split_trials`` in ``optuna/samplers/_tpe/sampler.py``), the multi-fidelity
ranking ASHA itself uses.

``AshaAwareOptunaSearch`` tells Optuna:

- PRUNED for a trial that ended before ``max_epochs`` (ASHA stopped it), its per-epoch values
  already reported;
- COMPLETE with the best epoch's value for a trial that ran every epoch (tune-cifar selects
  a trial's best checkpoint, so that is what the configuration is worth);
- FAIL for a trial that raised or whose loss became NaN/inf.

``stopped_as="complete"`` keeps Ray's behaviour, for comparisons
(``benchmarks/search_quality.py`` runs both).
"""

from __future__ import annotations

import math
from typing import Any

from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch


class AshaAwareOptunaSearch(OptunaSearch):
    """OptunaSearch that reports ASHA-stopped trials as pruned (see the module's text)."""

    def __init__(self, *args: Any, max_epochs: int, stopped_as: str = "pruned",
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if stopped_as not in ("pruned", "complete"):
            raise ValueError(f"stopped_as must be pruned or complete, not {stopped_as!r}")
        self.max_epochs = max_epochs
        self.stopped_as = stopped_as
        self._best: dict[str, float] = {}  # trial id -> best value reported

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        value = result.get(self.metric)
        if isinstance(value, (int, float)) and math.isfinite(value):
            self._best[trial_id] = max(value, self._best.get(trial_id, -math.inf))
        super().on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        if self.stopped_as == "complete" or trial_id in self._completed_trials:
            return super().on_trial_complete(trial_id, result, error)
        result = result or {}
        best = self._best.pop(trial_id, None)
        if error or result.get("diverged") or best is None:
            state, value = TrialState.FAIL, None
        elif result.get("training_iteration", 0) < self.max_epochs:
            state, value = TrialState.PRUNED, None  # Optuna records the last reported value
        else:
            state, value = TrialState.COMPLETE, best
        self._ot_study.tell(self._ot_trials[trial_id], value, state=state)
        self._completed_trials.add(trial_id)
        return None
