"""The local cache through which the results commands read an experiment in object storage
(``$TUNE_CIFAR_CACHE``, else ``~/.cache/tune-cifar``): the spec, the journal, each trial's
``result.json`` / ``progress.csv`` / ``error.txt`` and the confirmation's tables, never the
pickles, and the checkpoints' names only; a checkpoint's files come down when it is used
(``fetch_checkpoint``). So ``analyze`` of a 500-trial experiment downloads no checkpoint.

    folder = local_copy(place.child("quick-2026..."))   # the results' files, in a named cache
    print(shown(folder / "trial_x"))                     # s3://bucket/results/quick-.../trial_x
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from tune_cifar.constants import (
    ANALYSIS_DIR,
    CHECKPOINT_PREFIX,
    CONFIRM_DIR,
    ERROR_FILE,
    PARAMS_FILE,
    PROGRESS_FILE,
    REMOTE_MARK,
    RESULT_FILE,
    STOPPED_FILE,
    TRIAL_PREFIX,
)
from tune_cifar.errors import UsageError
from tune_cifar.storage._place import Place, check_storage, describe_s3_error, storage_place

CACHE_ENV = "TUNE_CIFAR_CACHE"
# What the results commands read of an experiment (never the pickles, never checkpoints' files)
RESULT_FILES = (RESULT_FILE, PROGRESS_FILE, ERROR_FILE, PARAMS_FILE, STOPPED_FILE)
TOP_FILES = (".json", ".log", ".csv", ".md", ".txt")  # at the experiment's top: every such file


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or "~/.cache/tune-cifar").expanduser()


def cache_folder(place: Place) -> Path:
    """Where the cache keeps a remote place: CACHE/<scheme>/<bucket>/<path>."""
    scheme = place.uri.split("://", 1)[0]
    return cache_root() / scheme / place.path


def local_copy(place: Place) -> Path:
    """A local folder holding what the results commands read of the experiment at ``place``
    (the place itself when it is local); refreshed from the storage on every call."""
    import pyarrow.fs as pafs

    if place.is_local:
        return place.local
    check_storage(place, "experiment")
    target = cache_folder(place)
    try:
        infos = place.fs.get_file_info(
            pafs.FileSelector(place.path, recursive=True, allow_not_found=True)
        )
    except OSError as exc:
        raise UsageError(f"experiment {place.uri}: {describe_s3_error(str(exc), '')}") from None
    target.mkdir(parents=True, exist_ok=True)
    (target / REMOTE_MARK).write_text(place.uri + "\n")
    _forget_gone(target, {info.path[len(place.path) :].lstrip("/") for info in infos})
    for info in infos:
        relative = info.path[len(place.path) :].lstrip("/")
        parts = relative.split("/")
        if info.type == pafs.FileType.Directory:
            if parts[-1].startswith(CHECKPOINT_PREFIX):
                (target / relative).mkdir(parents=True, exist_ok=True)
                (target / relative / REMOTE_MARK).write_text(f"{place.uri}/{relative}\n")
            continue
        if _wanted(parts):
            _download(place.fs, info.path, target / relative, info.size)
    return target


def _forget_gone(target: Path, remote: set[str]) -> None:
    """Drop cached trial and checkpoint folders, and the experiment's own files (its spec,
    journal, a trial's results), that the storage no longer has (an experiment replaced with
    --overwrite, checkpoints retention deleted, a spec deleted: a stale copy must not vouch
    for it); local outputs (analysis/, confirm/) stay."""
    for path in sorted(target.rglob("*"), reverse=True):
        relative = path.relative_to(target).as_posix()
        if relative in remote:
            continue
        if path.is_dir() and path.name.startswith((TRIAL_PREFIX, CHECKPOINT_PREFIX)):
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and _mirrored(relative.split("/")):
            path.unlink()


def _mirrored(parts: list[str]) -> bool:
    """A cached file that only mirrors the storage: at the top (not our mark), or a trial's."""
    if len(parts) == 1:
        return parts[0] != REMOTE_MARK and parts[0].endswith(TOP_FILES)
    return len(parts) == 2 and parts[0].startswith(TRIAL_PREFIX) and parts[1] in RESULT_FILES


def _wanted(parts: list[str]) -> bool:
    """A results file: at the top, in a trial folder, or in the confirmation's folder."""
    name = parts[-1]
    if name.endswith(".pkl") or any(p.startswith(CHECKPOINT_PREFIX) for p in parts):
        return False
    if len(parts) == 1 or (parts[0] == CONFIRM_DIR and len(parts) == 2):
        return name.endswith(TOP_FILES)
    return name in RESULT_FILES or (parts[-2:-1] == [ANALYSIS_DIR] and name.endswith(".csv"))


def _download(fs: Any, path: str, local: Path, size: int | None = None) -> None:
    """Copy one file down unless the cached copy has the same size (files only grow)."""
    if local.is_file() and size is not None and local.stat().st_size == size:
        return
    local.parent.mkdir(parents=True, exist_ok=True)
    partial = local.with_name(local.name + ".partial")
    with fs.open_input_stream(path) as source, partial.open("wb") as sink:
        shutil.copyfileobj(source, sink)
    os.replace(partial, local)  # a reader never sees half a file


def fetch_checkpoint(folder: Path) -> Path:
    """A cached checkpoint folder with its files: downloaded now if only its name was."""
    import pyarrow.fs as pafs

    mark = Path(folder) / REMOTE_MARK
    if not mark.is_file():
        return Path(folder)
    place = storage_place(mark.read_text().strip())
    for info in place.fs.get_file_info(pafs.FileSelector(place.path, recursive=True)):
        if info.type == pafs.FileType.File:
            relative = info.path[len(place.path) :].lstrip("/")
            _download(place.fs, info.path, Path(folder) / relative, info.size)
    return Path(folder)


def upload(local: Path, place: Place) -> None:
    """Copy one local file to ``place`` (written whole, or not at all, by object storage)."""
    with local.open("rb") as source, place.fs.open_output_stream(place.path) as sink:
        shutil.copyfileobj(source, sink)


def remote_of(folder: Path) -> str | None:
    """The URI a cached folder mirrors, if it is one."""
    mark = Path(folder) / REMOTE_MARK
    return mark.read_text().strip() if mark.is_file() else None


def shown(path: Path | str | None) -> str:
    """A path as a user should read it: a file of the local cache as the URI it mirrors."""
    if path is None:
        return ""
    path = Path(path)
    for folder in [path, *path.parents]:
        uri = remote_of(folder)
        if uri is not None:
            rest = path.relative_to(folder).as_posix()
            return uri if rest == "." else f"{uri}/{rest}"
    return str(path)


def download(place: Place, local: Path) -> None:
    """Copy one file of ``place`` down to ``local`` (whole, by a rename), if it changed size."""
    info = place.fs.get_file_info(place.path)
    _download(place.fs, place.path, local, info.size)
