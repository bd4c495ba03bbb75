"""How many trials one GPU holds, measured rather than guessed.

A trial of the seed's small CNN leaves an H100 mostly idle, so a search packs several trials
per GPU (Ray's fractional GPUs). Ray does not police GPU memory: too many trials and they run
out of it. Before a search on GPUs, tune-cifar measures one trial of the space's heaviest
configuration (widest model, largest batch) in a separate process: a few real training steps
on data of the search's size, CUDA graph capture and one evaluation batch included, then

    memory per trial = what the process holds beyond PyTorch's allocator at the end of the
                       probe (the CUDA context, cuDNN/cuBLAS handles, lazily loaded kernels:
                       several hundred MiB, only there once used) + the most memory the
                       allocator held
    trials per GPU   = min(90% of the GPU's memory / memory per trial,
                           CPU cores per GPU / CPUs per trial)   (each trial drives its GPU
                                                                  from one process)

CPU cores per GPU: a node's cores divided among its GPUs, the fewest of any GPU node (Ray
fills one GPU with fractional trials before the next, so a share computed from all of a
node's cores would crowd them onto its first GPU). What the process holds is read from
``nvidia-smi``'s per-process count; where that is not available (a container that hides
process ids), from the GPU's used memory, assuming nothing else runs on it (said so). The
default ``--gpus-per-trial`` is 1 / trials per GPU. A share the user gives is checked against
the same measurement, and refused when its trials would not fit in memory.

    python -m tune_cifar.train._gpu_share '{"width": 2, "batch_size": 512}' 45000 5000   # the probe
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from tune_cifar.constants import TRAIN_STEP
from tune_cifar.errors import UsageError

MEMORY_USE = 0.9  # of the GPU's memory, the share packed trials may take together
PROBE_TIMEOUT_S = 300


@dataclass(frozen=True)
class Probe:
    """One trial measured on the GPU."""

    trial_bytes: int  # beyond-the-allocator overhead + peak memory reserved by the allocator
    gpu_bytes: int  # the GPU's total memory
    gpu_name: str
    overhead_bytes: int = 0  # context, library handles and kernels, at the probe's end
    source: str = ""  # where the process's memory was read: nvidia-smi or the GPU's used


def heaviest_config(params: dict[str, Any]) -> dict[str, Any]:
    """The configuration of a space that needs the most GPU memory: its widest model and its
    largest batch, with batch norm (CNN_v4)."""
    from ray.tune.search.sample import Categorical, Float, Integer

    def largest(value: Any) -> Any:
        if isinstance(value, Categorical):
            return max(value.categories)
        if isinstance(value, dict) and "grid_search" in value:
            return max(value["grid_search"])
        if isinstance(value, Integer):
            return value.upper - 1
        if isinstance(value, Float):
            return value.upper
        return value

    config: dict[str, Any] = {"model": "cnn_v4"}
    for key in ("width", "batch_size"):
        if key in params:
            config[key] = largest(params[key])
    return config


def cpus_per_gpu(nodes: list[dict[str, float]]) -> float:
    """CPU cores per GPU: each GPU node's cores divided among its GPUs, the fewest of any."""
    return min((n.get("CPU", 0) / n["GPU"] for n in nodes if n.get("GPU", 0) > 0), default=0)


