"""GPU throughput and the CUDA-graph step's correctness, on one GPU, in one run.

Random uint8 images of CIFAR-10's size (45,000 train + 5,000 validation, as the default
holdout leaves them) for the speed figures; the real ones (``--data-dir``) for the checks that
compare training runs, where given. The sections, each written to ``gpu_throughput.json`` as
soon as it is done (a later failure or time-out keeps the earlier figures):

1. one trial, CNN_v4 defaults (Adam, flip + RandomErasing), batch 100 and 512: seconds per
   epoch (training + validation, median after a first epoch that warms up and captures),
   eager and with CUDA graphs, and the ratio;
2. does the graphed step train the same model as the eager one? 2 epochs each from the same
   seed, deterministic cuDNN: the largest difference of any epoch's losses and accuracies
   (a graph that never updated the weights would still look fast), and 2 epochs + restore +
   2 epochs against 4 straight with graphs (the exact-resume promise);
3. a capture forced to fail (``TUNE_CIFAR_FAIL_CAPTURE=1``): the trial says why, falls back,
   and its 2 epochs equal the eager run's (the generators drew as if nothing happened);
4. N = 1, 4, 8, 16 standalone ``tune-cifar train`` processes at once: every image they
   trained over the wall window from the first epoch's start to the last epoch's end;
5. a real ``tune-cifar search`` of 16 trials over the seed's family, 20 epochs each (long
   enough that start-up does not dominate), its GPU share chosen by tune-cifar's measurement:
   the search's own compute line.

    python benchmarks/gpu_throughput.py --out bench-out/gpu        # on a GPU, about 6 minutes
    python benchmarks/gpu_throughput.py --smoke-test               # on a CPU, for CI
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import images_per_s_together, random_data, run_sections, train_at_once

from tune_cifar.config import TrialConfig
from tune_cifar.data import DataSpec, TrainingData, load_data
from tune_cifar.hardware import describe_hardware
from tune_cifar.train import FAIL_CAPTURE_ENV, Trainer, load_state, save_state

FAMILY_SPACE = """
from ray import tune

DESCRIPTION = "the seed's CNN family at its batch sizes, for gpu_throughput.py"
SPACE = {"model": tune.choice(["cnn_v2", "cnn_v3", "cnn_v4"]),
         "optimizer": tune.choice(["sgd", "adam"]), "lr": tune.loguniform(1e-3, 1e-2),
         "batch_size": tune.choice([100, 128])}
"""
COMPARED = ("train_loss", "train_acc", "val_loss", "val_acc")
TOLERANCE = 1e-3  # largest difference of a loss or accuracy still called "the same" (bf16)


def train(cfg: TrialConfig, data: TrainingData, device: str, graph: str, epochs: int) -> Trainer:
    trainer = Trainer(cfg, data, epochs, device, graph)
    while not trainer.finished:
        trainer.run_epoch()
    return trainer


def largest_difference(a: Trainer, b: Trainer) -> float:
    return max(
        abs(x[k] - y[k]) for x, y in zip(a.history, b.history, strict=True) for k in COMPARED
    )


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    """cuDNN's deterministic kernels, so that two runs of the same math agree exactly."""
    before = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before


def one_trial(args: argparse.Namespace, data: TrainingData) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for batch in (100, 512):
        cfg = TrialConfig.from_dict({"batch_size": batch})
        eager = train(cfg, data, args.device, "off", args.epochs)
        graph = train(cfg, data, args.device, "on", args.epochs) if args.cuda else eager
        median = [
            float(np.median([r["epoch_time_s"] for r in t.history[1:]])) for t in (eager, graph)
        ]
        out[f"batch {batch}"] = {
            "eager_s_per_epoch": median[0],
            "graph_s_per_epoch": median[1],
            "speedup": median[0] / median[1],
            "train_step": graph.step_mode,
        }
        print(
            f"1. one trial, batch {batch}: eager {median[0]:.2f} s/epoch, "
            f"{graph.step_mode} {median[1]:.2f} s/epoch: {median[0] / median[1]:.2f}x",
            flush=True,
        )
    return out


def same_model(args: argparse.Namespace, data: TrainingData) -> dict[str, Any]:
    cfg = TrialConfig.from_dict({"batch_size": 100})
    with deterministic():
        eager = train(cfg, data, args.device, "off", 2)
        graph = train(cfg, data, args.device, "on" if args.cuda else "off", 2)
    diff = largest_difference(eager, graph)
    out = {
        "graph_step": graph.step_mode,
        "largest_difference": diff,
        "same_within_tolerance": diff <= TOLERANCE,
        "tolerance": TOLERANCE,
        "eager": [{k: r[k] for k in COMPARED} for r in eager.history],
        "graph": [{k: r[k] for k in COMPARED} for r in graph.history],
        "exact_resume": exact_resume(data, args.device),
    }
    print(
        f"2. graphed vs eager, 2 epochs from one seed ({graph.step_mode}): largest "
        f"difference {diff:.2e} (tolerance {TOLERANCE:g}); 2 + restore + 2 epochs == 4 "
        f"straight: {out['exact_resume']}",
        flush=True,
    )
    return out


