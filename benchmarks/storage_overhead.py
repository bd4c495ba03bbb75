"""What object storage costs a search: the same search with local and with ``s3://`` storage,
side by side in one run, on one machine.

Both searches train the seed's CNN_v4 (Adam, flip + RandomErasing; a checkpoint of about
6.6 MB: weights and Adam's two moments) with a checkpoint every epoch, FIFO, the same seeds.
The S3 side is an S3-compatible server on 127.0.0.1 (moto's server mode, started here) unless
``AWS_ENDPOINT_URL`` names another. Figures:

- wall time of each search and the throughput ratio s3 / local (trial-epochs per second);
- per epoch, the seconds a trial spends beyond training and validation (``time_this_iter_s -
  epoch_time_s``: building the checkpoint and handing it to storage), local and s3, and the
  difference: what a checkpoint upload adds per epoch.

    python benchmarks/storage_overhead.py --data-dir $TUNE_CIFAR_DATA --train-subset 5000
    python benchmarks/storage_overhead.py --smoke-test       # seconds, synthetic images
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from tune_cifar.hardware import describe_hardware

SPACE = """
from ray import tune

DESCRIPTION = "CNN_v4 + Adam + flip + RandomErasing, seeds as trials (storage_overhead.py)"
SPACE = {"model": "cnn_v4", "optimizer": "adam", "seed": tune.grid_search(%r)}
"""
BUCKET = "tune-cifar-bench"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def local_s3_server() -> tuple[subprocess.Popen, dict[str, str]]:
    """moto's S3 server on a free local port, and the environment that points at it."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except OSError:
            time.sleep(0.3)
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    return server, env


def search(
    storage: str, args: argparse.Namespace, space: Path, name: str
) -> tuple[float, list[Any]]:
    """One search (a separate process, as a user runs it): wall seconds and every result row
    (read back through tune-cifar's own reader of the storage)."""
    from tune_cifar.results import load_trials, local_target

    data = (
        ["--data", "cifar10", "--data-dir", str(args.data_dir)]
        if args.data_dir
        else ["--data", "synthetic"]
    ) + ["--train-subset", str(args.train_subset), "--val-size", str(args.val_size)]
    start = time.monotonic()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tune_cifar.cli",
            "search",
            "--space",
            str(space),
            "--search",
            "grid",
            "--scheduler",
            "fifo",
            "--max-epochs",
            str(args.epochs),
            "--storage-path",
            storage,
            "--name",
            name,
            *data,
        ],
        capture_output=True,
        text=True,
    )
    wall = time.monotonic() - start
    if done.returncode != 0:
        raise SystemExit(f"the {storage} search failed: {done.stderr[-2000:]}")
    folder = local_target(f"{storage.rstrip('/')}/{name}")
    return wall, [row for t in load_trials(folder) for _, row in t.metrics.iterrows()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="CIFAR-10 folder (default: synthetic images)"
    )
    parser.add_argument("--train-subset", type=int, default=5000)
    parser.add_argument("--val-size", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--trials", type=int, default=2)
    parser.add_argument(
        "--smoke-test", action="store_true", help="1 trial, 2 epochs of 100 synthetic images"
    )
    args = parser.parse_args()
    if args.smoke_test:
        args.data_dir, args.train_subset, args.val_size, args.epochs, args.trials = (
            None,
            100,
            50,
            2,
            1,
        )
    server, env = (None, {}) if os.environ.get("AWS_ENDPOINT_URL") else local_s3_server()
    os.environ.update(env)  # this process and the searches it starts use the same store
    try:
        import pyarrow.fs as pafs

        pafs.S3FileSystem(
            endpoint_override=os.environ["AWS_ENDPOINT_URL"], allow_bucket_creation=True
        ).create_dir(BUCKET)
        with tempfile.TemporaryDirectory() as tmp:
            os.environ["TUNE_CIFAR_CACHE"] = str(Path(tmp) / "cache")
            space = Path(tmp) / "seeds.py"
            space.write_text(SPACE % list(range(args.trials)))
            local_wall, local_rows = search(str(Path(tmp) / "local"), args, space, "run")
            s3_wall, s3_rows = search(f"s3://{BUCKET}/runs", args, space, "run")
    finally:
        if server is not None:
            server.kill()
    epochs = args.trials * args.epochs

    def beyond(rows: list[Any]) -> float:  # seconds per epoch beyond training + validation
        return float(np.mean([r["time_this_iter_s"] - r["epoch_time_s"] for r in rows]))

    local_extra, s3_extra = beyond(local_rows), beyond(s3_rows)
    figures = {
        "hardware": describe_hardware(),
        "trial_epochs": epochs,
        "local_wall_s": local_wall,
        "s3_wall_s": s3_wall,
        "throughput_ratio_s3_over_local": local_wall / s3_wall,
        "local_s_per_epoch_beyond_training": local_extra,
        "s3_s_per_epoch_beyond_training": s3_extra,
        "upload_s_per_epoch": s3_extra - local_extra,
        "epoch_time_s_local": float(np.mean([r["epoch_time_s"] for r in local_rows])),
        "epoch_time_s_s3": float(np.mean([r["epoch_time_s"] for r in s3_rows])),
    }
    print(describe_hardware())
    print(
        f"{epochs} trial-epochs each; local {local_wall:.1f} s, s3 {s3_wall:.1f} s: s3 keeps "
        f"{figures['throughput_ratio_s3_over_local']:.3f} of local throughput (wall)"
    )
    print(
        f"per epoch beyond training + validation: local {local_extra:.3f} s, s3 "
        f"{s3_extra:.3f} s: a checkpoint upload adds {s3_extra - local_extra:.3f} s"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
