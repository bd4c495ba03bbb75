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

In object storage there is no ``flock``: the holder writes the same file as a lease that it
renews every ``LEASE_S / 3`` seconds and deletes when done (``RemoteLease``). A lease not
renewed for ``LEASE_S`` seconds (its holder died) blocks nobody; nor does one whose holder ran
on this machine and whose process is gone. Two writers starting within
the same second could both take it: object storage offers no atomic claim that every store
supports.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from tune_cifar.constants import LOCK_FILE
from tune_cifar.errors import UsageError

LEASE_S = 60  # a remote lease not renewed for this long is free (its holder died)


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
            raise UsageError(
                f"experiment {self.folder} is in use by {holder}; wait until it "
                "ends or stop it (Ctrl-C, kill) first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(_holder(purpose)) + "\n")
        handle.flush()
        self._handle: IO[str] | None = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def _holder(purpose: str) -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "purpose": purpose,
        "command": " ".join(sys.argv),
        "since": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


class RemoteLease:
    """The lock of an experiment in object storage (``place``: a ``Place``):
    a lease object, renewed by a background thread until ``release``."""

    def __init__(self, place: Any, purpose: str) -> None:
        self.place = place.child(LOCK_FILE)
        if self.place.exists():
            try:
                held = json.loads(self.place.read_text())
            except (OSError, ValueError):
                held = {}
            if float(held.get("expires", 0)) > time.time() and not _died_here(held):
                raise UsageError(
                    f"experiment {place.uri} is in use by "
                    f"{describe_holder(json.dumps(held))}; wait until it ends or "
                    f"stop it (Ctrl-C, kill) first (a holder that died frees it "
                    f"within {LEASE_S} s)"
                )
        self.info = _holder(purpose)
        self._stop = threading.Event()
        self._renew()
        self._thread = threading.Thread(target=self._keep, daemon=True, name="lease")
        self._thread.start()

    def _renew(self) -> None:
        self.place.write_text(json.dumps({**self.info, "expires": time.time() + LEASE_S}))

    def _keep(self) -> None:
        while not self._stop.wait(LEASE_S / 3):
            with contextlib.suppress(OSError):
                self._renew()

    def release(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self._thread.join(timeout=5)
            with contextlib.suppress(OSError):
                self.place.fs.delete_file(self.place.path)


def _died_here(held: dict[str, Any]) -> bool:
    """Whether a lease's holder ran on this machine and its process is gone."""
    if held.get("host") != socket.gethostname():
        return False
    try:
        os.kill(int(held["pid"]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, KeyError, ValueError, TypeError):
        return False
    return False


def hold_place(place: Any, purpose: str) -> ExperimentLock | RemoteLease:
    """Hold the experiment at ``place``: a flock for a local folder, a lease in storage."""
    return ExperimentLock(place.local, purpose) if place.is_local else RemoteLease(place, purpose)


def describe_holder(text: str) -> str:
    """'a search (process 123 on host h, since ...: tune-cifar search ...)' from a lock file."""
    try:
        info = json.loads(text)
        return (
            f"a {info['purpose']} (process {info['pid']} on host {info['host']}, since "
            f"{info['since']}: {info['command']})"
        )
    except (ValueError, KeyError, TypeError):
        return "another process (it has not written its name yet)"


@contextlib.contextmanager
def hold_experiment(folder: Path | Any, purpose: str) -> Iterator[ExperimentLock | RemoteLease]:
    """Hold an experiment (a local folder, or a ``Place``) for the ``with`` block."""
    lock = (
        ExperimentLock(folder, purpose) if isinstance(folder, Path) else hold_place(folder, purpose)
    )
    try:
        yield lock
    finally:
        lock.release()