def exact_resume(data: TrainingData, device: str) -> bool:
    cfg = TrialConfig.from_dict({"batch_size": 512})
    straight = train(cfg, data, device, "auto", 4)
    first = Trainer(cfg, data, 4, device)
    first.run_epoch()
    first.run_epoch()
    with tempfile.TemporaryDirectory() as folder:  # through a checkpoint file, as a trial
        save_state(first.state_dict(), Path(folder))
        resumed = Trainer(cfg, data, 4, device)
        resumed.load_state_dict(load_state(Path(folder)))
    resumed.run_epoch()
    resumed.run_epoch()
    return all(
        a[k] == b[k]
        for a, b in zip(straight.history, resumed.history, strict=True)
        for k in COMPARED
    )


def forced_fallback(args: argparse.Namespace, data: TrainingData) -> dict[str, Any]:
    cfg = TrialConfig.from_dict({"batch_size": 100})
    os.environ[FAIL_CAPTURE_ENV] = "1"
    try:
        with deterministic():
            failed = train(cfg, data, args.device, "on" if args.cuda else "off", 2)
    finally:
        del os.environ[FAIL_CAPTURE_ENV]
    with deterministic():
        eager = train(cfg, data, args.device, "off", 2)
    diff = largest_difference(failed, eager)
    out = {
        "train_step": failed.step_mode,
        "largest_difference_from_eager": diff,
        "trains_as_eager": diff <= TOLERANCE,
        "finite": all(np.isfinite(r["train_loss"]) for r in failed.history),
    }
    print(
        f"3. capture forced to fail: {failed.step_mode}; its 2 epochs differ from eager by "
        f"{diff:.2e}",
        flush=True,
    )
    return out


def standalone(args: argparse.Namespace, root: Path, data_flags: list[str]) -> dict[str, Any]:
    """N trainer processes at once; every image over their common wall window."""
    out = {}
    for n in args.processes:
        histories = train_at_once(
            n,
            root / f"p{n}",
            "--epochs",
            str(args.epochs),
            "--device",
            args.device,
            "--threads",
            "1",
            *data_flags,
        )
        out[n] = images_per_s_together(histories)
        first = args.processes[0]
        print(
            f"4. {n:>2} standalone trials at once: {out[n]:,.0f} training images/s together "
            f"({out[n] / out[first]:.1f}x {first} at once)",
            flush=True,
        )
    return out


def search(args: argparse.Namespace, root: Path, data_flags: list[str]) -> dict[str, Any]:
    space = root / "family.py"
    space.write_text(FAMILY_SPACE)
    start = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tune_cifar.cli",
            "search",
            "--space",
            str(space),
            "--scheduler",
            "fifo",
            "--num-samples",
            str(args.search_trials),
            "--max-epochs",
            str(args.search_epochs),
            "--storage-path",
            str(root),
            "--name",
            "search",
            *data_flags,
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    if done.returncode != 0:
        raise RuntimeError("the search failed: " + done.stderr[-2000:])
    share = re.search(r"GPU share: (.*)", done.stdout)
    compute = re.search(r"compute: (.*)", done.stdout)
    out = {
        "wall_s": time.monotonic() - start,
        "gpu_share": share.group(1) if share else "",
        "compute": compute.group(1) if compute else "",
    }
    print(
        f"5. a real search of {args.search_trials} trials x {args.search_epochs} epochs: "
        f"{out['compute']}\n   {out['gpu_share'] or 'no GPU share line (CPU)'}",
        flush=True,
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="real CIFAR-10 (default: random images of its size)",
    )
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--search-trials", type=int, default=16)
    parser.add_argument("--search-epochs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("bench-out/gpu"))
    parser.add_argument(
        "--smoke-test", action="store_true", help="on the CPU, 100 images, 2 epochs, 2 processes"
    )
    args = parser.parse_args()
    args.cuda = torch.cuda.is_available()
    args.device = "cuda" if args.cuda else "cpu"
    n_train, n_val = 45000, 5000
    if args.smoke_test:
        args.epochs, args.processes, args.search_trials, args.search_epochs = 2, [2], 2, 2
        n_train, n_val = 100, 50
    if args.data_dir:
        data_flags = ["--data", "cifar10", "--data-dir", str(args.data_dir)]
        real = load_data(DataSpec(source="cifar10", data_dir=str(args.data_dir))).training
    else:
        data_flags = (
            ["--data", "synthetic", "--train-subset", str(n_train), "--val-size", str(n_val)]
            if args.smoke_test
            else ["--data", "cifar10"]
        )
        real = random_data(n_train, n_val)
    print(describe_hardware(), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "gpu_throughput.json"
    figures: dict[str, Any] = {"hardware": describe_hardware(), "real data": bool(args.data_dir)}
    speed_data = random_data(n_train, n_val)
    with tempfile.TemporaryDirectory() as tmp:
        ok = run_sections(
            [
                ("one trial", lambda: one_trial(args, speed_data)),
                ("same model", lambda: same_model(args, real)),
                ("forced fallback", lambda: forced_fallback(args, real)),
                ("standalone", lambda: standalone(args, Path(tmp), data_flags)),
                ("search", lambda: search(args, Path(tmp), data_flags)),
            ],
            path,
            figures,
        )
    print(f"wrote {path}")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
