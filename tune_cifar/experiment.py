"""An experiment folder: Tune's per-trial results plus our spec file of what was asked.

    spec = read_spec(folder)                 # space, data, flags, versions, command line
    best = best_trial(folder)                # the best trial's best epoch, with its checkpoint
    print(best.summary())

Trials are read from the plain-text files Tune writes beside them: ``result.json`` (one JSON
object per reported epoch; ``progress.csv`` where there is none) and, for a trial that failed,
``error.txt``. Nothing is unpickled: Tune's ``error.pkl`` and experiment state are never read
here (only ``tune-cifar resume`` restores Tune's pickled state, after checking our spec file).
"""

from __future__ import annotations

import dataclasses
import json
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tune_cifar.errors import UsageError, error_line
from tune_cifar.metrics import DONE, ERRORED, LINEAGE, METRIC, UNFINISHED, ended_status
from tune_cifar.storage import STOPPED_FILE, local_copy, shown, storage_place

SPEC_FILE = "tune_cifar_spec.json"
SPEC_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # the spec's "created"
# The seed study's best by hand: CNN_v4 + flip + RandomErasing, 100 epochs on full CIFAR-10,
# test accuracy (its validation set was the test set).
SEED_BEST = 0.8941
RESULT_FILE = "result.json"  # Tune's per-trial files read here (ray.tune.result's names)
PROGRESS_FILE = "progress.csv"
ERROR_FILE = "error.txt"


def local_target(location: str | Path) -> Path:
    """A local path to read an experiment (or a checkpoint in one) from: the path itself, or
    for an ``s3://`` / ``gs://`` URI, the results of the experiment holding it (itself or up to
    three levels up) copied into the local cache (``tune_cifar.storage.local_copy``)."""
    place = storage_place(location)
    if place.is_local:
        return place.local
    root = place
    for _ in range(4):
        if root.child(SPEC_FILE).exists():
            relative = place.path[len(root.path):].lstrip("/")
            folder = local_copy(root)
            return folder / relative if relative else folder
        if "/" not in root.path:
            break
        root = root.parent()
    raise UsageError(f"{location} is not in a tune-cifar experiment (no {SPEC_FILE} there or in "
                     "the three folders above it)")


def package_versions() -> dict[str, str]:
    import optuna
    import ray
    import torch

    import tune_cifar

    return {"tune_cifar": tune_cifar.__version__, "torch": torch.__version__,
            "ray": ray.__version__, "optuna": optuna.__version__,
            "python": platform.python_version()}


def write_spec(folder: Path, opts: Any, data_spec: Any, space: Any,
               argv: list[str] | None) -> Path:
    """Record what was asked, so resume/analyze/best/evaluate need only the folder."""
    spec = {
        "created": time.strftime(SPEC_TIME_FORMAT),
        "command": argv if argv is not None else sys.argv,
        "options": dataclasses.asdict(opts),
        "data": dataclasses.asdict(data_spec),
        "space": {"name": space.name, "source": space.source,
                  "description": space.description, "summary": space.describe()},
        "versions": package_versions(),
    }
    path = folder / SPEC_FILE
    path.write_text(json.dumps(spec, indent=2) + "\n")
    return path


def read_spec(folder: Path) -> dict[str, Any]:
    path = Path(folder) / SPEC_FILE
    if not path.is_file():
        raise UsageError(f"{folder} is not a tune-cifar experiment (no {SPEC_FILE})")
    try:
        spec = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None
    missing = [k for k in ("options", "data", "space")
               if not isinstance(spec, dict) or k not in spec]
    if missing:
        raise UsageError(f"{path} is not a tune-cifar spec file (no {', '.join(missing)})")
    return spec


def trial_dirs(folder: Path) -> list[Path]:
    """Trial folders (those holding a result.json), sorted by name."""
    return sorted(p.parent for p in Path(folder).glob(f"*/{RESULT_FILE}"))


