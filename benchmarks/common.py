"""What the benchmarks share: N ``tune-cifar train`` processes at once and what they trained
together, random images of CIFAR-10's shape, and sections whose figures are written as each
one ends.

    histories = train_at_once(4, root, "--epochs", "3", "--threads", "1", "--data", "sample")
    together = images_per_s_together(histories)
    ok = run_sections([("one trial", measure_one)], out / "figures.json", figures)
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tune_cifar.data import TrainingData


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


def random_data(n_train: int, n_val: int) -> TrainingData:
    rng = np.random.default_rng(0)
    return TrainingData(
        rng.integers(0, 256, (n_train, 3, 32, 32), dtype=np.uint8),
        rng.integers(0, 10, n_train),
        rng.integers(0, 256, (n_val, 3, 32, 32), dtype=np.uint8),
        rng.integers(0, 10, n_val),
    )


def run_sections(
    sections: list[tuple[str, Callable[[], Any]]], path: Path, figures: dict[str, Any]
) -> bool:
    """Each section in turn, the JSON rewritten after each; a failing section is recorded (its
    error's first lines) and the next ones still run. True if every section ran."""
    ok = True
    for name, section in sections:
        try:
            figures[name] = section()
        except Exception as exc:  # the figures so far are kept, the error named
            ok = False
            figures[name] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            print(f"{name}: FAILED: {type(exc).__name__}: {str(exc)[:500]}", flush=True)
        path.write_text(json.dumps(figures, indent=2) + "\n")
    return ok
