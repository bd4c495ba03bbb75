"""What a search costs beyond its training, on a CPU: a real ``tune-cifar search`` against the
same trainings run as standalone ``tune-cifar train`` processes, in the same run.

Both sides train the same N configurations (CNN_v4 defaults, seeds 0..N-1) for the same epochs
on the same data, N at once with one thread each. The figures:

- wall: standalone wall time / search wall time, each from launching the command to its exit
  (Ray's start, trial start-up, reporting and checkpointing included): the share of the
  standalone throughput the search keeps;
- per epoch: mean standalone epoch time / mean trial epoch time (training and validation).

    python benchmarks/search_overhead.py --data-dir $TUNE_CIFAR_DATA --train-subset 5000 --epochs 8
    python benchmarks/search_overhead.py --smoke-test         # seconds, the shipped sample
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import train_at_once

from tune_cifar.hardware import describe_hardware

SPACE = """
from ray import tune

DESCRIPTION = "the same configuration with N seeds, for search_overhead.py"
SPACE = {"seed": tune.grid_search(list(range(%d)))}
"""


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tune_cifar.cli", *args]


def data_flags(args: argparse.Namespace) -> list[str]:
    if args.data_dir is None:
        return ["--data", "sample", "--train-subset", str(args.train_subset)]
    return [
        "--data",
        "cifar10",
        "--data-dir",
        str(args.data_dir),
        "--train-subset",
        str(args.train_subset),
        "--val-size",
        str(args.val_size),
    ]


def standalone(args: argparse.Namespace, root: Path) -> tuple[float, list[float]]:
    """N ``tune-cifar train --threads 1`` at once: wall seconds and every epoch's time."""
    start = time.monotonic()
    histories = train_at_once(
        args.trials, root, "--epochs", str(args.epochs), "--threads", "1", *data_flags(args)
    )
    wall = time.monotonic() - start
    return wall, [float(row["epoch_time_s"]) for rows in histories for row in rows]


def searched(args: argparse.Namespace, root: Path) -> tuple[float, list[float]]:
    """The same trainings as one FIFO grid search over the seeds, N trials at once."""
    space = root / "seeds.py"
    space.write_text(SPACE % args.trials)
    start = time.monotonic()
    done = subprocess.run(
        cli(
            "search",
            "--space",
            str(space),
            "--search",
            "grid",
            "--scheduler",
            "fifo",
            "--max-epochs",
            str(args.epochs),
            "--cpus-per-trial",
            "1",
            "--storage-path",
            str(root),
            "--name",
            "search",
            *data_flags(args),
        ),
        stdout=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    if done.returncode != 0:
        raise SystemExit("the search failed")
    wall = time.monotonic() - start
    epochs = [
        json.loads(line)["epoch_time_s"]
        for path in sorted((root / "search").glob("*/result.json"))
        for line in path.read_text().splitlines()
    ]
    return wall, epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--train-subset", type=int, default=5000)
    parser.add_argument("--val-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument(
        "--trials",
        type=int,
        default=os.cpu_count() or 2,
        help="trainings at once (default: one per CPU core)",
    )
    parser.add_argument(
        "--smoke-test", action="store_true", help="the shipped sample, 100 images, 1 epoch"
    )
    args = parser.parse_args()
    if args.smoke_test:
        args.data_dir, args.train_subset, args.epochs = None, 100, 1
    print(
        f"{args.trials} trainings of {args.epochs} epochs, {args.train_subset} training "
        f"images each, one thread each\n{describe_hardware()}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        alone_wall, alone_epochs = standalone(args, root)
        search_wall, search_epochs = searched(args, root)
    print(f"standalone: {alone_wall:.1f} s wall, {np.mean(alone_epochs):.2f} s per epoch")
    print(f"search:     {search_wall:.1f} s wall, {np.mean(search_epochs):.2f} s per epoch")
    print(
        f"the search keeps {alone_wall / search_wall:.3f} of the standalone throughput "
        f"(wall), {np.mean(alone_epochs) / np.mean(search_epochs):.3f} per epoch"
    )


if __name__ == "__main__":
    main()
