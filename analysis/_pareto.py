"""Accuracy against cost: the Pareto front of a search (``--objective val_acc,COST``).

    front = pareto_front(exp.trials, "cost.params")  # no other trial beats these on both
    seeds = seed_trials(exp)                            # the trials that ran a seed config

A trial is on the front when no other trial that ran every epoch has a higher best val_acc
at a cost no higher (or a lower cost at a val_acc no lower): the trials Optuna's
``study.best_trials`` returns for the same values. Trials ASHA stopped early are left out,
as Optuna leaves out pruned trials: their val_acc was measured after fewer epochs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tune_cifar.analysis._frames import Experiment
from tune_cifar.config import TrialConfig
from tune_cifar.metrics import DONE, METRIC
from tune_cifar.search_spaces.seed_study import SPACE as SEED_CONFIGS

BEST = f"best_{METRIC}"
COST_LABELS = {
    "cost.params": "parameters",
    "cost.epoch_time_s": "epoch time (s)",
    "cost.inference_ms": "inference (ms per image, batched)",
}


def pareto_front(trials: pd.DataFrame, cost: str) -> pd.DataFrame:
    """The non-dominated trials that ran every epoch, cheapest first."""
    done = trials[
        (trials["status"] == DONE)
        & np.isfinite(trials[BEST].astype(float))
        & np.isfinite(trials[cost].astype(float))
    ]
    # cheapest first, and of equal costs the most accurate: a trial is on the front when it
    # beats the val_acc of every cheaper (or equally cheap, listed earlier) trial
    ordered = done.sort_values([cost, BEST], ascending=[True, False], kind="stable")
    best_so_far = ordered[BEST].cummax().shift(fill_value=-np.inf)
    return ordered[ordered[BEST] > best_so_far].reset_index(drop=True)


def _key(config: dict) -> dict:
    """A configuration as a comparable dict, the seed left out."""
    return {k: v for k, v in TrialConfig.from_dict(config).to_dict().items() if k != "seed"}


def seed_trials(exp: Experiment) -> dict[str, int]:
    """Trial id -> the seed study's run number (1-6) it trained, for the trials of the
    experiment whose configuration is one of the seed's (``--warm-start seed`` runs them)."""
    seeds = [_key(c) for c in SEED_CONFIGS]
    found = {}
    for _, trial in exp.trials.iterrows():
        config = {
            c.removeprefix("config."): trial[c]
            for c in exp.config_columns
            if not (isinstance(trial[c], float) and np.isnan(trial[c]))
        }
        try:
            key = _key(config)
        except Exception:  # a configuration this release no longer reads
            continue
        if key in seeds:
            found[trial["trial_id"]] = seeds.index(key) + 1
    return found


def format_cost(cost: str, value: float) -> str:
    """A cost for people: a parameter count whole, with thousands separated; times to 4
    significant digits."""
    return f"{value:,.0f}" if cost == "cost.params" else f"{value:.4g}"
