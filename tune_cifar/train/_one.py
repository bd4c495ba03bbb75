"""``tune-cifar train``: train ONE configuration without a search, the seed study's way.

    tune-cifar train --model cnn_v4 --optimizer adam --epochs 10 --data sample --out runs/v4

Writes into ``--out``: ``history.csv`` (one row per epoch: train_loss, train_acc, val_loss,
val_acc, lr, epoch_time_s, images_per_s, train_step, finished_at, train_images),
``config.json`` (with ``--replay``, the first configuration, and ``schedule.json``: each
configuration with the epoch it took effect), and ``checkpoint/state.pt``: the
state after the epoch of best validation accuracy (the latest of equal ones), as a search keeps
it, rewritten whenever an epoch beats it.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from tune_cifar.config import TrialConfig
from tune_cifar.constants import (
    DIVERGED_FLAG,
    EPOCH,
    TRAIN_CHECKPOINT_DIR,
    TRAIN_CONFIG_FILE,
    TRAIN_HISTORY_FILE,
    TRAIN_SCHEDULE_FILE,
    TRAIN_STEP,
)
from tune_cifar.data import DataBundle
from tune_cifar.errors import UsageError
from tune_cifar.metrics import EPOCH_METRICS, METRIC
from tune_cifar.train._checkpoint import save_state
from tune_cifar.train._trainer import Trainer

# Per epoch: the trainer's metrics, then when the epoch ended (Unix seconds) and how many
# images it trained, so that trainings run side by side can be added up over one wall window.
HISTORY_COLUMNS = (EPOCH, *EPOCH_METRICS, DIVERGED_FLAG, TRAIN_STEP, "finished_at", "train_images")


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(Path(path).read_text())
    except OSError as exc:
        raise UsageError(f"cannot read --config {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"--config {path} is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise UsageError(f"--config {path} must hold a JSON object of config keys")
    return raw


def check_run(epochs: int, threads: int | None) -> None:
    """--epochs and --threads (None: torch's default) must be positive: one line each."""
    for flag, value in (("--epochs", epochs), ("--threads", threads)):
        if value is not None and value < 1:
            raise UsageError(f"{flag} must be positive, got {value}")


def prepare_out(out: Path, overwrite: bool) -> None:
    """An empty ``--out``, or with ``overwrite`` the folder of an earlier ``tune-cifar train``
    (its history.csv and config.json are there), whose outputs are removed first; any other
    non-empty folder is refused and left untouched."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise UsageError(f"--out {out} is not empty; pick another folder or pass --overwrite")
        if not all((out / name).is_file() for name in (TRAIN_HISTORY_FILE, TRAIN_CONFIG_FILE)):
            raise UsageError(
                f"--overwrite: {out} is not the output of 'tune-cifar train' (no "
                f"{TRAIN_HISTORY_FILE} and {TRAIN_CONFIG_FILE}); it is left untouched"
            )
        for name in (TRAIN_HISTORY_FILE, TRAIN_CONFIG_FILE):
            (out / name).unlink()
        shutil.rmtree(out / TRAIN_CHECKPOINT_DIR, ignore_errors=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --out {out}: {exc.strerror}") from None


def write_history(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HISTORY_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def train_one(
    cfg: TrialConfig,
    bundle: DataBundle,
    epochs: int,
    out: Path,
    threads: int | None = None,
    device: str = "auto",
    cuda_graph: str = "auto",
    schedule: dict[int, TrialConfig] | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Train ``cfg`` for ``epochs``, printing one line per epoch and keeping the best epoch's
    checkpoint in ``out/checkpoint``; returns the history and the epoch that checkpoint holds
    (None if no epoch had a finite val_acc). ``schedule``: {epoch: configuration it trains
    under from then on} (a PBT trial's, replayed; ``Trainer.follow``)."""
    check_run(epochs, threads)
    if threads:
        torch.set_num_threads(threads)
    (out / TRAIN_CONFIG_FILE).write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    schedule = {e: c for e, c in (schedule or {}).items() if e > 1}
    if schedule:
        (out / TRAIN_SCHEDULE_FILE).write_text(
            json.dumps(
                [{"from_epoch": 1, "config": cfg.to_dict()}]
                + [{"from_epoch": e, "config": c.to_dict()} for e, c in sorted(schedule.items())],
                indent=2,
            )
            + "\n"
        )
    trainer = Trainer(cfg, bundle.training, epochs, device, cuda_graph)
    print(
        f"{bundle.describe()}; training on {trainer.device} for {epochs} epochs "
        f"({'CUDA graph' if trainer.graph is not None else 'eager'} steps)",
        flush=True,
    )
    mode = trainer.step_mode
    best_epoch, best_value = None, -math.inf
    rows: list[dict[str, Any]] = []
    while not trainer.finished:
        before = trainer.follow(schedule)
        if before is not None:
            changes = ", ".join(
                f"{k} {getattr(before, k):g} -> {v:g}"
                for k, v in trainer.cfg.to_dict().items()
                if k != "seed" and v != getattr(before, k)
            )
            print(f"epoch {trainer.epoch + 1}: {changes or 'no change'}", flush=True)
        m = trainer.run_epoch()
        rows.append({**m, "finished_at": time.time(), "train_images": len(trainer.train_y)})
        print(
            f"epoch [{m['epoch']}/{epochs}] loss: {m['train_loss']:.5f} acc: "
            f"{m['train_acc']:.5f} val_loss: {m['val_loss']:.5f} val_acc: {m['val_acc']:.5f} "
            f"({m['epoch_time_s']:.1f}s, {m['images_per_s']:.0f} img/s)",
            flush=True,
        )
        if m[TRAIN_STEP] != mode and "failed" in m[TRAIN_STEP]:  # the graph was given up
            print(f"note: full batches now train {m[TRAIN_STEP]}", flush=True)
        mode = m[TRAIN_STEP]
        write_history(rows, out / TRAIN_HISTORY_FILE)
        # >=: of equal scores the latest, as a search's checkpoint retention keeps them
        if math.isfinite(m[METRIC]) and m[METRIC] >= best_value:
            best_epoch, best_value = m[EPOCH], m[METRIC]
            save_state(trainer.state_dict(), out / TRAIN_CHECKPOINT_DIR)
        if m[DIVERGED_FLAG]:
            print("loss became NaN/inf: training stopped (diverged)", flush=True)
            break
    return trainer.history, best_epoch
