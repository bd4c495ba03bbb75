"""The trials of an experiment as Tune left them: plain files, read without Ray.

    trials = load_trials(folder)             # one TrialRecord per trial with a complete epoch
    status, stopped_at = trial_status(trials[0], max_epochs=10)

Trials are read from the plain-text files Tune writes beside them: ``result.json`` (one JSON
object per reported epoch; ``progress.csv`` where there is none) and, for a trial that failed,
``error.txt``. Nothing is unpickled: Tune's ``error.pkl`` and experiment state are never read
here (only ``tune-cifar resume`` restores Tune's pickled state, after checking our spec file).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tune_cifar.constants import (
    ANNOTATIONS,
    CHECKPOINT_DIR_NAME,
    CONFIG_PREFIX,
    DIVERGED_FLAG,
    DONE_FLAG,
    ERROR_FILE,
    LINEAGE,
    PROGRESS_FILE,
    RESULT_FILE,
    STOPPED_FILE,
    TRAINING_ITERATION,
    TRIAL_ID,
)
from tune_cifar.errors import error_line
from tune_cifar.metrics import DONE, ERRORED, UNFINISHED, ended_status


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
    # reported again (a resume, a PBT copy) is here each time (``_population`` reads it).
    reports: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)
    stopped: bool = False  # its scheduler stopped it while it waited (STOPPED_FILE)
    # how its searcher chose the configuration (constants.ANNOTATIONS), kept out of config
    annotations: dict[str, Any] = dataclasses.field(default_factory=dict)

    def config_at(self, epoch: int) -> dict[str, Any]:
        """The configuration the trial trained ``epoch`` under (its last report of it)."""
        if TRAINING_ITERATION not in self.reports:
            return self.config
        rows = self.reports[self.reports[TRAINING_ITERATION] == epoch]
        if rows.empty:
            return self.config
        return row_config(rows.iloc[-1])

    def checkpoint_at(self, row: pd.Series) -> Path | None:
        name = row.get(CHECKPOINT_DIR_NAME)
        path = self.trial_dir / name if isinstance(name, str) else None
        return path if path is not None and path.exists() else None


def row_config(row: pd.Series) -> dict[str, Any]:
    """The configuration a report was trained under, from its flattened ``config/*`` columns
    (a key missing from this report, NaN in a frame of several, left out; the searcher's
    annotations too)."""
    return {
        key: plain(v)
        for c, v in row.items()
        if c.startswith(CONFIG_PREFIX)
        and (key := c.removeprefix(CONFIG_PREFIX)) not in ANNOTATIONS
        and not (isinstance(v, float) and pd.isna(v))
    }


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
    if frame.empty or TRAINING_ITERATION not in frame:
        return None
    config_cols = [c for c in frame.columns if c.startswith(CONFIG_PREFIX)]
    config = {c.removeprefix(CONFIG_PREFIX): plain(frame[c].iloc[-1]) for c in config_cols}
    annotations = {k: config.pop(k) for k in ANNOTATIONS if k in config}
    # A trial resumed from an older checkpoint (killed driver, lost node) reports some epochs
    # again; the last report of an epoch is the one its history continued from.
    metrics = frame.drop(columns=config_cols).drop_duplicates(TRAINING_ITERATION, keep="last")
    return TrialRecord(
        trial_dir,
        str(frame[TRIAL_ID].iloc[0]),
        config,
        metrics.reset_index(drop=True),
        read_error(trial_dir),
        frame,
        (trial_dir / STOPPED_FILE).is_file(),
        annotations,
    )


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
    return int(trial.metrics[TRAINING_ITERATION].max())


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
    epochs = int(last[TRAINING_ITERATION])
    diverged = bool(last.get(DIVERGED_FLAG, False)) or not np.isfinite(float(last["train_loss"]))
    if diverged or epochs >= max_epochs or bool(last.get(DONE_FLAG, False)) or trial.stopped:
        status = ended_status(epochs, max_epochs, diverged)
        return status, None if status == DONE else epochs
    return (ERRORED if trial.error else UNFINISHED), None


def load_trials(folder: Path) -> list[TrialRecord]:
    return [t for t in map(load_trial, trial_dirs(folder)) if t is not None]


def plain(value: Any) -> Any:
    """Plain, JSON-safe Python values: numpy scalars (as pandas hands them out) as Python
    numbers, paths as text, dicts and lists of them likewise."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def format_value(value: Any, digits: int = 4) -> str:
    """A config or metric value for people: floats to ``digits`` significant digits, missing
    values as an empty string."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)
