"""tune-cifar checkpoints on disk: one ``state.pt`` per checkpoint folder.

This module owns the format: its tag, its version and the versions it reads. A checkpoint
holds a ``Trainer.state_dict()``: config, epoch, history, model, optimizer,
schedule and RNG states. It is written with ``torch.save`` and read only with
``weights_only=True``, so a planted pickle cannot run code; a file that is not a tune-cifar
checkpoint, or one of a format version this release does not read, is a one-line error. A
checkpoint is written to a temporary name and renamed into place, so a write cut short (a
full disk, a kill) never leaves a half-written ``state.pt``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from tune_cifar.constants import STATE_FILE
from tune_cifar.errors import UsageError

CHECKPOINT_FORMAT = "tune-cifar-checkpoint"  # the "format" tag of every state.pt
# 2: the trial's own generator holds every random stream (dropout included); 1 (tune-cifar
# before 2026-12) also saved torch's process-wide RNG, which dropout drew from. A version 1
# checkpoint restores its model, and resumes training with dropout drawn from the trial's
# generator from then on.
CHECKPOINT_VERSION = 2
READABLE_CHECKPOINT_VERSIONS = (1, 2)


def save_state(state: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / STATE_FILE
    partial = folder / f".{STATE_FILE}.partial"
    try:
        torch.save(state, partial)
        os.replace(partial, path)  # atomic: the old state.pt or the new one, never half of one
    finally:
        partial.unlink(missing_ok=True)
    return path


def load_state(path: Path) -> dict[str, Any]:
    """Read a checkpoint file, or a checkpoint folder holding ``state.pt``."""
    path = Path(path)
    if path.is_dir():
        path = path / STATE_FILE
    if not path.is_file():
        raise UsageError(f"no tune-cifar checkpoint at {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch's weights-only unpickler raises many kinds on bad files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{path} is not a tune-cifar checkpoint ({first_line})") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise UsageError(f"{path} is not a tune-cifar checkpoint (no '{CHECKPOINT_FORMAT}' tag)")
    version = state.get("version")
    if version not in READABLE_CHECKPOINT_VERSIONS:
        readable = ", ".join(map(str, READABLE_CHECKPOINT_VERSIONS))
        raise UsageError(
            f"{path} is a tune-cifar checkpoint of format version {version}; "
            f"this release reads versions {readable}"
        )
    return state
