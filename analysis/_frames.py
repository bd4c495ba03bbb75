"""An experiment folder as two tidy pandas frames.

    exp = load_experiment("~/tune-cifar-results/quick-20261127-120000")
    exp.trials   # one row per trial: status, hyperparameters, best/last metrics, checkpoint
    exp.epochs   # one row per trial-epoch: every metric the trial reported
    exp.best, exp.plot("best_curves"), exp.load_model()   # as ``best``, ``analyze``, restore

Works on finished, interrupted and running experiments (a trial without a complete epoch yet
is left out). Trials are read from Tune's text files (``tune_cifar.results.load_trial``).
A trial's best epoch is the one ``tune_cifar.results.best_row`` selects, as everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tune_cifar.constants import (
    CHECKPOINT_DIR_NAME,
    DIVERGED_FLAG,
    EPOCH,
    SPEC_FILE,
    TIME_TOTAL_S,
    TRAINING_ITERATION,
    TRIAL_ID,
)
from tune_cifar.errors import UsageError
from tune_cifar.metrics import COSTS, EPOCH_METRICS, METRIC
from tune_cifar.results import (
    TrialRecord,
    best_of,
    best_row,
    load_trials,
    read_spec,
    trial_status,
    tuner_spec,
)

if TYPE_CHECKING:
    import optuna
    from matplotlib.figure import Figure

    from tune_cifar.results import BestTrial, RestoredModel

EPOCH_COLUMNS = (TRIAL_ID, EPOCH, *EPOCH_METRICS, DIVERGED_FLAG, TIME_TOTAL_S, CHECKPOINT_DIR_NAME)


@dataclass
class Experiment:
    path: Path
    spec: dict[str, Any]
    trials: pd.DataFrame
    epochs: pd.DataFrame

    @property
    def max_epochs(self) -> int:
        return int(self.spec["options"]["max_epochs"])

    @property
    def hyperparameters(self) -> list[str]:
        """Config columns that vary between trials (what the search explored)."""
        return [
            c for c in self.config_columns if self.trials[c].astype(str).nunique(dropna=False) > 1
        ]

    @property
    def cost(self) -> str | None:
        """The trials frame's column of what a multi-objective search minimised beside
        val_acc (``--objective val_acc,COST``), or None."""
        objective = self.spec["options"].get("objective") or [METRIC]
        return f"cost.{COSTS[objective[1]]}" if len(objective) > 1 else None

    @property
    def config_columns(self) -> list[str]:
        return [c for c in self.trials.columns if c.startswith("config.")]

    # Computed once per Experiment, however many plots and report sections use them.
    @cached_property
    def records(self) -> list[TrialRecord]:
        """The trials as read from their files (every report: PBT's lineage and copies)."""
        return load_trials(self.path)

    @cached_property
    def log_scaled(self) -> set[str]:
        """Config keys the search space samples log-uniformly."""
        from tune_cifar.analysis._study import log_scaled

        return log_scaled(self)

    @cached_property
    def study(self) -> optuna.Study | None:
        """The trials as an in-memory Optuna study (None if nothing varies)."""
        from tune_cifar.analysis._study import as_optuna_study

        return as_optuna_study(self)

    @cached_property
    def importances(self) -> dict[str, float]:
        """fANOVA importance of each varying hyperparameter, most important first ({} with
        fewer than three finished trials)."""
        from tune_cifar.analysis._study import param_importances

        return param_importances(self.study)

    @property
    def best(self) -> BestTrial | None:
        """The best trial, as ``tune-cifar best`` names it: its best epoch among those with a
        kept checkpoint (``tune_cifar.results.best_row``), its configuration then and that
        checkpoint; None before any trial reported."""
        return best_of(self.records)

    def plot(self, name: str) -> Figure:
        """One of the report's plots as a matplotlib figure (a notebook shows it inline;
        ``fig.savefig`` writes it): a name of ``tune_cifar.analysis.PLOTS``, as
        ``analyze`` names the PNG files ("best_curves", "all_trials", "best_trial",
        "effects", "importance", ...)."""
        from tune_cifar.analysis._backend import plt
        from tune_cifar.analysis._plots import PLOTS

        if name not in PLOTS:
            raise UsageError(f"no plot {name!r}; choose from {', '.join(PLOTS)}")
        fig = PLOTS[name](self)
        if fig is None:
            raise UsageError(
                f"the {name} plot does not apply to experiment {self.path.name} (too few "
                "trials, nothing varied, or not its kind of search)"
            )
        plt.close(fig)  # (returned, not also left open: a notebook would show it twice)
        return fig

    def load_model(self, scope: str = "best", device: str = "cpu") -> RestoredModel:
        """The best trial's model from its kept checkpoint, in eval mode on ``device``, with
        its configuration and how to normalise images (``tune-cifar best`` names the same
        checkpoint; ``scope="last"`` ranks trials by their last epoch instead)."""
        from tune_cifar.results import best_checkpoint, load_model

        return load_model(best_checkpoint(best_of(self.records, scope=scope), self.path), device)


def _trial_row(trial: TrialRecord, max_epochs: int) -> dict[str, Any]:
    status, stopped_at = trial_status(trial, max_epochs)
    best = best_row(trial, METRIC)
    last = trial.epochs[-1]
    row: dict[str, Any] = {
        TRIAL_ID: trial.trial_id,
        "status": status,
        "stopped_at_epoch": stopped_at,
        **{f"config.{k}": v for k, v in trial.config.items()},
        "epochs_run": int(last[TRAINING_ITERATION]),
        "best_val_acc": float(best[0]["val_acc"]) if best is not None else np.nan,
        "best_epoch": int(best[0][TRAINING_ITERATION]) if best is not None else None,
        **{
            f"last_{k}": _number(last.get(k))
            for k in ("train_loss", "train_acc", "val_loss", "val_acc")
        },
        # what a multi-objective search minimised, at the best epoch (NaN where not reported)
        **{
            f"cost.{m}": _number(best[0].get(m)) if best is not None else np.nan
            for m in COSTS.values()
        },
        "wall_time_s": _number(last.get(TIME_TOTAL_S)),
        "best_checkpoint": str(best[1] or "") if best is not None else "",
        "error": trial.error or "",
        "trial_dir": str(trial.trial_dir),
        **trial.annotations,  # how a searcher drew the configuration (PriorBand), if it says
    }
    return row


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return np.nan


def _epoch_rows(records: list[TrialRecord]) -> pd.DataFrame:
    """One row per trial-epoch of every trial, built at once from their plain rows."""
    rows = ([r.get(c, np.nan) for c in EPOCH_COLUMNS[2:]] for t in records for r in t.epochs)
    frame = pd.DataFrame.from_records(rows, columns=list(EPOCH_COLUMNS[2:]))
    frame.insert(0, TRIAL_ID, [t.trial_id for t in records for _ in t.epochs])
    frame.insert(1, EPOCH, [int(r[TRAINING_ITERATION]) for t in records for r in t.epochs])
    return frame


def load_experiment(path: str | Path) -> Experiment:
    """Both frames of an experiment folder: a tune-cifar search's (its spec file there), or
    one that a user's own ``tune.Tuner`` ran with ``tune_cifar.trainable``."""
    folder = Path(path).expanduser().resolve()
    if (folder / SPEC_FILE).is_file() or not folder.is_dir():
        spec = read_spec(folder)
        records = load_trials(folder)
    else:  # a user's own tune.Tuner ran tune_cifar.trainable: its trials say their limit
        records = load_trials(folder)
        spec = tuner_spec([t.epochs for t in records]) or read_spec(folder)
    max_epochs = int(spec["options"]["max_epochs"])
    trials = pd.DataFrame([_trial_row(t, max_epochs) for t in records])
    epochs = _epoch_rows(records)
    if not trials.empty:
        trials["stopped_at_epoch"] = trials["stopped_at_epoch"].astype("Int64")
        trials["best_epoch"] = trials["best_epoch"].astype("Int64")
        trials = trials.sort_values("best_val_acc", ascending=False, na_position="last")
        trials = trials.reset_index(drop=True)
    exp = Experiment(folder, spec, trials, epochs)
    exp.records = records  # read once: the cached property is this list from now on
    return exp


FRAME_FILES = tuple(f"{n}.{ext}" for n in ("trials", "epochs") for ext in ("csv", "parquet"))


def save_frames(exp: Experiment, out: Path) -> list[Path]:
    """trials.csv / trials.parquet / epochs.csv / epochs.parquet in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in (("trials", exp.trials), ("epochs", exp.epochs)):
        frame.to_csv(out / f"{name}.csv", index=False)
        frame.to_parquet(out / f"{name}.parquet", index=False)
        written += [out / f"{name}.csv", out / f"{name}.parquet"]
    return written
