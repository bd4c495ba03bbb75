"""The machine a figure was measured on, in one line (airbench's habit: results name their
hardware), and a mean with its spread over runs.

    >>> describe_hardware()
    'CPU: AMD EPYC, 2 cores; torch 2.14.1, 1 thread'
"""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
from pathlib import Path


def cpu_name() -> str:
    """The CPU model as /proc/cpuinfo names it (the platform's processor string elsewhere)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def describe_hardware() -> str:
    """GPU (name, memory) if torch sees one, the CPU, and the torch version and threads."""
    import torch

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = []
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        parts.append(
            f"GPU: {torch.cuda.device_count()} x {props.name} "
            f"({props.total_memory / 2**30:.0f} GiB)"
        )
    parts.append(f"CPU: {cpu_name()}, {cores} cores")
    return "; ".join(parts) + f"; torch {torch.__version__}, {torch.get_num_threads()} threads"


def mean_spread(values: list[float], digits: int = 4) -> str:
    """'mean ± sample standard deviation (n runs)'; the spread is omitted for one run."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.{digits}f} (1 run)"
    return f"{mean:.{digits}f} ± {statistics.stdev(values):.{digits}f} ({len(values)} runs)"


def set_niceness(nice: int) -> int:
    """Every thread of this process at niceness ``nice``, as far as it may go (raising it
    always may; lowering it takes privileges a Ray worker rarely has); the niceness it has
    now. On Linux niceness is per thread and a new thread inherits its creator's, so each
    existing thread (Ray's, torch's pool) is set, not only this one."""
    tasks = Path("/proc/self/task")
    ids = [int(t.name) for t in tasks.iterdir()] if tasks.is_dir() else [0]
    for tid in ids:  # (not allowed lower; a thread that ended meanwhile)
        with contextlib.suppress(PermissionError, ProcessLookupError):
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    return os.getpriority(os.PRIO_PROCESS, 0)
