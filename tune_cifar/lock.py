"""One writer per experiment: a running search holds its folder until it ends.

    with hold_experiment(folder, "search"):    # refused in one line if another process holds it
        ...                                    # run, resume or confirm the search

A search, a resume and a confirmation take an exclusive ``flock`` on ``EXP/.tune_cifar.lock``
for as long as they run and write who holds it (process id, host, command, since when) into
that file. Another writer (``search --overwrite``, ``resume``, ``confirm``) asks for the lock
without waiting and, refused, names the holder. Readers (``analyze``, ``best``, ``dashboard``,
...) take no lock: they read a running search as it goes.

A holder that died holds nothing: the operating system releases a process's ``flock`` when
the process ends, however it ends (exit, SIGKILL, a crash; a reboot ends them all), so a lock
file left behind never blocks anyone, and no process id has to be guessed alive or dead. On a
file system shared between machines, ``flock`` holds across them where the file system
implements it (NFSv4, CephFS, Lustre mounted with ``flock``); on one that does not, it holds
between processes of one machine only.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from tune_cifar.errors import UsageError

LOCK_FILE = ".tune_cifar.lock"


class ExperimentLock:
    """An exclusive lock on one experiment folder, held until ``release``."""

    def __init__(self, folder: Path, purpose: str) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        handle: IO[str] = open(self.path, "a+")  # noqa: SIM115 (held open while locked)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = describe_holder(handle.read())
            handle.close()
            raise UsageError(f"experiment {self.folder} is in use by {holder}; wait until it "
                             "ends or stop it (Ctrl-C, kill) first") from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                 "purpose": purpose, "command": " ".join(sys.argv),
                                 "since": time.strftime("%Y-%m-%d %H:%M:%S")}) + "\n")
        handle.flush()
        self._handle: IO[str] | None = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def describe_holder(text: str) -> str:
    """'a search (process 123 on host h, since ...: tune-cifar search ...)' from a lock file."""
    try:
        info = json.loads(text)
        return (f"a {info['purpose']} (process {info['pid']} on host {info['host']}, since "
                f"{info['since']}: {info['command']})")
    except (ValueError, KeyError, TypeError):
        return "another process (it has not written its name yet)"


@contextlib.contextmanager
def hold_experiment(folder: Path, purpose: str) -> Iterator[ExperimentLock]:
    """Hold ``folder`` for the ``with`` block (see the module docstring)."""
    lock = ExperimentLock(folder, purpose)
    try:
        yield lock
    finally:
        lock.release()
