"""A search of thousands of near-free trials through the real search path (the live view, the
Optuna journal, the result files and TensorBoard callbacks all on): how the driver's memory
grows with the trials, what each trial costs beyond its training, and the journal's size.

    python benchmarks/search_soak.py --trials 2000        # about 15 minutes on 2 cores
    python benchmarks/search_soak.py --smoke-test         # a minute, for CI

Each trial trains CNN_v4 at width 0.25 for one epoch of 16 synthetic images (milliseconds):
what is left of a trial's wall time is the search's. The search is ``tune-cifar search`` as a
process of its own; its resident memory is read from ``/proc`` twice a second, and noted when
the trials that reported reach each of ``--milestones``, with the time. Per-trial overhead is the
trial slots' seconds not spent training, per trial: (slots x wall - the trials' own seconds)
/ trials; the wall seconds per trial between consecutive milestones show whether a trial
costs more when there are more of them (a driver that rescans every trial at every step),
and the driver's own CPU seconds per trial between them (a figure that other work on the
machine disturbs far less than wall time).
Writes ``OUT/search_soak.json`` and prints the figures.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tune_cifar.constants import (
    EXPERIMENT_STATE_PREFIX,
    JOURNAL_FILE,
    RESULT_FILE,
    TIME_TOTAL_S,
    TRIAL_PREFIX,
)

SPACE = """
from ray import tune

DESCRIPTION = "near-free trials for the soak benchmark"
SPACE = {"width": 0.25, "batch_size": 8, "erase_p": 0.0, "hflip_p": 0.0,
         "lr": tune.loguniform(1e-4, 1e-2)}
"""


def rss_mib(pid: int) -> float | None:
    """The process's resident memory now, from /proc (None once it has ended)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def cpu_s(pid: int) -> float | None:
    """The process's CPU seconds so far (user + system, from /proc; None once it ended)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime are the 14th and 15th fields of proc(5), in clock ticks
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def trials_on_disk(folder: Path) -> int:
    if not folder.is_dir():
        return 0
    return sum(1 for e in os.scandir(folder) if e.name.startswith(TRIAL_PREFIX))


class Reported:
    """The trials that have reported their one epoch (a result line on disk): trial folders
    appear when Tune queues a trial, many at a time."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.names: set[str] = set()

    def count(self) -> int:
        if self.folder.is_dir():
            for entry in os.scandir(self.folder):
                if entry.name.startswith(TRIAL_PREFIX) and entry.name not in self.names:
                    with contextlib.suppress(OSError):
                        if os.stat(Path(entry.path) / RESULT_FILE).st_size > 0:
                            self.names.add(entry.name)
        return len(self.names)


