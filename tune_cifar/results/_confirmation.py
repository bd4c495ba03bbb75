"""A confirmation as it lies in an experiment folder, read back (``tune-cifar confirm`` writes
it: ``tune_cifar.tuning.run_confirmation``): its runs, and per configuration the mean, sample
standard deviation and 95% interval of test accuracy (Student's t with N - 1 degrees of
freedom: mean +/- t * sd / sqrt(N)).

    confirmation = read_confirmation(EXP)     # None if confirm never ran on EXP
    confirmation.summary                      # one row per configuration
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tune_cifar.constants import CONFIRM_DIR, CONFIRM_RUNS_FILE, CONFIRM_SUMMARY_FILE
from tune_cifar.metrics import POPULATION_SCHEDULERS
from tune_cifar.results._spec import read_spec


@dataclass
class Confirmation:
    folder: Path  # EXP/confirm
    runs: pd.DataFrame  # one row per (configuration, seed)
    summary: pd.DataFrame  # one row per configuration
    test_is_validation: bool  # the experiment validated on the test set (the seed's protocol)


def confirmed_what(spec: dict) -> str:
    """What ``confirm`` re-trains of an experiment: "schedules" for a PBT / PB2 search (its
    trials changed hyperparameters), else "configurations"."""
    return (
        "schedules"
        if spec["options"].get("scheduler") in POPULATION_SCHEDULERS
        else "configurations"
    )


def t_interval(values: list[float], level: float = 0.95) -> tuple[float, float, float, float]:
    """(mean, sample sd, low, high): Student's t interval for the mean of ``values``."""
    from scipy import stats

    n = len(values)
    mean = float(np.mean(values))
    if n < 2:
        return mean, math.nan, math.nan, math.nan
    sd = float(np.std(values, ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return mean, sd, mean - half, mean + half


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Per configuration: runs, mean/sd/95% interval of test accuracy, mean holdout val_acc."""
    rows = []
    for (rank, trial_id), group in runs.groupby(["rank", "source_trial"], sort=True):
        mean, sd, low, high = t_interval(group["test_acc"].tolist())
        rows.append(
            {
                "rank": rank,
                "source_trial": trial_id,
                "search_val_acc": group["search_val_acc"].iloc[0],
                "runs": len(group),
                "test_acc_mean": mean,
                "test_acc_sd": sd,
                "test_acc_ci95_low": low,
                "test_acc_ci95_high": high,
                "val_acc_mean": group["val_acc"].mean(),
            }
        )
    return pd.DataFrame(rows)


def read_confirmation(folder: Path) -> Confirmation | None:
    """The confirmation of an experiment, if ``confirm`` ran on it."""
    target = Path(folder) / CONFIRM_DIR
    if not (target / CONFIRM_SUMMARY_FILE).is_file():
        return None
    spec = read_spec(folder)
    return Confirmation(
        target,
        pd.read_csv(target / CONFIRM_RUNS_FILE),
        pd.read_csv(target / CONFIRM_SUMMARY_FILE),
        spec["data"].get("val_source") == "test",
    )
