"""tune-cifar's one use of a private Ray API: when Tune's checkpoint retention deletes.

Written for Ray 2.60 (``ray.train._internal.checkpoint_manager._delete_fs_path``, the function
Tune's checkpoint manager calls to delete a checkpoint that retention dropped); on a Ray
without it, ``defer_checkpoint_deletion`` fails with one line naming the versions it knows.

Why: Tune saves its experiment state (which names each trial's latest checkpoint, the one a
resume restores from) every couple of seconds, but deletes a dropped checkpoint at once. A
driver killed between the two leaves a saved state naming a checkpoint that is gone, and
resuming that trial fails ("Could not recover from checkpoint as it does not exist on storage
anymore"; ray-project/ray#27790, whose workaround is to keep every checkpoint). Here a
deletion waits until the experiment's saved state no longer names the checkpoint: the
deletions Tune asks for are kept pending, and each new request (at the next checkpoint of
any trial) and the end of the run delete those the newest complete state file no longer
names. A checkpoint already gone counts as deleted (after a killed driver, the restored
state may drop one that was deleted before the kill).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from tune_cifar.errors import TuneCifarError

WRITTEN_FOR = "Ray 2.60"
_pending: list[tuple[Any, str]] = []  # (file system, path) of deletions not yet safe
_state_cache: dict[Path, tuple[float, str | None]] = {}  # state file -> (mtime, its text)


def defer_checkpoint_deletion() -> None:
    """Route Tune's checkpoint deletions through ``delete_when_unnamed`` (once per process)."""
    try:
        from ray.train._internal import checkpoint_manager

        delete = checkpoint_manager._delete_fs_path
    except (ImportError, AttributeError):
        import ray

        raise TuneCifarError(f"tune-cifar was written for {WRITTEN_FOR}; this Ray "
                             f"({ray.__version__}) has no checkpoint_manager._delete_fs_path"
                             ) from None
    if getattr(delete, "tune_cifar_original", None) is not None:
        return

    def delete_when_unnamed(fs: Any, fs_path: str) -> None:
        _pending.append((fs, fs_path))
        delete_unnamed_checkpoints()

    delete_when_unnamed.tune_cifar_original = delete  # type: ignore[attr-defined]
    checkpoint_manager._delete_fs_path = delete_when_unnamed


def delete_unnamed_checkpoints(everything: bool = False) -> None:
    """Delete the pending checkpoints that the saved experiment state no longer names (all of
    them with ``everything``, once Tune's last state of a run is saved)."""
    from ray.train._internal import checkpoint_manager

    delete = getattr(checkpoint_manager._delete_fs_path, "tune_cifar_original",
                     checkpoint_manager._delete_fs_path)
    waiting = []
    for fs, fs_path in _pending:
        if everything or not _named_by_saved_state(fs_path):
            with contextlib.suppress(FileNotFoundError):
                delete(fs=fs, fs_path=fs_path)
        else:
            waiting.append((fs, fs_path))
    _pending[:] = waiting


def _named_by_saved_state(checkpoint: str) -> bool:
    """Whether the experiment's newest saved state may still name ``checkpoint``
    (EXP/trial_x/checkpoint_n): its path in the file, as text or as the hex of the pickle that
    holds the trial's checkpoint manager. A state file caught mid-write names everything."""
    experiment = Path(checkpoint).parent.parent
    states = sorted(experiment.glob("experiment_state-*.json"))  # named by start time
    if not states:
        return False
    text = _read_state(states[-1])
    return text is None or checkpoint in text or checkpoint.encode().hex() in text


def _read_state(path: Path) -> str | None:
    """The text of a complete state file (None while it is being written), cached by mtime."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return None
    cached = _state_cache.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    try:
        text = path.read_text()
        json.loads(text)
    except (OSError, ValueError):
        text = None
    _state_cache[path] = (mtime, text)
    return text
