"""``tune-cifar train``: train ONE configuration without a search, the seed study's way.

    tune-cifar train --model cnn_v4 --optimizer adam --epochs 10 --data sample --out runs/v4

Writes ``history.csv`` (one row per epoch: train_loss, train_acc, val_loss, val_acc, lr,
epoch_time_s, images_per_s), ``config.json`` and ``checkpoint/state.pt`` into ``--out``.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import torch

from tune_cifar.checkpoint import save_state
from tune_cifar.config import TrialConfig
from tune_cifar.data import DataBundle
from tune_cifar.errors import UsageError
from tune_cifar.training import Trainer

HISTORY_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
                   "epoch_time_s", "images_per_s", "diverged", "train_step")


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


def prepare_out(out: Path, overwrite: bool) -> None:
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise UsageError(f"--out {out} is not empty; pick another folder or pass --overwrite")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --out {out}: {exc.strerror}") from None


def write_history(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HISTORY_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def train_one(cfg: TrialConfig, bundle: DataBundle, epochs: int, out: Path,
              threads: int | None = None, device: str = "auto",
              cuda_graph: str = "auto") -> list[dict[str, Any]]:
    """Train ``cfg`` for ``epochs``, printing one line per epoch; returns the history."""
    if threads:
        torch.set_num_threads(threads)
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2) + "\n")
    trainer = Trainer(cfg, bundle.training, epochs, device, cuda_graph)
    print(f"{bundle.describe()}; training on {trainer.device} for {epochs} epochs "
          f"({'CUDA graph' if trainer.graph_step else 'eager'} steps)", flush=True)
    while not trainer.finished:
        m = trainer.run_epoch()
        print(f"epoch [{m['epoch']}/{epochs}] loss: {m['train_loss']:.5f} acc: "
              f"{m['train_acc']:.5f} val_loss: {m['val_loss']:.5f} val_acc: {m['val_acc']:.5f} "
              f"({m['epoch_time_s']:.1f}s, {m['images_per_s']:.0f} img/s)", flush=True)
        write_history(trainer.history, out / "history.csv")
        if m["diverged"]:
            print("loss became NaN/inf: training stopped (diverged)", flush=True)
            break
    save_state(trainer.state_dict(), out / "checkpoint")
    return trainer.history
