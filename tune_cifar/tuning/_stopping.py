"""How a search ends before its trials are done: in order, and resumable.

Ctrl-C, SIGTERM, ``--time-budget`` and a full storage all end a search the same way, through
Tune's own Ctrl-C handling: Tune saves its state once more, trials not done stay unfinished,
and ``tune-cifar resume`` continues them from their last complete checkpoints. (Tune's
``time_budget_s`` and a stopper's ``stop_all`` would instead mark every unfinished trial
terminated and the search algorithm finished, leaving a resume nothing to run.)

A full storage is caught three ways, whichever comes first:

- a trial whose checkpoint cannot be written for lack of space (ENOSPC) reports its epoch with
  ``storage_full`` instead of failing (``tune_cifar.trial``), so it spends none of its
  retries, and Tune never registers the half-written checkpoint (it registers a checkpoint only
  once it is fully copied; ``state.pt`` itself is renamed into place);
- the storage has less than ``MIN_FREE_BYTES`` free (checked once a second);
- either way, the search's reserve file (``RESERVE_FILE``, ``RESERVE_BYTES`` written when the
  search starts) is deleted at that moment, so that Tune's last save of its state and the last
  lines of the trials' results have room to be written whole.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

from ray.tune import Callback

from tune_cifar.constants import RESERVE_FILE, STORAGE_FULL_ERROR
from tune_cifar.errors import UsageError

RESERVE_BYTES = 16 * 2**20  # room for Tune's state and the results' last lines once full
MIN_FREE_BYTES = 16 * 2**20  # below this, the search stops before a write can fail
STORAGE_FULL = "storage full"
TIME_BUDGET = "time budget"
INTERRUPTED = "interrupted"


class _Stop:
    """Why the running search was asked to stop (None: it was not)."""

    reason: str | None = None
    detail: str = ""


def stop_reason() -> tuple[str | None, str]:
    """(reason, detail) of the last search's early stop: STORAGE_FULL, TIME_BUDGET,
    INTERRUPTED or None."""
    return _Stop.reason, _Stop.detail


def reset_stop() -> None:
    """Before a search or resume runs: nothing has asked it to stop."""
    _Stop.reason, _Stop.detail = None, ""


def request_stop(reason: str, detail: str = "") -> None:
    """Stop the running search as Ctrl-C does (from the driver's main thread)."""
    if _Stop.reason is not None:
        return
    _Stop.reason, _Stop.detail = reason, detail
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):
        handler(signal.SIGINT, None)


def check_free_space(folder: Path) -> None:
    """Refuse, in one line, a storage without room for the reserve and the minimum free."""
    need = RESERVE_BYTES + MIN_FREE_BYTES
    have = shutil.disk_usage(folder).free + _reserve_size(folder)
    if have < need:
        raise UsageError(
            f"storage path {folder} has {have / 2**20:.0f} MiB free; a search "
            f"needs at least {need / 2**20:.0f} MiB (and room for its checkpoints)"
        )


def _reserve_size(folder: Path) -> int:
    with contextlib.suppress(OSError):
        return (folder / RESERVE_FILE).stat().st_size
    return 0


def write_reserve(folder: Path) -> None:
    """The reserve file: random bytes, so that a compressing file system keeps their room."""
    if _reserve_size(folder) == RESERVE_BYTES:
        return
    with open(folder / RESERVE_FILE, "wb") as f:
        for _ in range(RESERVE_BYTES // 2**20):
            f.write(os.urandom(2**20))


def release_reserve(folder: Path) -> None:
    (folder / RESERVE_FILE).unlink(missing_ok=True)


class StopWatch(Callback):
    """Ends the search in order on Ctrl-C/SIGTERM, at the time budget, or when the storage is
    full (see the module docstring); ``stop_reason()`` says which."""

    def __init__(self, folder: Path | None, time_budget_s: float | None = None) -> None:
        self.folder = folder  # None: object storage (no disk of ours to watch)
        self.time_budget_s = time_budget_s
        self._start = time.monotonic()
        self._next_space_check = 0.0

    def setup(self, *args: Any, **info: Any) -> None:
        reset_stop()
        self._start = time.monotonic()  # a resume gets its time budget afresh
        if threading.current_thread() is threading.main_thread():
            # Tune installs its Ctrl-C handler when a run starts, before this setup: wrapped,
            # so that a Ctrl-C is told apart from the stops requested here.
            tune_handler = signal.getsignal(signal.SIGINT)

            def note_and_stop(signum: int, frame: Any) -> None:
                if _Stop.reason is None:
                    _Stop.reason = INTERRUPTED
                if callable(tune_handler):
                    tune_handler(signum, frame)
                else:
                    raise KeyboardInterrupt

            signal.signal(signal.SIGINT, note_and_stop)

    def _storage_full(self, detail: str) -> None:
        if self.folder is not None:
            release_reserve(self.folder)
        request_stop(STORAGE_FULL, detail)

    def on_trial_result(
        self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
    ) -> None:
        if result.get(STORAGE_FULL_ERROR):
            self._storage_full(str(result[STORAGE_FULL_ERROR]))

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        if trials and self.folder is not None:  # where the experiment is now (Tune pickles
            self.folder = Path(trials[0].path).parent  # callbacks; it may have moved)
        now = time.monotonic()
        if self.time_budget_s is not None and now - self._start >= self.time_budget_s:
            request_stop(TIME_BUDGET)
        if self.folder is not None and now >= self._next_space_check:
            self._next_space_check = now + 1.0
            with contextlib.suppress(OSError):
                free = shutil.disk_usage(self.folder).free
                if free < MIN_FREE_BYTES:
                    self._storage_full(f"only {free / 2**20:.1f} MiB free")
