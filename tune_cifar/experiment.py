"""An experiment folder: Tune's per-trial results plus our spec file of what was asked.

    spec = read_spec(folder)                 # space, data, flags, versions, command line
    best = best_trial(folder, "val_acc")     # best epoch over all trials, with its checkpoint
    print(best.summary())

Trial results are read from each trial's ``result.json`` (one JSON object per reported
epoch, written by Tune), never from Tune's pickled experiment state.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tune_cifar.errors import UsageError

SPEC_FILE = "tune_cifar_spec.json"
RESULT_FILE = "result.json"


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
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
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
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None


def trial_dirs(folder: Path) -> list[Path]:
    """Trial folders (those holding a result.json), sorted by name."""
    return sorted(p.parent for p in Path(folder).glob(f"*/{RESULT_FILE}"))


def read_results(trial_dir: Path) -> list[dict[str, Any]]:
    """Every row a trial reported, in order; a half-written last line is skipped."""
    rows = []
    for line in (trial_dir / RESULT_FILE).read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


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
        shown = {k: v for k, v in self.config.items() if k != "seed"}
        config = " ".join(f"{k}={_fmt(v)}" for k, v in shown.items())
        return (f"best trial {self.trial_id}: {self.metric} {self.value:.4f} at epoch "
                f"{self.epoch} of {self.epochs_run}\n  config: {config}\n"
                f"  checkpoint: {self.checkpoint or '(none kept)'}")

    def to_json(self) -> dict[str, Any]:
        return {"trial_id": self.trial_id, "trial_dir": str(self.trial_dir),
                "config": self.config, "metric": self.metric, "value": self.value,
                "epoch": self.epoch, "epochs_run": self.epochs_run,
                "checkpoint": str(self.checkpoint) if self.checkpoint else None}


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _finite(row: dict[str, Any], metric: str) -> bool:
    value = row.get(metric)
    return isinstance(value, (int, float)) and math.isfinite(value)


def best_trial(folder: Path, metric: str = "val_acc", scope: str = "best") -> BestTrial | None:
    """The trial with the highest ``metric``: at its best epoch (``scope="best"``) or its last
    epoch (``scope="last"``); the checkpoint is the one saved at that epoch, if kept."""
    best: BestTrial | None = None
    for trial_dir in trial_dirs(folder):
        rows = [r for r in read_results(trial_dir) if _finite(r, metric)]
        if not rows:
            continue
        row = rows[-1] if scope == "last" else max(rows, key=lambda r: r[metric])
        if best is not None and row[metric] <= best.value:
            continue
        checkpoint = trial_dir / row["checkpoint_dir_name"] if row.get(
            "checkpoint_dir_name") else None
        best = BestTrial(
            trial_id=row["trial_id"], trial_dir=trial_dir, config=row.get("config", {}),
            metric=metric, value=float(row[metric]), epoch=int(row["training_iteration"]),
            epochs_run=int(rows[-1]["training_iteration"]),
            checkpoint=checkpoint if checkpoint and checkpoint.exists() else None,
        )
    return best
