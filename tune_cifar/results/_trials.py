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
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tune_cifar.constants import (
    ANNOTATIONS,
    CHECKPOINT_DIR_NAME,
    CHECKPOINT_PREFIX,
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
from tune_cifar.errors import UsageError, error_line
from tune_cifar.metrics import DONE, ERRORED, UNFINISHED, ended_status, parse_lineage


def trial_dirs(folder: Path) -> list[Path]:
    """Trial folders (those holding a result.json), sorted by name."""
    return sorted(p.parent for p in Path(folder).glob(f"*/{RESULT_FILE}"))


Row = dict[str, Any]  # one report as Tune wrote it, nested keys flattened with "/"


@dataclass
class TrialRecord:
    """One trial as Tune left it on disk: config, every report, error, checkpoints.

    The reports are plain dicts (``rows``, ``epochs``): a command that reads ten thousand
    trials builds no frame per trial; ``metrics`` and ``reports`` are those rows as pandas
    frames, made when first asked for."""

    trial_dir: Path
    trial_id: str
    config: dict[str, Any]  # as it ended (PBT may have changed it: see config_at)
    # Every report as written, config keys ("config/lr") included, in order: an epoch reported
    # again (a resume, a PBT copy) is here each time (``_population`` reads it).
    rows: list[Row]
    error: str | None
    stopped: bool = False  # its scheduler stopped it while it waited (STOPPED_FILE)
    # how its searcher chose the configuration (constants.ANNOTATIONS), kept out of config
    annotations: dict[str, Any] = dataclasses.field(default_factory=dict)
    # the checkpoint folders on disk (None: not listed; each is then looked for when asked)
    checkpoints: frozenset[str] | None = None

    @cached_property
    def epochs(self) -> list[Row]:
        """One report per epoch, config keys left out, in epoch order: of an epoch reported
        again (a trial resumed from an older checkpoint), the last report, the one its
        history continued from."""
        last = {int(r[TRAINING_ITERATION]): r for r in self.rows}
        return [
            {k: v for k, v in last[e].items() if not k.startswith(CONFIG_PREFIX)}
            for e in sorted(last)
        ]

    @cached_property
    def metrics(self) -> pd.DataFrame:
        """``epochs`` as a frame (one row per epoch, Tune's bookkeeping columns included)."""
        return pd.DataFrame.from_records(self.epochs)

    @cached_property
    def reports(self) -> pd.DataFrame:
        """``rows`` as a frame."""
        return pd.DataFrame.from_records(self.rows)

    @property
    def population(self) -> bool:
        """Whether PBT / PB2 trained it (its reports name its lineage)."""
        return bool(self.rows) and LINEAGE in self.rows[-1]

    def config_at(self, epoch: int) -> dict[str, Any]:
        """The configuration the trial trained ``epoch`` under (its last report of it)."""
        found = [r for r in self.rows if r.get(TRAINING_ITERATION) == epoch]
        return row_config(found[-1]) if found else self.config

    def checkpoint_at(self, row: Mapping[str, Any]) -> Path | None:
        """The checkpoint a report saved, if it is still on disk."""
        name = row.get(CHECKPOINT_DIR_NAME)
        if not isinstance(name, str):
            return None
        if self.checkpoints is not None:
            return self.trial_dir / name if name in self.checkpoints else None
        path = self.trial_dir / name
        return path if path.exists() else None


def row_config(row: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration a report was trained under, from its flattened ``config/*`` keys
    (a key missing from this report, or NaN in a frame of several, left out; the searcher's
    annotations too)."""
    return {
        key: plain(v)
        for c, v in row.items()
        if c.startswith(CONFIG_PREFIX)
        and (key := c.removeprefix(CONFIG_PREFIX)) not in ANNOTATIONS
        and not (isinstance(v, float) and math.isnan(v))
    }


def _flatten(row: Mapping[str, Any], prefix: str = "") -> Row:
    """A report's nested keys flattened with "/" ("config/lr"), as Tune's ``Result`` and
    pandas' ``json_normalize`` flatten them (lists stay values)."""
    flat: Row = {}
    for key, value in row.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def read_rows(trial_dir: Path, names: set[str] | None = None) -> list[Row] | None:
    """A trial's reports from ``result.json`` (the complete lines: a running trial may be
    caught mid-line), else ``progress.csv``; None when it has neither. A ``result.json`` that
    lacks epochs (a history that begins after epoch 1 or skips one: Tune restarted the file
    from a partial copy), or that never names a checkpoint folder the trial has (the reports
    of its last epochs are missing), is not trusted where ``progress.csv`` beside it is
    whole. ``names``: the folder's listing, where the caller has it."""
    if (trial_dir / RESULT_FILE).is_file():
        names = names if names is not None else set(os.listdir(trial_dir))
        checkpoints = {n for n in names if n.startswith(CHECKPOINT_PREFIX)}
        rows = _result_rows(trial_dir)
        if _whole(rows, checkpoints) or not (trial_dir / PROGRESS_FILE).is_file():
            return rows
        progress = _progress_rows(trial_dir)
        return progress if progress and _whole(progress, checkpoints) else rows
    return _progress_rows(trial_dir)


def _whole(rows: list[Row], checkpoints: set[str]) -> bool:
    """Whether the reports hold each epoch from the first to the last they reach, and name
    each of the trial's checkpoint folders (each was reported with the epoch it saved)."""
    epochs = {int(r[TRAINING_ITERATION]) for r in rows if TRAINING_ITERATION in r}
    named = {r.get(CHECKPOINT_DIR_NAME) for r in rows}
    return (not epochs or epochs == set(range(1, max(epochs) + 1))) and checkpoints <= named


def _result_rows(trial_dir: Path) -> list[Row]:
    rows = []
    for line in (trial_dir / RESULT_FILE).read_text(errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            break
        if isinstance(row, dict):
            rows.append(_flatten(row))
    return rows


def _progress_rows(trial_dir: Path) -> list[Row] | None:
    if (trial_dir / PROGRESS_FILE).is_file():
        try:
            frame = pd.read_csv(trial_dir / PROGRESS_FILE)
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            return None
        return [
            {k: plain(v) for k, v in r.items() if not (isinstance(v, float) and math.isnan(v))}
            for r in frame.to_dict("records")
        ]
    return None


def load_trial(trial_dir: Path) -> TrialRecord | None:
    """Read one trial folder from its text files; None if it has no complete epoch yet.

    Tune's pickled ``error.pkl`` is never opened: the error comes from ``error.txt``. The
    folder is listed once, for its checkpoints."""
    trial_dir = Path(trial_dir)
    names = {e.name for e in os.scandir(trial_dir)}
    rows = read_rows(trial_dir, names)
    rows = [r for r in rows or [] if TRAINING_ITERATION in r]
    if not rows:
        return None
    config = {
        k.removeprefix(CONFIG_PREFIX): plain(v)
        for k, v in rows[-1].items()
        if k.startswith(CONFIG_PREFIX)
    }
    annotations = {k: config.pop(k) for k in ANNOTATIONS if k in config}
    trial_id = str(rows[0][TRIAL_ID])
    _check_lineage(trial_dir, trial_id, rows)
    checkpoints = frozenset(n for n in names if n.startswith(CHECKPOINT_PREFIX))
    error = read_error(trial_dir) if ERROR_FILE in names else None
    return TrialRecord(
        trial_dir,
        trial_id,
        config,
        rows,
        error,
        STOPPED_FILE in names,
        annotations,
        checkpoints,
    )


def _check_lineage(trial_dir: Path, trial_id: str, rows: list[Row]) -> None:
    """One UsageError line naming the trial and its file for a PBT report whose lineage is
    not "ID@EPOCH ..." (an edited or damaged result.json), before any reader trusts it."""
    for row in rows:
        text = row.get(LINEAGE)
        if text is None:
            continue
        try:
            parse_lineage(text)
        except ValueError:
            from tune_cifar.storage import shown

            raise UsageError(
                f"trial {trial_id}: {shown(trial_dir / RESULT_FILE)} has a malformed lineage "
                f"at epoch {row[TRAINING_ITERATION]}: {text!r} (expected 'TRIAL@EPOCH ...')"
            ) from None


def read_error(trial_dir: Path) -> str | None:
    """The one line a user reads of a trial's last failure, from Tune's ``error.txt``
    ("Failure # N (occurred at ...)" then the error's text, appended per failure)."""
    path = Path(trial_dir) / ERROR_FILE
    if not path.is_file():
        return None
    text = path.read_text(errors="replace")
    return error_line(text.rsplit("Failure # ", 1)[-1].split("\n", 1)[-1]) or "error"


def epochs_run(trial: TrialRecord) -> int:
    """The epochs a trial has trained (its last reported epoch)."""
    return int(trial.epochs[-1][TRAINING_ITERATION])


def epochs_trained(trial: TrialRecord) -> int:
    """The epochs a trial cost: its last epoch, or under PBT / PB2 every epoch it reported (a
    trial that continues another's checkpoint trains those epochs again)."""
    return len(trial.rows) if trial.population else epochs_run(trial)


def finite(value: Any) -> bool:
    """A finite number (not a bool, not NaN or inf)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def trial_status(trial: TrialRecord, max_epochs: int) -> tuple[str, int | None]:
    """(status, epoch it stopped at if stopped early) from what the trial left on disk
    (``tune_cifar.metrics``: done, stopped early, diverged, errored or unfinished).

    A trial that failed, was retried from its checkpoint and then finished counts as finished;
    its last error stays in the ``error`` column."""
    last = trial.epochs[-1]
    epochs = int(last[TRAINING_ITERATION])
    loss = last.get("train_loss")
    diverged = bool(last.get(DIVERGED_FLAG, False)) or (loss is not None and not finite(loss))
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
