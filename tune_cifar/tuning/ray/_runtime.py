"""Starting or joining Ray for a search, and stopping it as a user expects.

    configure_ray_driver()           # the driver's logging and Tune's settings
    start_ray(None)                  # a Ray of this process's own, never one that runs here
    start_ray("10.0.0.5:6379")       # a cluster; one line within 15 s if none answers there
    start_ray(None, nice=0)          # trial processes as nice as the driver (Ray's: 15)

After ``ray.init``, SIGTERM stops a search as Ctrl-C does (Ray's handler would exit at once).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any, NoReturn

from tune_cifar.errors import UsageError
from tune_cifar.tuning.ray._private import defer_checkpoint_deletion

RAY_WORKER_NICENESS = "RAY_worker_niceness"  # the raylet's niceness for its workers (15)


def configure_ray_driver() -> None:
    """The driver's Ray: informational logs off the console (real errors still show), Tune's
    state saved every 2 s, no idle workers started for nothing, and checkpoint deletion that a
    killed driver survives."""
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    # TUNE_MAX_PENDING_TRIALS_PG stays Ray's "auto": random and grid searches queue as many
    # trials as resources may take at once (a GPU holding 16 must not start them 4 at a time),
    # while Optuna's searcher gets one pending trial (its --max-concurrent with a limiter), so
    # that TPE suggests each trial knowing the results so far.
    # Save Tune's experiment state every 2 s (Ray's "auto" waits 10 s or more), so that a
    # killed driver loses at most one epoch per trial on resume.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
    # A Ray this process starts prestarts no idle workers (Ray's default: one per CPU, for
    # tasks). Tune runs each trial in an actor, which Ray starts in a process of its own: the
    # prestarted ones sat unused and were stopped, after taking CPU from the search's start.
    os.environ.setdefault("RAY_prestart_worker_first_driver", "0")
    for name in ("ray", "ray.tune", "ray.train", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no line per study or trial
    defer_checkpoint_deletion()  # a killed driver's saved state never names a deleted one


CONNECT_TIMEOUT_S = 5  # TCP connect to a cluster's address
JOIN_TIMEOUT_S = 15  # the whole handshake with its GCS
# A Ray handshake that gives up after one short try (Ray's defaults retry for minutes);
# Ray reads these when it is imported, hence a separate process.
_JOIN_PROBE = """
import logging, sys
import ray
ray.init(address=sys.argv[1], log_to_driver=False, logging_level=logging.ERROR,
         include_dashboard=False)
ray.shutdown()
"""
_SHORT_TRIES = {
    "RAY_gcs_server_port_wait_time_s": "1",
    "RAY_gcs_rpc_server_connect_timeout_s": str(CONNECT_TIMEOUT_S),
    "RAY_py_gcs_connect_timeout_s": str(CONNECT_TIMEOUT_S),
}


def check_cluster(address: str, named_by: str = "") -> None:
    """Fail within JOIN_TIMEOUT_S, in one line, when no Ray cluster answers at ``address``
    (``named_by``: where the address came from, when not from --address)."""

    def refuse(reason: str) -> NoReturn:
        raise UsageError(
            f"cannot join the Ray cluster at {cluster_name(address, named_by)}: {reason}"
        )

    host, _, port = address.rpartition(":")
    if host and port.isdigit() and "://" not in address:
        try:
            with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
                pass
        except OSError as exc:
            refuse(f"{exc.strerror or 'no answer'} (is 'ray start --head' running there?)")
    try:
        probe = subprocess.run(
            [sys.executable, "-c", _JOIN_PROBE, address],
            text=True,
            capture_output=True,
            timeout=JOIN_TIMEOUT_S,
            env={**os.environ, **_SHORT_TRIES},
        )
    except subprocess.TimeoutExpired:
        refuse(f"no Ray cluster answered within {JOIN_TIMEOUT_S} s")
    if probe.returncode != 0:
        errors = [line for line in probe.stderr.splitlines() if "Error" in line]
        refuse(errors[-1].split(": ", 1)[-1] if errors else f"exit code {probe.returncode}")


def cluster_name(address: str, named_by: str) -> str:
    return f"{address} (from {named_by})" if named_by else address


def start_ray(address: str | None, named_by: str = "", nice: int | None = None) -> None:
    """Join the Ray cluster at ``address``, or start a Ray of this process's own (None),
    unless this process already has it running (a notebook, a test session); a Ray of its
    own starts its worker processes at niceness ``nice`` (None: Ray's 15)."""
    import ray

    configure_ray_driver()
    if address is not None:
        check_cluster(address, named_by)  # also where this process has a Ray of its own
    if ray.is_initialized():
        return
    try:
        # "local": without it, ray.init() joins whatever cluster /tmp/ray/ray_current_cluster
        # names (left by 'ray start' or ray.cluster_utils), trials and all.
        with _worker_niceness(nice if address is None else None):
            ray.init(
                address=address or "local",
                log_to_driver=False,
                logging_level=logging.ERROR,
                include_dashboard=False,
            )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        if address is None:
            raise UsageError(f"cannot start Ray on this machine: {exc}") from None
        raise UsageError(
            f"cannot join the Ray cluster at {cluster_name(address, named_by)}: {exc}"
        ) from None
    stop_on_sigterm()


@contextlib.contextmanager
def _worker_niceness(nice: int | None) -> Iterator[None]:
    """The Ray started meanwhile starts its workers at ``nice`` (its raylet reads
    RAY_worker_niceness from the environment it inherits), the environment as it was after."""
    if nice is None:
        yield
        return
    before = os.environ.get(RAY_WORKER_NICENESS)
    os.environ[RAY_WORKER_NICENESS] = str(nice)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(RAY_WORKER_NICENESS, None)
        else:
            os.environ[RAY_WORKER_NICENESS] = before


def stop_on_sigterm() -> None:
    """SIGTERM (``kill PID``, a job scheduler's stop) stops a search as Ctrl-C does: Tune saves
    its state once more and the search ends with the resume command. ``ray.init`` installs a
    SIGTERM handler that exits at once, in the middle of whatever the driver was doing."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    signal.signal(signal.SIGTERM, _stop_as_on_sigint)


def _stop_as_on_sigint(signum: int, frame: Any) -> None:
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):  # Tune's graceful stop during a search, else Python's KeyboardInterrupt
        handler(signum, frame)
    else:  # SIGINT ignored (a background job of a shell): still stop
        raise KeyboardInterrupt