@dataclass
class TrialRecord:
    """One trial as Tune left it on disk: config, per-epoch metrics, error, checkpoints."""

    trial_dir: Path
    trial_id: str
    config: dict[str, Any]  # as it ended (PBT may have changed it: see config_at)
    metrics: pd.DataFrame  # one row per epoch, Tune's bookkeeping columns included
    error: str | None
    # Every report as written, config columns ("config/lr") included, in order: an epoch
    # reported again (a resume, a PBT copy) is here each time (tune_cifar.population reads it).
    reports: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    stopped: bool = False  # its scheduler stopped it while it waited (STOPPED_FILE)

    def config_at(self, epoch: int) -> dict[str, Any]:
        """The configuration the trial trained ``epoch`` under (its last report of it)."""
        if "training_iteration" not in self.reports:
            return self.config
        rows = self.reports[self.reports["training_iteration"] == epoch]
        if rows.empty:
            return self.config
        return row_config(rows.iloc[-1])

    def checkpoint_at(self, row: pd.Series) -> Path | None:
        name = row.get("checkpoint_dir_name")
        path = self.trial_dir / name if isinstance(name, str) else None
        return path if path is not None and path.exists() else None


def row_config(row: pd.Series) -> dict[str, Any]:
    """The configuration a report was trained under, from its flattened ``config/*`` columns
    (a key missing from this report, NaN in a frame of several, left out)."""
    return {c.removeprefix("config/"): plain(v) for c, v in row.items()
            if c.startswith("config/") and not (isinstance(v, float) and pd.isna(v))}


def load_trial(trial_dir: Path) -> TrialRecord | None:
    """Read one trial folder from its text files; None if it has no complete epoch yet.

    Tune flattens a result's nested keys with "/" (``config/lr``) as ``Result.from_path`` does;
    Tune's pickled ``error.pkl`` is never opened: the error comes from ``error.txt``."""
    trial_dir = Path(trial_dir)
    if (trial_dir / RESULT_FILE).is_file():
        frame = _complete_rows(trial_dir / RESULT_FILE)
    elif (trial_dir / PROGRESS_FILE).is_file():
        try:
            frame = pd.read_csv(trial_dir / PROGRESS_FILE)
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            return None
    else:
        return None
    if frame.empty or "training_iteration" not in frame:
        return None
    config_cols = [c for c in frame.columns if c.startswith("config/")]
    config = {c.removeprefix("config/"): plain(frame[c].iloc[-1]) for c in config_cols}
    # A trial resumed from an older checkpoint (killed driver, lost node) reports some epochs
    # again; the last report of an epoch is the one its history continued from.
    metrics = frame.drop(columns=config_cols).drop_duplicates("training_iteration", keep="last")
    return TrialRecord(trial_dir, str(frame["trial_id"].iloc[0]), config,
                       metrics.reset_index(drop=True), read_error(trial_dir), frame,
                       (trial_dir / STOPPED_FILE).is_file())


def read_error(trial_dir: Path) -> str | None:
    """The one line a user reads of a trial's last failure, from Tune's ``error.txt``
    ("Failure # N (occurred at ...)" then the error's text, appended per failure)."""
    path = Path(trial_dir) / ERROR_FILE
    if not path.is_file():
        return None
    text = path.read_text(errors="replace")
    return error_line(text.rsplit("Failure # ", 1)[-1].split("\n", 1)[-1]) or "error"


def _complete_rows(path: Path) -> pd.DataFrame:
    """The rows of a result.json whose lines are complete (a running trial may be caught
    mid-line), flattened as Tune flattens them."""
    rows = []
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            break
        if isinstance(row, dict):
            rows.append(row)
    return pd.json_normalize(rows, sep="/")


def epochs_run(trial: TrialRecord) -> int:
    """The epochs a trial has trained (its last reported epoch)."""
    return int(trial.metrics["training_iteration"].max())


def epochs_trained(trial: TrialRecord) -> int:
    """The epochs a trial cost: its last epoch, or under PBT / PB2 every epoch it reported (a
    trial that continues another's checkpoint trains those epochs again)."""
    return len(trial.reports) if LINEAGE in trial.reports else epochs_run(trial)


def trial_status(trial: TrialRecord, max_epochs: int) -> tuple[str, int | None]:
    """(status, epoch it stopped at if stopped early) from what the trial left on disk
    (``tune_cifar.metrics``: done, stopped early, diverged, errored or unfinished).

    A trial that failed, was retried from its checkpoint and then finished counts as finished;
    its last error stays in the ``error`` column."""
    last = trial.metrics.iloc[-1]
    epochs = int(last["training_iteration"])
    diverged = bool(last.get("diverged", False)) or not np.isfinite(float(last["train_loss"]))
    if diverged or epochs >= max_epochs or bool(last.get("done", False)) or trial.stopped:
        status = ended_status(epochs, max_epochs, diverged)
        return status, None if status == DONE else epochs
    return (ERRORED if trial.error else UNFINISHED), None


