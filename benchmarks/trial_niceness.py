"""Trials keep their share of a busy machine: a search beside one competing CPU-bound process,
with its trial processes at Ray's niceness (15) and at tune-cifar's default (the driver's),
each against the same search on the quiet machine, in the same run.

    python benchmarks/trial_niceness.py                  # about 10 minutes on 2 cores
    python benchmarks/trial_niceness.py --smoke-test     # a minute, for CI

Each search is ``tune-cifar search`` as a process of its own (a Ray of its own, whose workers
start at ``--nice``): as many trials as the machine has cores, one CPU each, every trial the
same configuration (CNN_v4 at width 0.5, synthetic images). The competitor is what a user's
other work looks like to the scheduler: one process spinning on a core at niceness 0. The
figure is the trials' training seconds (the sum of every epoch's ``epoch_time_s``), busy
over quiet; the trials' own reports say the niceness they trained at.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tune_cifar.constants import NICE, RESULT_FILE, TRIAL_PREFIX

SPACE = """
DESCRIPTION = "one configuration, for the niceness benchmark"
SPACE = {"model": "cnn_v4", "width": 0.5, "lr": 0.001, "batch_size": 50, "erase_p": 0.0}
"""

SPIN = "while True: pass"  # the competing process: one core's worth of someone else's work


def search(work: Path, name: str, nice: int | None, args: argparse.Namespace) -> dict[str, Any]:
    """One search; its trials' training seconds, the niceness they reported, its wall time."""
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
        str(args.train_subset),
        "--val-size",
        "200",
        "--num-samples",
        str(args.trials),
        "--max-epochs",
        str(args.epochs),
        "--scheduler",
        "fifo",
        "--storage-path",
        str(work),
        "--name",
        name,
        *(["--nice", str(nice)] if nice is not None else []),
    ]
    start = time.monotonic()
    with (work / f"{name}.log").open("w") as log:
        done = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT)
    wall = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"the search {name} failed: {(work / f'{name}.log').read_text()[-2000:]}")
    rows = [
        json.loads(line)
        for path in (work / name).glob(f"{TRIAL_PREFIX}*/{RESULT_FILE}")
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    return {
        "training_s": sum(float(r["epoch_time_s"]) for r in rows),
        "trial_epochs": len(rows),
        "nice": sorted({int(r[NICE]) for r in rows}),
        "wall_s": wall,
    }


def beside_a_competitor(work: Path, name: str, nice: int | None, args: argparse.Namespace):
    """The search with one spinning process at niceness 0 beside it all along."""
    spin = subprocess.Popen([sys.executable, "-c", SPIN])
    try:
        return search(work, name, nice, args)
    finally:
        spin.kill()
        spin.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=None, help="default: one per core")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument(
        "--train-subset", type=int, default=1800, help="of the 1,800 synthetic training images"
    )
    parser.add_argument("--repeats", type=int, default=2, help="of each of the three searches")
    parser.add_argument("--work", type=Path, default=Path("bench-out/trial_niceness"))
    parser.add_argument("--out", type=Path, default=Path("bench-out/trial_niceness"))
    parser.add_argument("--smoke-test", action="store_true", help="1 epoch of 200 images")
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    args.trials = args.trials or int(cores or 1)
    if args.smoke_test:
        args.epochs, args.train_subset, args.repeats = 1, 200, 1
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    (args.work / "space.py").write_text(SPACE)
    driver_nice = os.getpriority(os.PRIO_PROCESS, 0)
    arms: dict[str, list[dict[str, Any]]] = {"quiet": [], "busy, nice 15": [], "busy, default": []}
    for repeat in range(args.repeats):  # interleaved: a drift of the machine hits all three
        arms["quiet"].append(search(args.work, f"quiet{repeat}", None, args))
        arms["busy, nice 15"].append(beside_a_competitor(args.work, f"ray15-{repeat}", 15, args))
        arms["busy, default"].append(beside_a_competitor(args.work, f"default{repeat}", None, args))
    from tune_cifar.hardware import describe_hardware, mean_spread  # (torch: after the runs)

    quiet = [run["training_s"] for run in arms["quiet"]]
    figures: dict[str, Any] = {
        "hardware": describe_hardware(),
        "driver_nice": driver_nice,
        "trials": args.trials,
        "epochs": args.epochs,
        "train_subset": args.train_subset,
        "arms": arms,
        "ratio_to_quiet": {
            arm: [run["training_s"] / q for run, q in zip(runs, quiet, strict=True)]
            for arm, runs in arms.items()
            if arm != "quiet"
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "trial_niceness.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(figures["hardware"])
    print(
        f"{args.trials} trials x {args.epochs} epochs of {args.train_subset} images, "
        f"{args.repeats} repeats; the driver at nice {driver_nice}"
    )
    for arm, runs in arms.items():
        seconds = mean_spread([run["training_s"] for run in runs], 1)
        nices = sorted({n for run in runs for n in run["nice"]})
        line = f"{arm:14s} trials at nice {nices}: training {seconds} s"
        if arm != "quiet":
            line += f"; {mean_spread(figures['ratio_to_quiet'][arm], 2)} x the quiet machine's"
        print(line)
    print(f"wrote {args.out / 'trial_niceness.json'}")


if __name__ == "__main__":
    main()
