"""Issue #31's lost PBT history, repeated until it shows: a PBT search (2 trials, 6 epochs, a
perturbation every epoch) interrupted with SIGINT after 3 reported epochs, then
``tune-cifar resume``; after each, every trial's ``result.json`` must begin at epoch 1 and hold
as many rows as its ``progress.csv``. Prints one line per run and stops at the first loss
(its experiment stays under ``--root`` to be read).

    python benchmarks/pbt_resume_stress.py --root bench-out/pbt-stress --runs 20
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tune_cifar.constants import PROGRESS_FILE, RESULT_FILE


def rows(path: Path) -> list[dict]:
    """The whole JSON lines of a result.json (a line being written is left out)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            out.append(json.loads(line))
    return out


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "tune_cifar.cli", *args]


def one_run(root: Path, name: str) -> list[tuple[str, int | None, int, int]]:
    """One interrupted and resumed search; the trials whose result.json lost rows."""
    experiment = root / name
    with (root / f"{name}.log").open("w") as log:
        search = subprocess.Popen(
            cli(
                "search", "--data", "synthetic", "--space", "quick", "--scheduler", "pbt",
                "--num-samples", "2", "--max-epochs", "6", "--perturbation-interval", "1",
                "--storage-path", str(root), "--name", name, "--progress-interval", "60",
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and search.poll() is None:
            if sum(len(rows(p)) for p in experiment.glob(f"trial_*/{RESULT_FILE}")) >= 3:
                break
            time.sleep(0.2)
        search.send_signal(signal.SIGINT)
        search.wait(timeout=300)
        subprocess.run(cli("resume", str(experiment)), stdout=log, stderr=subprocess.STDOUT)
    lost = []
    for result in sorted(experiment.glob(f"trial_*/{RESULT_FILE}")):
        reported = rows(result)
        with (result.parent / PROGRESS_FILE).open() as f:
            progress = list(csv.DictReader(f))
        first = reported[0]["training_iteration"] if reported else None
        if first != 1 or len(reported) < len(progress):
            lost.append((result.parent.name, first, len(reported), len(progress)))
    return lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("bench-out/pbt-stress"))
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    args.root.mkdir(parents=True, exist_ok=True)
    for i in range(args.runs):
        lost = one_run(args.root, f"run{i}")
        print(f"run {i}: " + (f"LOST ROWS {lost}" if lost else "every history whole"), flush=True)
        if lost:
            raise SystemExit(1)
    print(f"{args.runs} runs, no history lost")


if __name__ == "__main__":
    main()