def packing(probe: Probe, cpus_per_gpu: float, cpus_per_trial: int) -> tuple[int, str]:
    """(trials per GPU, why): as many as fit in memory and have a CPU core to drive them."""
    by_memory = int(MEMORY_USE * probe.gpu_bytes // probe.trial_bytes)
    by_cpus = int(cpus_per_gpu // cpus_per_trial)
    trials = max(1, min(by_memory, by_cpus))
    margin = 1 - trials * probe.trial_bytes / probe.gpu_bytes
    parts = (
        f" ({probe.overhead_bytes / 2**30:.2f} GiB of it beyond PyTorch's allocator, "
        f"from {probe.source})"
        if probe.source
        else ""
    )
    why = (
        f"one trial of this space measured {probe.trial_bytes / 2**30:.1f} GiB{parts} of "
        f"the {probe.gpu_name}'s {probe.gpu_bytes / 2**30:.0f} GiB ({by_memory} fit in "
        f"{MEMORY_USE:.0%}); {cpus_per_gpu:g} CPU cores per GPU at {cpus_per_trial} per "
        f"trial drive {by_cpus}; {trials} trials leave {margin:.0%} of its memory free"
    )
    return trials, why


def check_share(share: float, probe: Probe) -> None:
    """Refuse a --gpus-per-trial whose trials would not fit in the GPU's memory together."""
    if share <= 0 or share >= 1:
        return
    packed = math.floor(1 / share + 1e-9)
    fit = int(MEMORY_USE * probe.gpu_bytes // probe.trial_bytes)
    if packed > fit:
        raise UsageError(
            f"--gpus-per-trial {share:g} packs {packed} trials per GPU, but one trial of this "
            f"space needs up to {probe.trial_bytes / 2**30:.1f} GiB (measured) of the "
            f"{probe.gpu_name}'s {probe.gpu_bytes / 2**30:.0f} GiB: at most {fit} fit; use "
            f"--gpus-per-trial {1 / max(fit, 1):.3g} or more"
        )


def run_probe(config: dict[str, Any], n_train: int, n_val: int) -> Probe:
    """Run the probe in a separate process (the driver keeps no CUDA context of its own)."""
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tune_cifar.train._gpu_share",
                json.dumps(config),
                str(n_train),
                str(n_val),
            ],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise UsageError(f"the GPU memory probe took over {PROBE_TIMEOUT_S} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"the GPU memory probe failed: {last}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Probe(
        int(result["trial_bytes"]),
        int(result["gpu_bytes"]),
        result["gpu_name"],
        int(result["overhead_bytes"]),
        result["source"],
    )


def process_gpu_bytes(pid: int) -> int | None:
    """The GPU memory the driver counts for process ``pid`` (nvidia-smi), None if unknown."""
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in done.stdout.splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) == 2 and fields[0] == str(pid) and fields[1].isdigit():
            return int(fields[1]) * 2**20  # MiB
    return None


def _probe(config: dict[str, Any], n_train: int, n_val: int) -> dict[str, Any]:
    """In the probe process: a few steps of ``config`` on zeros of the search's data size."""
    import numpy as np
    import torch

    from tune_cifar.config import TrialConfig
    from tune_cifar.data import TrainingData
    from tune_cifar.train._cuda_graph import WARMUP_STEPS
    from tune_cifar.train._trainer import EVAL_BATCH, Trainer

    torch.cuda.init()
    cfg = TrialConfig.from_dict(config)
    steps = WARMUP_STEPS + 3  # warm-up, capture, replays
    n_probe = min(n_train, cfg.batch_size * steps)
    data = TrainingData(
        np.zeros((n_train, 3, 32, 32), np.uint8),
        np.zeros(n_train, np.int64),
        np.zeros((n_val, 3, 32, 32), np.uint8),
        np.zeros(n_val, np.int64),
    )
    trainer = Trainer(cfg, data, max_epochs=1, device="cuda")
    trainer.model.train()
    order = torch.arange(n_probe, device="cuda")
    for start in range(0, n_probe - cfg.batch_size + 1, cfg.batch_size):
        trainer.full_batch_step(order[start : start + cfg.batch_size])
    trainer.evaluate(trainer.val_x[: EVAL_BATCH["cuda"]], trainer.val_y[: EVAL_BATCH["cuda"]])
    torch.cuda.synchronize()
    # Now that every library handle and kernel a trial uses exists: what the process holds
    # beyond the allocator's reservation.
    held, source = process_gpu_bytes(os.getpid()), "nvidia-smi's count for this process"
    free, total = torch.cuda.mem_get_info()
    if held is None:
        held, source = total - free, "the GPU's used memory (assumed otherwise idle)"
    overhead = max(0, held - torch.cuda.memory_reserved())
    return {
        "trial_bytes": overhead + torch.cuda.max_memory_reserved(),
        "gpu_bytes": total,
        "gpu_name": torch.cuda.get_device_name(0),
        "overhead_bytes": overhead,
        "source": source,
        TRAIN_STEP: trainer.step_mode,
    }


if __name__ == "__main__":
    print(json.dumps(_probe(json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))
