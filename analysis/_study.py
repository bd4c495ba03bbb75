"""The trials of an experiment as an Optuna study, for Optuna's importance and plots.

Each trial with a finite best val_acc becomes a finished Optuna trial whose parameters are the
hyperparameters that varied; distributions come from the values seen (log-scaled where the
search space samples on a log scale).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import optuna

    from tune_cifar.analysis._frames import Experiment


def log_scaled(exp: Experiment) -> set[str]:
    """Config keys the experiment's search space samples log-uniformly, as its spec recorded
    them (none for an experiment whose spec predates that record)."""
    from tune_cifar.results import recorded_distributions

    distributions = recorded_distributions(exp.spec) or {}
    return {k for k, d in distributions.items() if getattr(d, "log", False)}


def _distribution(values: pd.Series, log: bool) -> Any:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return CategoricalDistribution(sorted(values.astype(str).unique()))
    low, high = float(values.min()), float(values.max())
    if pd.api.types.is_integer_dtype(values) and values.nunique() > 4:
        return IntDistribution(int(low), int(high), log=log and low > 0)
    if values.nunique() <= 4:
        return CategoricalDistribution(sorted(values.unique().tolist()))
    return FloatDistribution(low, high, log=log and low > 0)


def as_optuna_study(exp: Experiment) -> optuna.Study | None:
    """An in-memory study of the experiment's trials, or None if nothing varies."""
    import optuna

    params = exp.hyperparameters
    trials = exp.trials[np.isfinite(exp.trials["best_val_acc"].astype(float))]
    if not params or trials.empty:
        return None
    scaled = exp.log_scaled
    dists = {
        p.removeprefix("config."): _distribution(trials[p], p.removeprefix("config.") in scaled)
        for p in params
    }
    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(direction="maximize")
    for _, row in trials.iterrows():
        values = {}
        for p in params:
            name = p.removeprefix("config.")
            value = row[p]
            if isinstance(dists[name], optuna.distributions.CategoricalDistribution):
                value = value if value in dists[name].choices else str(value)
            elif isinstance(dists[name], optuna.distributions.IntDistribution):
                value = int(value)
            else:
                value = float(value)
            values[name] = value
        study.add_trial(
            optuna.trial.create_trial(
                params=values, distributions=dists, value=float(row["best_val_acc"])
            )
        )
    return study


MIN_TRIALS_FOR_IMPORTANCE = 3
IMPORTANCE_TRIALS = 2000  # fANOVA on a seeded sample of at most this many trials


def param_importances(study: optuna.Study | None) -> dict[str, float]:
    """Optuna's fANOVA importances (a seeded random forest), most important first; {} when
    the study has fewer than three trials, or when every trial scored the same (no variance
    to explain: fANOVA raises). fANOVA copes with few trials and categorical choices better
    than Optuna's default PED-ANOVA, whose top-quantile split needs many."""
    # (Study.trials deep-copies every trial at each call: read them once, uncopied)
    trials = study.get_trials(deepcopy=False) if study is not None else []
    if study is None or len(trials) < MIN_TRIALS_FOR_IMPORTANCE:
        return {}
    if len({t.value for t in trials if t.value is not None}) < 2:
        return {}
    import optuna

    if len(trials) > IMPORTANCE_TRIALS:  # a seeded sample: fANOVA's forest grows
        # with the trials (minutes at 10,000); the importance plot names the sample
        sample = optuna.create_study(directions=study.directions)
        rng = np.random.default_rng(0)
        picked = rng.choice(len(trials), IMPORTANCE_TRIALS, replace=False)
        sample.add_trials([trials[i] for i in sorted(picked)])
        study = sample
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))


def important_params(exp: Experiment, limit: int) -> list[str]:
    """Up to ``limit`` varying config columns, the most important first; in column order when
    importance cannot be computed."""
    params = exp.hyperparameters
    if len(params) <= limit or not exp.importances:
        return params[:limit]
    return [f"config.{name}" for name in exp.importances][:limit]


def precomputed_evaluator(importances: dict[str, float]) -> Any:
    """An Optuna importance evaluator that hands back importances already computed, so
    Optuna's importance plot draws them without fitting fANOVA again."""
    import optuna

    class Precomputed(optuna.importance.BaseImportanceEvaluator):
        def evaluate(
            self, study: optuna.Study, params: list[str] | None = None, *, target: Any = None
        ) -> dict[str, float]:
            return {k: v for k, v in importances.items() if params is None or k in params}

    return Precomputed()


def top_trials_study(exp: Experiment, top: int) -> optuna.Study | None:
    """The experiment's study cut to its ``top`` best trials (for parallel coordinates)."""
    if exp.study is None:
        return None
    import optuna

    # (every trial of it has a value: as_optuna_study adds finished trials only)
    trials = exp.study.get_trials(deepcopy=False)
    best = sorted(trials, key=lambda t: t.value or 0.0, reverse=True)[:top]
    study = optuna.create_study(direction="maximize")
    study.add_trials(best)
    return study
