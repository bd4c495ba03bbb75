"""How many trials one GPU holds, measured rather than guessed.

A trial of the seed's small CNN leaves an H100 mostly idle, so a search packs several trials
per GPU (Ray's fractional GPUs). Ray does not police GPU memory: too many trials and they run
out of it. Before a search on GPUs, tune-cifar measures one trial of the space's heaviest
configuration (widest model, largest batch) in a separate process: a few real training steps
on data of the search's size, CUDA graph capture and one evaluation batch included, then

    memory per trial = the process's CUDA context + the most memory PyTorch's allocator held
    trials per GPU   = min(90% of the GPU's memory / memory per trial,
                           CPU cores of the node / CPUs per trial)   (each trial drives its
                                                                      GPU from one process)

and the default ``--gpus-per-trial`` is 1 / trials per GPU. A share the user gives is checked
against the same measurement, and refused when its trials would not fit in memory.

    python -m tune_cifar.gpu_share '{"width": 2, "batch_size": 512}' 45000 5000   # the probe
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from tune_cifar.errors import UsageError

MEMORY_USE = 0.9  # of the GPU's memory, the share packed trials may take together
PROBE_TIMEOUT_S = 300


@dataclass(frozen=True)
class Probe:
    """One trial measured on the GPU."""

    trial_bytes: int  # CUDA context + peak memory reserved by PyTorch's allocator
    gpu_bytes: int  # the GPU's total memory
    gpu_name: str


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


def packing(probe: Probe, cpus_per_node: float, cpus_per_trial: int) -> tuple[int, str]:
    """(trials per GPU, why): as many as fit in memory and have a CPU core to drive them."""
    by_memory = int(MEMORY_USE * probe.gpu_bytes // probe.trial_bytes)
    by_cpus = int(cpus_per_node // cpus_per_trial)
    trials = max(1, min(by_memory, by_cpus))
    why = (f"one trial of this space measured {probe.trial_bytes / 2**30:.1f} GiB of the "
           f"{probe.gpu_name}'s {probe.gpu_bytes / 2**30:.0f} GiB ({by_memory} fit in "
           f"{MEMORY_USE:.0%}); {cpus_per_node:g} CPU cores at {cpus_per_trial} per trial "
           f"drive {by_cpus}")
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
            f"--gpus-per-trial {1 / max(fit, 1):.3g} or more")


def measure(config: dict[str, Any], n_train: int, n_val: int) -> Probe:
    """Run the probe in a separate process (the driver keeps no CUDA context of its own)."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tune_cifar.gpu_share", json.dumps(config), str(n_train),
             str(n_val)], capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise UsageError(f"the GPU memory probe took over {PROBE_TIMEOUT_S} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"the GPU memory probe failed: {last}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return Probe(int(result["trial_bytes"]), int(result["gpu_bytes"]), result["gpu_name"])


def _probe(config: dict[str, Any], n_train: int, n_val: int) -> dict[str, Any]:
    """In the probe process: a few steps of ``config`` on zeros of the search's data size."""
    import numpy as np
    import torch

    from tune_cifar.config import TrialConfig
    from tune_cifar.cuda_step import WARMUP_STEPS
    from tune_cifar.data import TrainingData
    from tune_cifar.training import EVAL_BATCH, Trainer

    torch.cuda.init()
    free, total = torch.cuda.mem_get_info()
    context = total - free  # this process's CUDA context (the GPU is otherwise idle)
    cfg = TrialConfig.from_dict(config)
    steps = WARMUP_STEPS + 3  # warm-up, capture, replays
    n_probe = min(n_train, cfg.batch_size * steps)
    data = TrainingData(np.zeros((n_train, 3, 32, 32), np.uint8), np.zeros(n_train, np.int64),
                        np.zeros((n_val, 3, 32, 32), np.uint8), np.zeros(n_val, np.int64))
    trainer = Trainer(cfg, data, max_epochs=1, device="cuda")
    trainer.model.train()
    order = torch.arange(n_probe, device="cuda")
    for start in range(0, n_probe - cfg.batch_size + 1, cfg.batch_size):
        trainer.graph_step(order[start:start + cfg.batch_size])
    trainer.evaluate(trainer.val_x[:EVAL_BATCH["cuda"]], trainer.val_y[:EVAL_BATCH["cuda"]])
    torch.cuda.synchronize()
    return {"trial_bytes": context + torch.cuda.max_memory_reserved(), "gpu_bytes": total,
            "gpu_name": torch.cuda.get_device_name(0), "train_step": trainer.step_mode}


if __name__ == "__main__":
    print(json.dumps(_probe(json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))))
