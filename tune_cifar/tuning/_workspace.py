"""Where a search writes: its experiment folder (local, or a prefix in object storage),
claimed before Ray starts and held while it runs. Never a folder someone else made, never one
another search is running in.

    place = experiment_place(opts, space)
    lock = claim_folder(place, opts.overwrite)     # checks, and holds an experiment replaced
    lock = create_folder(place, lock)              # empty but for its lock, held
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from tune_cifar.constants import LOCK_FILE, SPEC_FILE
from tune_cifar.errors import UsageError
from tune_cifar.storage import ExperimentLock, Place, RemoteLease, check_storage, storage_place
from tune_cifar.tuning._options import SearchOptions
from tune_cifar.tuning._spaces import SearchSpace
from tune_cifar.tuning._stopping import check_free_space

Lock = ExperimentLock | RemoteLease


def experiment_place(opts: SearchOptions, space: SearchSpace) -> Place:
    name = opts.name or f"{space.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    return storage_place(opts.storage_path, "--storage-path").child(name)


def claim_folder(place: Place, overwrite: bool) -> Lock | None:
    """Check, before Ray starts, that the search may write the experiment at ``place`` (see
    ``claim_local``); in object storage: the bucket is usable (``check_storage``), and a name
    in use is replaced only with ``overwrite``, only when it is an experiment, and only when
    no search, resume or confirmation holds its lease."""
    if place.is_local:
        return claim_local(place.local, overwrite)
    check_storage(place)
    if not place.exists():
        return None
    if not overwrite:
        raise UsageError(
            f"experiment {place.uri} already exists; pick another --name, resume "
            "it with 'tune-cifar resume', or pass --overwrite"
        )
    if not place.child(SPEC_FILE).exists():
        raise UsageError(
            f"--overwrite: {place.uri} is not a tune-cifar experiment (no "
            f"{SPEC_FILE}); only experiments are replaced, it is left untouched"
        )
    return RemoteLease(place, "search")


def create_folder(place: Place, lock: Lock | None) -> Lock:
    """The experiment folder, empty but for its lock, held by this search (``create_local``
    for a local one); in object storage the prefix being replaced is emptied."""
    import pyarrow.fs as pafs

    if place.is_local:
        return create_local(place.local, lock)  # type: ignore[arg-type]
    if lock is not None:
        for info in place.fs.get_file_info(pafs.FileSelector(place.path)):
            if info.base_name == LOCK_FILE:
                continue
            if info.type == pafs.FileType.Directory:
                place.fs.delete_dir(info.path)
            else:
                place.fs.delete_file(info.path)
        return lock
    if place.exists():  # another search took this name since claim_folder
        raise UsageError(f"experiment {place.uri} already exists; pick another --name")
    return RemoteLease(place, "search")


def claim_local(folder: Path, overwrite: bool) -> ExperimentLock | None:
    """Check, before Ray starts, that the search may write ``folder``; changes nothing on disk
    but the storage folder itself (and an existing experiment's lock file).

    A new name needs an unused folder name in a writable storage path. ``overwrite`` replaces
    only a tune-cifar experiment (its spec file is there) or an empty folder, and only one that
    no search, resume or confirmation is running in: its lock is taken now and held (returned)
    until the search ends."""
    lock = None
    if folder.exists() or folder.is_symlink():
        if not overwrite:
            raise UsageError(
                f"experiment {folder} already exists; pick another --name, "
                "resume it with 'tune-cifar resume', or pass --overwrite"
            )
        if folder.is_symlink() or not folder.is_dir():
            raise UsageError(
                f"--overwrite: {folder} is not a folder of its own (a file or a "
                "link); left untouched"
            )
        if not (folder / SPEC_FILE).is_file() and any(folder.iterdir()):
            raise UsageError(
                f"--overwrite: {folder} is not a tune-cifar experiment (no "
                f"{SPEC_FILE}); only experiments are replaced, this folder is left "
                "untouched"
            )
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


def create_local(folder: Path, lock: ExperimentLock | None) -> ExperimentLock:
    """The experiment folder, empty but for its lock, held by this search: a new folder, or
    (``lock`` given by ``claim_local``) the experiment being replaced, emptied."""
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
