"""What the benchmarks share: N ``tune-cifar train`` processes at once, and what they trained
together.

    histories = train_at_once(4, root, "--epochs", "3", "--threads", "1", "--data", "sample")
    together = images_per_s_together(histories)
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path


def train_at_once(count: int, root: Path, *train_args: str) -> list[list[dict[str, str]]]:
    """Run ``count`` trainings at once (seeds 0..count-1, each into ``root/train<i>``), wait
    for all, and return each one's history.csv rows."""
    outs = [root / f"train{i}" for i in range(count)]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tune_cifar.cli",
                "train",
                "--seed",
                str(i),
                "--out",
                str(out),
                *train_args,
            ],
            stdout=subprocess.DEVNULL,
        )
        for i, out in enumerate(outs)
    ]
    if any(proc.wait() != 0 for proc in procs):
        raise SystemExit(f"a training of the {count} at once failed")
    histories = []
    for out in outs:
        with (out / "history.csv").open() as f:
            histories.append(list(csv.DictReader(f)))
    return histories


def images_per_s_together(histories: list[list[dict[str, str]]]) -> float:
    """Every image the trainings trained, over the wall window from the first epoch's start to
    the last epoch's end (validation and the gaps between processes included). Not the sum of
    each one's images/s: processes start seconds apart and an epoch may take one second, so
    such a sum counts each process as if the others ran beside it all along."""
    start = min(
        float(rows[0]["finished_at"]) - float(rows[0]["epoch_time_s"]) for rows in histories
    )
    end = max(float(rows[-1]["finished_at"]) for rows in histories)
    images = sum(int(row["train_images"]) for rows in histories for row in rows)
    return images / (end - start)