def load_trials(folder: Path) -> list[TrialRecord]:
    return [t for t in map(load_trial, trial_dirs(folder)) if t is not None]


def plain(value: Any) -> Any:
    """numpy scalars from pandas as plain Python values."""
    return value.item() if hasattr(value, "item") else value


@dataclass(frozen=True)
class BestTrial:
    trial_id: str
    trial_dir: Path
    config: dict[str, Any]
    metric: str
    value: float
    epoch: int
    epochs_run: int
    checkpoint: Path | None

    def summary(self) -> str:
        keys = {k: v for k, v in self.config.items() if k != "seed"}
        config = " ".join(f"{k}={format_value(v)}" for k, v in keys.items())
        return (f"best trial {self.trial_id}: {self.metric} {self.value:.4f} at epoch "
                f"{self.epoch} of {self.epochs_run}\n  config: {config}\n"
                f"  checkpoint: {shown(self.checkpoint) or '(none kept)'}")

    def to_json(self) -> dict[str, Any]:
        return {"trial_id": self.trial_id, "trial_dir": shown(self.trial_dir),
                "config": self.config, "metric": self.metric, "value": self.value,
                "epoch": self.epoch, "epochs_run": self.epochs_run,
                "checkpoint": shown(self.checkpoint) if self.checkpoint else None}


def format_value(value: Any, digits: int = 4) -> str:
    """A config or metric value for people: floats to ``digits`` significant digits, missing
    values as an empty string."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def best_row(trial: TrialRecord, metric: str = METRIC,
             scope: str = "best") -> tuple[pd.Series, Path | None] | None:
    """The epoch a trial is judged by, with its checkpoint: its last epoch (``scope="last"``)
    or its best epoch. This is the one definition of a trial's best epoch, used by ``best``,
    ``evaluate``, ``confirm``, the analysis frames and report, and the Optuna journal.

    The best epoch is the highest-scoring one among those whose checkpoint is kept, so that
    the best can always be restored: with ``--checkpoint-every`` above 1 the epochs between
    checkpoints are not candidates. Tune keeps the best N checkpoints by score and, of equal
    scores, the newest, so the latest of equal scores is taken. Only a trial with no
    checkpoint at all falls back to all its epochs (and names no checkpoint)."""
    rows = trial.metrics[np.isfinite(trial.metrics[metric].astype(float))]
    if rows.empty:
        return None
    if scope == "last":
        row = rows.iloc[-1]
        return row, trial.checkpoint_at(row)
    checkpoints = [trial.checkpoint_at(row) for _, row in rows.iterrows()]
    kept = rows[[c is not None for c in checkpoints]]
    pool = kept if not kept.empty else rows
    row = pool[pool[metric] == pool[metric].max()].iloc[-1]
    return row, trial.checkpoint_at(row)


def best_trial(folder: Path, metric: str = METRIC, scope: str = "best") -> BestTrial | None:
    """The trial with the highest ``metric`` (see ``best_row``), with a checkpoint that exists
    whenever any trial kept one."""
    return best_of(load_trials(folder), metric, scope)


def best_of(trials: list[TrialRecord], metric: str = METRIC,
            scope: str = "best") -> BestTrial | None:
    """``best_trial`` of trials already loaded."""
    best: BestTrial | None = None
    for trial in trials:
        found = best_row(trial, metric, scope)
        if found is None:
            continue
        row, checkpoint = found
        candidate = BestTrial(
            trial_id=trial.trial_id, trial_dir=trial.trial_dir,
            config=trial.config_at(int(row["training_iteration"])),
            metric=metric, value=float(row[metric]), epoch=int(row["training_iteration"]),
            epochs_run=int(trial.metrics["training_iteration"].iloc[-1]), checkpoint=checkpoint,
        )
        if best is None or _rank(candidate) > _rank(best):
            best = candidate
    return best


def _rank(best: BestTrial) -> tuple[bool, float]:
    """Trials with a kept checkpoint first, then by value."""
    return best.checkpoint is not None, best.value
