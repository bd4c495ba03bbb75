"""GPU throughput: one trial with and without CUDA graphs, and many trials on one GPU.

Random uint8 images of CIFAR-10's size (45,000 train + 5,000 validation, as the default
holdout leaves them; only speed is measured) unless ``--data-dir`` gives the real ones. In
one run, on one GPU:

1. one trial, CNN_v4 defaults (Adam, flip + RandomErasing), batch 100 and batch 512: seconds
   per epoch (training + validation, after a first epoch that warms up and captures), eager
   and with CUDA graphs, and the ratio; then whether 2 epochs + restore + 2 epochs equal 4
   straight epochs with graphs (the exact-resume promise);
2. N = 1, 4, 8, 16 standalone ``tune-cifar train`` processes at once: training images per
   second summed over them (from each one's last epoch);
3. a real ``tune-cifar search`` of 16 trials over the seed's family (its GPU share chosen by
   tune-cifar's measurement): training images per second together and trial-epochs per
   GPU-minute, as the search itself reports them.

    python benchmarks/gpu_throughput.py --out bench-out/gpu        # on a GPU, about 5 minutes
    python benchmarks/gpu_throughput.py --smoke-test               # on a CPU, for CI
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from common import train_at_once

from tune_cifar.checkpoint import load_state, save_state
from tune_cifar.config import TrialConfig
from tune_cifar.data import TrainingData
from tune_cifar.hardware import describe_hardware
from tune_cifar.training import Trainer

FAMILY_SPACE = '''
from ray import tune

DESCRIPTION = "the seed's CNN family at its batch sizes, for gpu_throughput.py"
SPACE = {"model": tune.choice(["cnn_v2", "cnn_v3", "cnn_v4"]),
         "optimizer": tune.choice(["sgd", "adam"]), "lr": tune.loguniform(1e-3, 1e-2),
         "batch_size": tune.choice([100, 128])}
'''


def random_data(n_train: int, n_val: int) -> TrainingData:
    rng = np.random.default_rng(0)
    return TrainingData(rng.integers(0, 256, (n_train, 3, 32, 32), dtype=np.uint8),
                        rng.integers(0, 10, n_train), rng.integers(0, 256, (n_val, 3, 32, 32),
                                                                   dtype=np.uint8),
                        rng.integers(0, 10, n_val))


def epoch_times(cfg: TrialConfig, data: TrainingData, device: str, graph: str,
                epochs: int) -> tuple[float, str]:
    """Median seconds per epoch after the first, and how the steps ran."""
    trainer = Trainer(cfg, data, epochs, device, graph)
    times = [trainer.run_epoch()["epoch_time_s"] for _ in range(epochs)]
    return float(np.median(times[1:])), trainer.step_mode


def one_trial(args: argparse.Namespace, data: TrainingData) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for batch in (100, 512):
        cfg = TrialConfig.from_dict({"batch_size": batch})
        eager, _ = epoch_times(cfg, data, args.device, "off", args.epochs)
        graphed, mode = (epoch_times(cfg, data, args.device, "on", args.epochs)
                         if args.device == "cuda" else (eager, "eager (no CUDA)"))
        out[f"batch {batch}"] = {"eager_s_per_epoch": eager, "graph_s_per_epoch": graphed,
                                 "speedup": eager / graphed, "train_step": mode}
        print(f"1. one trial, batch {batch}: eager {eager:.2f} s/epoch, {mode} "
              f"{graphed:.2f} s/epoch: {eager / graphed:.2f}x", flush=True)
    out["exact resume"] = exact_resume(data, args.device)
    print(f"1. 2 + restore + 2 epochs == 4 straight: {out['exact resume']}", flush=True)
    return out


def exact_resume(data: TrainingData, device: str) -> bool:
    cfg = TrialConfig.from_dict({"batch_size": 512})
    straight = Trainer(cfg, data, 4, device)
    for _ in range(4):
        straight.run_epoch()
    first = Trainer(cfg, data, 4, device)
    first.run_epoch()
    first.run_epoch()
    with tempfile.TemporaryDirectory() as folder:
        # through a checkpoint file, as a trial resumes; taken before the next Trainer
        # reseeds the process-wide torch RNG that dropout draws from
        save_state(first.state_dict(), Path(folder))
        resumed = Trainer(cfg, data, 4, device)
        resumed.load_state_dict(load_state(Path(folder)))
    resumed.run_epoch()
    resumed.run_epoch()
    keys = ("train_loss", "train_acc", "val_loss", "val_acc")
    return all(a[k] == b[k] for a, b in zip(straight.history, resumed.history, strict=True)
               for k in keys)


def standalone(args: argparse.Namespace, root: Path, data_flags: list[str]) -> dict[str, Any]:
    """N trainer processes at once; training images/s summed over their last epochs."""
    out = {}
    for n in args.processes:
        histories = train_at_once(n, root / f"p{n}", "--epochs", str(args.epochs), "--device",
                                  args.device, "--threads", "1", *data_flags)
        out[n] = sum(float(rows[-1]["images_per_s"]) for rows in histories)
        first = args.processes[0]
        print(f"2. {n:>2} standalone trials at once: {out[n]:,.0f} training images/s together "
              f"({out[n] / out[first]:.1f}x {first} at once)", flush=True)
    return out


def search(args: argparse.Namespace, root: Path, data_flags: list[str]) -> dict[str, Any]:
    space = root / "family.py"
    space.write_text(FAMILY_SPACE)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "tune_cifar.cli", "search", "--space", str(space),
         "--scheduler", "fifo", "--num-samples", str(args.search_trials), "--max-epochs",
         str(args.epochs), "--storage-path", str(root), "--name", "search", *data_flags],
        capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    if done.returncode != 0:
        raise SystemExit("the search failed: " + done.stderr[-2000:])
    share = re.search(r"GPU share: (.*)", done.stdout)
    compute = re.search(r"compute: (.*)", done.stdout)
    out = {"wall_s": time.monotonic() - start, "gpu_share": share.group(1) if share else "",
           "compute": compute.group(1) if compute else ""}
    print(f"3. a real search of {args.search_trials} trials: {out['compute']}\n"
          f"   {out['gpu_share'] or 'no GPU share line (CPU)'}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="real CIFAR-10 (default: random images of its size)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 4, 8, 16])
    parser.add_argument("--search-trials", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("bench-out/gpu"))
    parser.add_argument("--smoke-test", action="store_true",
                        help="on the CPU, 100 images, 2 epochs, 2 processes")
    args = parser.parse_args()
    args.device = "cuda" if torch.cuda.is_available() else "cpu"
    n_train, n_val = 45000, 5000
    if args.smoke_test:
        args.epochs, args.processes, args.search_trials = 2, [2], 2
        n_train, n_val = 100, 50
    if args.data_dir:
        data_flags = ["--data", "cifar10", "--data-dir", str(args.data_dir)]
    else:
        data_flags = ["--data", "synthetic", "--train-subset", str(n_train),
                      "--val-size", str(n_val)] if args.smoke_test else \
            ["--data", "cifar10"]
    print(describe_hardware(), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    figures = {"hardware": describe_hardware(),
               "one trial": one_trial(args, random_data(n_train, n_val))}
    with tempfile.TemporaryDirectory() as tmp:
        figures["standalone"] = standalone(args, Path(tmp), data_flags)
        figures["search"] = search(args, Path(tmp), data_flags)
    (args.out / "gpu_throughput.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {args.out / 'gpu_throughput.json'}")


if __name__ == "__main__":
    main()
