"""Resources per trial: what this machine or the Ray cluster can give, refused in one line
when no node can, and the GPU share of a trial, measured (``tune_cifar.train``).

    cpus, gpus = start_and_check(opts, param_space, bundle)   # starts or joins Ray
"""

from __future__ import annotations

import os
from typing import Any

from tune_cifar.data import DataBundle
from tune_cifar.errors import UsageError
from tune_cifar.tuning._options import SearchOptions
from tune_cifar.tuning.ray import start_ray

UNMEASURED_GPU_SHARE = 0.25  # when the driver has no GPU to measure a trial on


def resolve_gpus(opts: SearchOptions, cluster_gpus: float) -> float:
    """``--gpus-per-trial`` as given; by default one GPU when the cluster has GPUs, until
    ``pack_gpus`` measures how many trials share one."""
    if opts.gpus_per_trial is not None:
        return opts.gpus_per_trial
    return 1.0 if cluster_gpus > 0 else 0.0


def pack_gpus(
    opts: SearchOptions, nodes: list[dict[str, float]], params: dict[str, Any], bundle: DataBundle
) -> tuple[float, str]:
    """(GPU share per trial, why): measured on this machine's GPU (``tune_cifar.train``);
    a share the user gave is checked against the same measurement."""
    import torch

    from tune_cifar.train import check_share, cpus_per_gpu, heaviest_config, packing, run_probe

    if not torch.cuda.is_available():
        share = opts.gpus_per_trial or UNMEASURED_GPU_SHARE
        return share, (
            f"{share:g} GPU per trial, not measured (no GPU on this machine to measure a trial on)"
        )
    probe = run_probe(
        heaviest_config(params), len(bundle.training.train_y), len(bundle.training.val_y)
    )
    if opts.gpus_per_trial is not None:
        check_share(opts.gpus_per_trial, probe)
        return opts.gpus_per_trial, (
            f"{opts.gpus_per_trial:g} GPU per trial as asked; one "
            f"trial measured {probe.trial_bytes / 2**30:.1f} GiB"
        )
    trials, why = packing(probe, cpus_per_gpu(nodes), opts.cpus_per_trial)
    return 1 / trials, f"{1 / trials:.4g} GPU per trial, {trials} trials per GPU: {why}"


def local_resources() -> list[dict[str, float]]:
    """This machine as a local Ray will see it, known before Ray starts: the CPUs this process
    may run on and the CUDA GPUs torch sees."""
    import torch

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [{"CPU": float(cpus or 1), "GPU": float(torch.cuda.device_count())}]


def cluster_resources() -> list[dict[str, float]]:
    """Each live node's resources, as the running Ray cluster reports them."""
    import ray

    return [n["Resources"] for n in ray.nodes() if n.get("Alive")]


def check_resources(
    opts: SearchOptions, nodes: list[dict[str, float]], where: str = "the Ray cluster"
) -> tuple[int, float]:
    """(cpus, gpus) per trial, refusing what no node of ``nodes`` can ever give."""
    max_cpus = max((n.get("CPU", 0) for n in nodes), default=0)
    max_gpus = max((n.get("GPU", 0) for n in nodes), default=0)
    gpus = resolve_gpus(opts, max_gpus)
    one = where if len(nodes) == 1 else f"any node of {where}"
    if opts.cpus_per_trial > max_cpus:
        raise UsageError(
            f"--cpus-per-trial {opts.cpus_per_trial} is more than {one} has ({max_cpus:g} CPUs)"
        )
    if gpus > max_gpus:
        have = "no GPUs" if max_gpus == 0 else f"at most {max_gpus:g} GPUs on a node"
        raise UsageError(f"--gpus-per-trial {gpus:g} cannot be met: {where} has {have}")
    if gpus > 1 and gpus != int(gpus):
        raise UsageError(f"--gpus-per-trial {gpus:g}: above 1, use a whole number of GPUs")
    if opts.cuda_graph == "on" and gpus == 0:
        raise UsageError(
            "--cuda-graph on needs GPU trials, and there are none: "
            f"{where} has no GPUs or --gpus-per-trial is 0"
        )
    return opts.cpus_per_trial, gpus


def start_and_check(
    opts: SearchOptions, params: dict[str, Any] | None, bundle: DataBundle
) -> tuple[int, float]:
    """Check the resources asked for, start (or join) Ray, and check again with what Ray sees:
    a local run is checked against this machine before Ray starts; a cluster only once
    joined. With GPUs and a search space (``params``; a resume has its share recorded), the
    share per trial is measured (``pack_gpus``) and said."""
    address, named_by = opts.ray_address()
    if address is None:
        check_resources(opts, local_resources(), "this machine")
    start_ray(address, named_by, opts.trial_niceness())
    nodes = cluster_resources()
    cpus, gpus = check_resources(
        opts, nodes, "this machine" if address is None else "the Ray cluster"
    )
    if params is not None and (0 < gpus < 1 or (gpus == 1 and opts.gpus_per_trial is None)):
        gpus, why = pack_gpus(opts, nodes, params, bundle)
        print(f"GPU share: {why}", flush=True)
    return cpus, gpus