def soak(
    trials: int, milestones: list[int], work: Path, cpus: int, nice: int | None = None
) -> dict[str, Any]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    (work / "space.py").write_text(SPACE)
    folder = work / "soak"
    command = [
        sys.executable,
        "-m",
        "tune_cifar.cli",
        "search",
        "--space",
        str(work / "space.py"),
        "--data",
        "synthetic",
        "--train-subset",
        "16",
        "--val-size",
        "16",
        "--num-samples",
        str(trials),
        "--max-epochs",
        "1",
        "--scheduler",
        "fifo",
        "--storage-path",
        str(work),
        "--name",
        "soak",
        "--progress-interval",
        "600",
        *(["--nice", str(nice)] if nice is not None else []),
    ]
    start = time.monotonic()
    log = (work / "search.log").open("w")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    memory: dict[int, float] = {}
    reached: dict[int, float] = {}  # milestone -> seconds since the start
    driver_cpu: dict[int, float] = {}  # milestone -> the driver's CPU seconds
    first_rss = peak = 0.0
    pending = sorted(milestones)
    reported = Reported(folder)
    while process.poll() is None:
        rss = rss_mib(process.pid)
        if rss is not None:
            first_rss = first_rss or rss
            peak = max(peak, rss)
            count = reported.count()
            while pending and count >= pending[0]:
                reached[pending[0]] = time.monotonic() - start
                driver_cpu[pending[0]] = cpu_s(process.pid) or float("nan")
                memory[pending.pop(0)] = rss
        time.sleep(0.5)
    wall = time.monotonic() - start
    log.close()
    if process.returncode != 0:
        raise RuntimeError(f"the search failed: {(work / 'search.log').read_text()[-2000:]}")
    own = 0.0  # the trials' own seconds (Tune's clock for their one epoch)
    for trial in folder.glob(f"{TRIAL_PREFIX}*/{RESULT_FILE}"):
        lines = trial.read_text().splitlines()
        if lines:
            own += float(json.loads(lines[-1])[TIME_TOTAL_S])
    done = trials_on_disk(folder)
    marks = sorted(memory)
    slope = (
        (memory[marks[-1]] - memory[marks[0]]) / (marks[-1] - marks[0]) * 1000
        if len(marks) > 1
        else float("nan")
    )
    between = {
        f"{a}-{b}": (reached[b] - reached[a]) / (b - a) for a, b in itertools.pairwise(marks)
    }
    return {
        "trials": done,
        "wall_s": wall,
        "cpus": cpus,
        "trials_own_s": own,
        "overhead_s_per_trial": (cpus * wall - own) / done if done else float("nan"),
        "driver_rss_mib_at": memory,
        "driver_rss_start_mib": first_rss,
        "driver_rss_peak_mib": peak,
        "driver_mib_per_1000_trials": slope,
        "milestone_s": reached,
        "wall_s_per_trial_between": between,
        "driver_cpu_s_at": driver_cpu,
        "driver_cpu_s_per_trial_between": {
            f"{a}-{b}": (driver_cpu[b] - driver_cpu[a]) / (b - a)
            for a, b in itertools.pairwise(marks)
        },
        "journal_bytes": (folder / JOURNAL_FILE).stat().st_size,
        "experiment_state_bytes": max(
            (p.stat().st_size for p in folder.glob(f"{EXPERIMENT_STATE_PREFIX}*.json")), default=0
        ),
        "trial_nice": nice,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--milestones", default="100,500,1000,2000")
    parser.add_argument("--work", type=Path, default=Path("bench-out/search_soak"))
    parser.add_argument("--out", type=Path, default=Path("bench-out/search_soak"))
    parser.add_argument("--nice", type=int, default=None, help="the search's --nice")
    parser.add_argument("--smoke-test", action="store_true", help="20 trials, milestones 5-20")
    args = parser.parse_args()
    if args.smoke_test:
        args.trials, args.milestones = 20, "5,10,20"
    milestones = [int(m) for m in args.milestones.split(",") if int(m) <= args.trials]
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    figures = soak(args.trials, milestones, args.work, int(cpus or 1), args.nice)
    from tune_cifar.hardware import describe_hardware  # (torch: after the measurement)

    figures["hardware"] = describe_hardware()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "search_soak.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(figures["hardware"])
    print(
        f"{figures['trials']} trials in {figures['wall_s']:.0f} s on {cpus} CPUs: "
        f"{figures['overhead_s_per_trial']:.3f} s per trial beyond its training "
        f"({figures['trials_own_s']:.0f} s of training in all)"
    )
    print(
        "driver memory: "
        + ", ".join(
            f"{mib:.0f} MiB at {n} trials" for n, mib in figures["driver_rss_mib_at"].items()
        )
        + f"; {figures['driver_mib_per_1000_trials']:.1f} MiB per 1,000 trials; peak "
        f"{figures['driver_rss_peak_mib']:.0f} MiB"
    )
    print(
        "wall seconds per trial between milestones: "
        + ", ".join(f"{k}: {v:.3f}" for k, v in figures["wall_s_per_trial_between"].items())
    )
    print(
        "driver CPU seconds per trial between milestones: "
        + ", ".join(f"{k}: {v:.3f}" for k, v in figures["driver_cpu_s_per_trial_between"].items())
    )
    print(
        f"journal: {figures['journal_bytes'] / 2**20:.1f} MiB; Tune's experiment state: "
        f"{figures['experiment_state_bytes'] / 2**20:.1f} MiB"
    )
    print(f"wrote {args.out / 'search_soak.json'}")


if __name__ == "__main__":
    main()
