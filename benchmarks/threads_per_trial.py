"""Why a CPU search defaults to one thread per trial: throughput of N 1-thread trials at once
against one N-thread trial, on the same machine, in the same run.

Each configuration is ``tune-cifar train`` in a subprocess (CNN_v4, the seed's run-6
augmentation); the figure is every image the processes trained over the wall window from the
first epoch's start to the last epoch's end (``common.images_per_s_together``, from the
timestamps in each ``history.csv``).

    python benchmarks/threads_per_trial.py --data-dir $TUNE_CIFAR_DATA --train-subset 10000
    python benchmarks/threads_per_trial.py --smoke-test      # seconds, the shipped sample
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from common import images_per_s_together, train_at_once

from tune_cifar.hardware import describe_hardware


def train_processes(count: int, threads: int, args: argparse.Namespace, root: Path) -> float:
    """Run ``count`` trainings of ``threads`` threads at once; images/s together over the
    wall window they trained in."""
    data = (
        [
            "--data",
            "cifar10",
            "--data-dir",
            str(args.data_dir),
            "--train-subset",
            str(args.train_subset or 10000),
            "--val-size",
            "1000",
        ]
        if args.data_dir
        else ["--data", "sample"]
    )
    if args.train_subset and not args.data_dir:
        data += ["--train-subset", str(args.train_subset)]
    histories = train_at_once(
        count,
        root / f"{count}x{threads}",
        "--epochs",
        str(args.epochs),
        "--threads",
        str(threads),
        "--device",
        "cpu",
        *data,
    )
    return images_per_s_together(histories)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="CIFAR-10 folder (default: the shipped sample)"
    )
    parser.add_argument(
        "--train-subset",
        type=int,
        default=None,
        help="training images (default: 10,000 of CIFAR-10, or all 1,800 of the sample)",
    )
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 2)
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="1 epoch of 100 images of the shipped sample (for CI)",
    )
    args = parser.parse_args()
    if args.smoke_test:
        args.data_dir, args.epochs, args.train_subset = None, 1, 100
    with tempfile.TemporaryDirectory() as tmp:
        one_wide = train_processes(1, args.cores, args, Path(tmp))
        many_narrow = train_processes(args.cores, 1, args, Path(tmp))
    print(describe_hardware())
    print(f"1 trial x {args.cores} threads: {one_wide:.0f} images/s")
    print(f"{args.cores} trials x 1 thread:  {many_narrow:.0f} images/s together")
    print(
        f"ratio: {many_narrow / one_wide:.2f}x "
        f"({'1 thread per trial' if many_narrow > one_wide else 'more threads'} wins)"
    )


if __name__ == "__main__":
    main()
