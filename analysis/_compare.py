"""``tune-cifar compare EXP EXP ...``: searches side by side, per unit of compute.

Which search found the better configuration, and how soon? For each experiment: its search
and scheduler, its trials, the trial-epochs it trained (``tune_cifar.results.epochs_trained``: under
PBT the epochs trained again after a copy count), its best holdout val_acc (the epoch every
tune-cifar command selects, ``tune_cifar.results.best_of``), the trial-epoch at which the search
first held that value, and, where ``tune-cifar confirm`` ran, the test accuracy of its top
configuration over the new seeds (mean and sample sd). The plot is each search's anytime curve:
its best val_acc so far against trial-epochs spent, every reported epoch in report order.

    table, curves = compare_experiments([Path(a), Path(b)])   # one row per experiment
    plot_comparison(table, curves, Path("compare.png"))

val_acc figures compare only between experiments that validated on the same data
(``data_differences`` names what differs).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tune_cifar.analysis._backend import plt
from tune_cifar.data import FIDELITY_KEYS, DataSpec
from tune_cifar.errors import UsageError
from tune_cifar.metrics import METRIC
from tune_cifar.results import (
    TrialRecord,
    best_of,
    epochs_trained,
    load_trials,
    read_confirmation,
    read_spec,
)
from tune_cifar.storage import shown


def anytime_curve(trials: list[TrialRecord]) -> pd.DataFrame:
    """Every reported epoch of ``trials`` in the order it was reported (Tune's timestamp, to
    the second; trials in folder order within one): ``trial_epochs`` spent so far and
    ``best_val_acc`` so far (NaN until an epoch has a finite val_acc)."""
    reported = [(r.get("timestamp"), r.get(METRIC)) for t in trials for r in t.rows]
    if not reported:
        return pd.DataFrame({"trial_epochs": [], "best_val_acc": []})
    rows = pd.DataFrame(reported, columns=["timestamp", METRIC]).sort_values(
        "timestamp", kind="stable"
    )
    values = pd.to_numeric(rows[METRIC], errors="coerce").replace([np.inf, -np.inf], np.nan)
    return pd.DataFrame(
        {
            "trial_epochs": np.arange(1, len(rows) + 1),
            "best_val_acc": values.cummax().ffill().to_numpy(),
        }
    )


def distinct_names(folders: list[Path]) -> list[str]:
    """A name per experiment for the table and the legend: its folder's name, or as many of
    the last parts of its path (its URI, for object storage) as tell it from the others
    ("a/keep", "b/keep"). The same experiment twice is one UsageError line."""
    paths = [shown(f.resolve()).rstrip("/").split("/") for f in folders]
    seen: dict[tuple[str, ...], int] = {}
    for i, parts in enumerate(paths):
        if tuple(parts) in seen:
            raise UsageError(
                f"compare: {shown(folders[i])} is given twice (as experiment "
                f"{seen[tuple(parts)] + 1} and {i + 1}); give each experiment once"
            )
        seen[tuple(parts)] = i
    for depth in range(1, max(len(p) for p in paths) + 1):
        names = ["/".join(p[-depth:]) for p in paths]
        if len(set(names)) == len(names):
            return names
    return ["/".join(p) for p in paths]


def summarize_experiment(
    folder: Path, name: str | None = None
) -> tuple[dict[str, Any], pd.DataFrame]:
    """(one row of the comparison, the experiment's anytime curve); ``name``: the row's name
    (default: the folder's)."""
    spec = read_spec(folder)
    options = spec["options"]
    trials = load_trials(folder)
    curve = anytime_curve(trials)
    best = best_of(trials)
    value = best.value if best is not None else math.nan
    reached = curve.loc[curve["best_val_acc"] >= value, "trial_epochs"]
    row: dict[str, Any] = {
        "experiment": name or folder.name,
        "search": options.get("search"),
        "scheduler": options.get("scheduler"),
        "trials": len(trials),
        "trial_epochs": sum(epochs_trained(t) for t in trials),
        "best_val_acc": value,
        "reached_at": int(reached.iloc[0]) if len(reached) else None,
        "best_trial": best.trial_id if best is not None else None,
        "test_mean": math.nan,
        "test_sd": math.nan,
        "test_runs": 0,
    }
    confirmation = read_confirmation(folder)
    if confirmation is not None and not confirmation.summary.empty:
        top = confirmation.summary.iloc[0]  # the search's best configuration, re-trained
        row.update(
            test_mean=float(top["test_acc_mean"]),
            test_sd=float(top["test_acc_sd"]),
            test_runs=int(top["runs"]),
        )
    return row, curve


def compare_experiments(folders: list[Path]) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """One row per experiment (``summarize_experiment``) and its anytime curve, in the order
    given."""
    pairs = [
        summarize_experiment(f, n) for f, n in zip(folders, distinct_names(folders), strict=True)
    ]
    return pd.DataFrame([row for row, _ in pairs]), [curve for _, curve in pairs]


def data_differences(folders: list[Path]) -> list[str]:
    """The data settings that make a val_acc what it is (``FIDELITY_KEYS``: source, subset,
    holdout size, source and split) on which the experiments differ, as "key: value of each";
    empty when they validated alike."""
    specs = [DataSpec(**read_spec(f)["data"]) for f in folders]
    return [
        f"{k}: " + " / ".join(str(getattr(s, k)) for s in specs)
        for k in FIDELITY_KEYS
        if len({getattr(s, k) for s in specs}) > 1
    ]


def plot_comparison(table: pd.DataFrame, curves: list[pd.DataFrame], path: Path) -> Path:
    """Each experiment's best val_acc so far against trial-epochs spent, a dot where it first
    held its best (selected) value."""
    fig, ax = plt.subplots(figsize=(9, 5.5), layout="constrained")
    for i, (row, curve) in enumerate(zip(table.itertuples(), curves, strict=True)):
        reached = (
            ""
            if row.reached_at is None or pd.isna(row.reached_at)
            else (f" after {int(row.reached_at)}")
        )
        ax.step(
            curve["trial_epochs"],
            curve["best_val_acc"],
            where="post",
            color=f"C{i}",
            lw=1.5,
            label=f"{row.experiment} ({row.search}, {row.scheduler}): best "
            f"{row.best_val_acc:.4f}{reached} of {row.trial_epochs} "
            "trial-epochs",
        )
        if reached:
            ax.plot(row.reached_at, row.best_val_acc, "o", color=f"C{i}")
    ax.set(
        xlabel="trial-epochs spent (epochs trained, summed over trials)",
        ylabel="best holdout val_acc so far (fraction correct)",
        title=f"{len(table)} searches per unit of compute",
    )
    ax.grid(alpha=0.3)
    fig.legend(fontsize=8, loc="outside lower center", ncols=1)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
