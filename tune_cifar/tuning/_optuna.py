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
  a trial's best checkpoint, so that is what the configuration is worth: the best of the
  epochs that saved a checkpoint, as ``tune_cifar.results.best_row`` selects);
- FAIL for a trial that raised or whose loss became NaN/inf.

``stopped_as="complete"`` keeps Ray's behaviour, for comparisons
(``benchmarks/search_quality.py`` runs both).

With ``metric=[val_acc, COST]`` (``--objective val_acc,COST``) the study has two objectives,
and a complete trial is told (best epoch's val_acc, the cost at that epoch); Optuna takes no
intermediate values for it, and Ray keeps the two metrics only if Tune's own metric (val_acc,
ASHA's) does not replace them when it hands the searcher its space.
"""

from __future__ import annotations

import math
from typing import Any

from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch

from tune_cifar.constants import DIVERGED_FLAG, TRAINING_ITERATION
from tune_cifar.metrics import DIVERGED, METRIC, STOPPED_EARLY, ended_status
from tune_cifar.results import RunningBest
from tune_cifar.tuning.ray import optuna_told, tell_optuna


class AshaAwareOptunaSearch(OptunaSearch):
    """OptunaSearch that reports ASHA-stopped trials as pruned (see the module's text)."""

    def __init__(
        self,
        *args: Any,
        max_epochs: int,
        stopped_as: str = "pruned",
        evaluated: list[tuple[dict[str, Any], float]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # (params, value) of earlier trials, told to the study once Tune gives it its space
        self._evaluated = list(evaluated or [])
        if stopped_as not in ("pruned", "complete"):
            raise ValueError(f"stopped_as must be pruned or complete, not {stopped_as!r}")
        self.max_epochs = max_epochs
        self.stopped_as = stopped_as
        self._objectives = (
            (list(self.metric), list(self.mode)) if isinstance(self.metric, list) else None
        )
        # each trial's best epoch (best_row's rule), with the cost there
        self._best = RunningBest(METRIC, keep=self._objectives[0][1:] if self._objectives else ())

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        """Tune hands the searcher its space here, and Ray creates the study: then the earlier
        trials of a warm start are added to it as complete (``add_evaluated_point``)."""
        if self._objectives is not None:  # Tune's single metric would replace the two
            metric, mode = self._objectives
        ready = super().set_search_properties(metric, mode, config, **spec)
        if ready:
            for params, value in self._evaluated:
                self.add_evaluated_point(params, value)
            self._evaluated = []
        return ready

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        self._best.add(trial_id, result)
        super().on_trial_result(trial_id, result)  # (Ray skips it for two objectives)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        if self.stopped_as == "complete" or optuna_told(self, trial_id):
            return super().on_trial_complete(trial_id, result, error)
        result = result or {}
        best = self._best.pop(trial_id)
        status = ended_status(
            result.get(TRAINING_ITERATION, 0), self.max_epochs, bool(result.get(DIVERGED_FLAG))
        )
        if error or best is None or status == DIVERGED:
            state, value = TrialState.FAIL, None
        elif status == STOPPED_EARLY:
            state, value = TrialState.PRUNED, None  # Optuna records the last reported value
        else:
            best_value = best[METRIC]
            cost = best[self._objectives[0][1]] if self._objectives is not None else None
            state = TrialState.COMPLETE
            value = [best_value, cost] if self._objectives is not None else best_value
            if self._objectives is not None and not (
                isinstance(cost, (int, float)) and math.isfinite(cost)
            ):
                state, value = TrialState.FAIL, None  # no cost measured: nothing to rank
        tell_optuna(self, trial_id, value, state)
        return None
