"""Where a search writes: its experiment folder, claimed before Ray starts and held while it
runs. Never a folder someone else made, never one another search is running in.

    folder = experiment_folder(opts, space)
    lock = claim_folder(folder, opts.overwrite)    # checks, and holds an experiment replaced
    lock = create_folder(folder, lock)             # empty but for its lock, held
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from tune_cifar.errors import UsageError
from tune_cifar.experiment import SPEC_FILE, local_folder
from tune_cifar.lock import LOCK_FILE, ExperimentLock
from tune_cifar.search_options import SearchOptions
from tune_cifar.spaces import SearchSpace
from tune_cifar.stopping import check_free_space


def experiment_folder(opts: SearchOptions, space: SearchSpace) -> Path:
    name = opts.name or f"{space.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    return local_folder(opts.storage_path, "--storage-path") / name


def claim_folder(folder: Path, overwrite: bool) -> ExperimentLock | None:
    """Check, before Ray starts, that the search may write ``folder``; changes nothing on disk
    but the storage folder itself (and an existing experiment's lock file).

    A new name needs an unused folder name in a writable storage path. ``overwrite`` replaces
    only a tune-cifar experiment (its spec file is there) or an empty folder, and only one that
    no search, resume or confirmation is running in: its lock is taken now and held (returned)
    until the search ends."""
    lock = None
    if folder.exists() or folder.is_symlink():
        if not overwrite:
            raise UsageError(f"experiment {folder} already exists; pick another --name, "
                             "resume it with 'tune-cifar resume', or pass --overwrite")
        if folder.is_symlink() or not folder.is_dir():
            raise UsageError(f"--overwrite: {folder} is not a folder of its own (a file or a "
                             "link); left untouched")
        if not (folder / SPEC_FILE).is_file() and any(folder.iterdir()):
            raise UsageError(f"--overwrite: {folder} is not a tune-cifar experiment (no "
                             f"{SPEC_FILE}); only experiments are replaced, this folder is left "
                             "untouched")
        lock = ExperimentLock(folder, "search")
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder.parent):
            pass
        check_free_space(folder if lock is not None else folder.parent)
    except (OSError, UsageError) as exc:
        if lock is not None:
            lock.release()
        if isinstance(exc, UsageError):
            raise
        raise UsageError(f"cannot write to storage path {folder.parent}: {exc.strerror}") from None
    return lock


def create_folder(folder: Path, lock: ExperimentLock | None) -> ExperimentLock:
    """The experiment folder, empty but for its lock, held by this search: a new folder, or
    (``lock`` given by ``claim_folder``) the experiment being replaced, emptied."""
    if lock is not None:
        for entry in folder.iterdir():
            if entry.name == LOCK_FILE:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        return lock
    try:
        folder.mkdir()
    except FileExistsError:  # another search took this name since claim_folder
        raise UsageError(f"experiment {folder} already exists; pick another --name") from None
    return ExperimentLock(folder, "search")
