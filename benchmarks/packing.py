"""How to pack trials onto one device: the same CNN_v4 training step, three ways, as images/s
and as model FLOP utilisation (MFU: training FLOPs done per second over the device's stated
bf16 peak), so that the first GPU run says which packing design to build next. The sections,
in the order they run (the cheapest and most telling first):

1. ``flops``: the model FLOPs of one training image (forward + backward), counted by
   ``torch.utils.flop_counter`` (issue #30 measured 231.6 MFLOP for CNN_v4);
2. ``one trial``: one trial at batch 100, 512 and 2048: tune-cifar's own Trainer (its
   augmentation and data path) eager and, on CUDA, replaying its CUDA graph; and the bare
   step (model, Adam, cross-entropy on a batch resident on the device);
3. ``stacked``: one process training M = 1, 4, 16, 64 copies of the model at once, each with
   its own learning rate, weights, BatchNorm statistics and dropout masks (from a generator
   per model), in one ``torch.func.vmap``-ed step over ``stack_module_state``; first a check
   that after 20 steps each stacked model's loss and BatchNorm statistics equal those of the
   same model trained alone (in float64: see CHECK_TOLERANCE);
4. ``processes``: k = 1, 2, 4, 8 ``tune-cifar train`` processes sharing the device, every
   image they trained over their common wall window (``common.images_per_s_together``);
5. ``compiled``: the bare step under ``torch.compile`` at batch 512 (about a minute to
   compile, so last).

Each section is written to ``packing.json`` as soon as it ends (a time-out keeps the earlier
figures). On a CPU it measures the CPU, not a GPU (no MFU unless ``--peak-tflops``):
``--smoke-test`` runs every section small, for CI.

    python benchmarks/packing.py --out bench-out/packing              # on a GPU, ~2-3 minutes
    python benchmarks/packing.py --smoke-test --out bench-out/packing # on a CPU, for CI
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from common import images_per_s_together, random_data, run_sections, train_at_once

from tune_cifar.config import TrialConfig
from tune_cifar.hardware import describe_hardware
from tune_cifar.train import Trainer, build_model

CNN_V4 = TrialConfig.from_dict({"model": "cnn_v4"})  # batch norm, dropout, Adam at 1e-3
ISSUE_FLOPS = 231.6e6  # model FLOPs per training image of CNN_v4, as issue #30 measured them
# Stated dense bf16 peaks (vendor data sheets), by a part of the device's name.
BF16_PEAK_FLOPS = {"H200": 989e12, "H100 PCIe": 756e12, "H100": 989e12, "A100": 312e12}
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8  # torch.optim.Adam's defaults, as trials use them
BN_MOMENTUM, BN_EPS = 0.1, 1e-5  # nn.BatchNorm2d's defaults
# Stacked vs alone: the loss after 20 steps, in float64 (in float32, Adam's first steps move a
# weight whose gradient is ~0 by +-lr on rounding noise alone, and the runs drift apart by
# ~1e-3 in 20 steps: a tolerance that loose would hide a real difference).
CHECK_STEPS, CHECK_TOLERANCE = 20, 1e-6


def peak_flops(device: torch.device, given: float | None) -> tuple[float | None, str]:
    """The peak MFU is taken against: ``--peak-tflops``, else the data-sheet bf16 peak of a
    known GPU; None (no MFU) for a device whose peak is not known."""
    if given:
        return given * 1e12, "--peak-tflops"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for part, flops in BF16_PEAK_FLOPS.items():
            if part in name:
                return flops, f"{part} bf16 data sheet"
    return None, "unknown (give --peak-tflops)"


def flops_per_image(device: torch.device, batch: int = 64) -> float:
    """FLOPs of one training image: forward and backward of CNN_v4, counted by torch."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model(CNN_V4).to(device)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(model(x), y).backward()
    return counter.get_total_flops() / batch


def rate(images_per_s: float, flops: float, peak: float | None) -> dict[str, Any]:
    """A figure as images/s and, where the peak is known, MFU."""
    return {
        "images_per_s": images_per_s,
        "mfu": images_per_s * flops / peak if peak else None,
    }


def shown(figure: dict[str, Any]) -> str:
    mfu = f", MFU {figure['mfu']:.1%}" if figure.get("mfu") is not None else ""
    return f"{figure['images_per_s']:,.0f} images/s{mfu}"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_steps(step: Callable[[], None], device: torch.device, seconds: float) -> float:
    """Steps per second of ``step`` after 3 warm-up steps, over about ``seconds``."""
    for _ in range(3):
        step()
    sync(device)
    done, start = 0, time.perf_counter()
    while True:
        step()
        done += 1
        if done % 5 == 0:
            sync(device)
            if time.perf_counter() - start >= seconds:
                return done / (time.perf_counter() - start)


def bare_step(batch: int, device: torch.device, compiled: bool) -> Callable[[], None]:
    """CNN_v4's training step on a batch that stays on the device: no data path at all."""
    model = build_model(CNN_V4).to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(batch, 3, 32, 32, device=device).to(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device=device)

    def step() -> None:
        with torch.autocast(device.type, torch.bfloat16, enabled=device.type == "cuda"):
            loss = F.cross_entropy(model(x).float(), y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return torch.compile(step) if compiled else step


def one_trial(args: argparse.Namespace, flops: float, peak: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    data = random_data(args.images, 50)
    for batch in args.batches:
        cfg = TrialConfig.from_dict({"model": "cnn_v4", "batch_size": batch})
        row: dict[str, Any] = {}
        for graph in ("off", "on") if args.device.type == "cuda" else ("off",):
            trainer = Trainer(cfg, data, args.epochs, args.device.type, graph)
            while not trainer.finished:
                trainer.run_epoch()
            best = max(r["images_per_s"] for r in trainer.history[1:] or trainer.history)
            row["trainer graph" if graph == "on" else "trainer eager"] = rate(best, flops, peak)
            trainer.close()
        steps = timed_steps(bare_step(batch, args.device, False), args.device, args.seconds)
        row["bare eager"] = rate(steps * batch, flops, peak)
        out[f"batch {batch}"] = row
        print(
            f"2. one trial, batch {batch}: "
            + "; ".join(
                f"{k} {shown(v) if 'error' not in v else v['error'][:80]}" for k, v in row.items()
            ),
            flush=True,
        )
    return out


def compiled(args: argparse.Namespace, flops: float, peak: float | None) -> dict[str, Any]:
    """The bare step under ``torch.compile`` (last: each compile takes about a minute)."""
    out: dict[str, Any] = {}
    for batch in args.compile_batches:
        try:
            steps = timed_steps(bare_step(batch, args.device, True), args.device, args.seconds)
            out[f"batch {batch}"] = rate(steps * batch, flops, peak)
            print(f"5. one trial, batch {batch}, compiled: {shown(out[f'batch {batch}'])}")
        except Exception as exc:  # torch.compile needs a working compiler: say why, go on
            out[f"batch {batch}"] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            print(f"5. batch {batch}: torch.compile failed: {out[f'batch {batch}']['error']}")
    return out


def processes(
    args: argparse.Namespace, root: Path, flops: float, peak: float | None
) -> dict[str, Any]:
    out = {}
    for k in args.processes:
        histories = train_at_once(
            k,
            root / f"k{k}",
            *args.data_flags,
            "--epochs", str(args.epochs), "--batch-size", "100", "--model", "cnn_v4",
            "--device", args.device.type, "--threads", "1",
        )  # fmt: skip
        out[str(k)] = rate(images_per_s_together(histories), flops, peak)
        print(f"4. {k} processes at once: {shown(out[str(k)])} together", flush=True)
    return out


# -- stacked models: M copies of CNN_v4 in one vmapped step -------------------------------


def functional_forward(
    params: dict[str, torch.Tensor],
    buffers: dict[str, torch.Tensor],
    x: torch.Tensor,
    masks: list[torch.Tensor],
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``CifarCNN.forward`` of one model, in training mode, as a pure function: BatchNorm from
    the batch's statistics, with the running statistics it would update returned (no
    in-place write, so it vmaps); dropout as the given masks (drawn outside, per model)."""
    new: dict[str, torch.Tensor] = {}
    h = x
    for stage in range(3):
        for j in (2 * stage + 1, 2 * stage + 2):
            h = F.conv2d(h, params[f"conv{j}.weight"], params[f"conv{j}.bias"], padding=1)
            # BatchNorm2d in training: normalise by the batch's mean and biased variance; the
            # running variance takes the unbiased one (n / (n - 1)), as torch's does.
            mean, var = h.mean((0, 2, 3)), h.var((0, 2, 3), unbiased=False)
            n = h.numel() / h.shape[1]
            name = f"bn{j}"
            new[f"{name}.running_mean"] = (1 - BN_MOMENTUM) * buffers[
                f"{name}.running_mean"
            ] + BN_MOMENTUM * mean
            new[f"{name}.running_var"] = (1 - BN_MOMENTUM) * buffers[
                f"{name}.running_var"
            ] + BN_MOMENTUM * var * n / (n - 1)
            new[f"{name}.num_batches_tracked"] = buffers[f"{name}.num_batches_tracked"] + 1
            h = (h - mean[None, :, None, None]) * torch.rsqrt(var[None, :, None, None] + BN_EPS)
            h = h * params[f"{name}.weight"][None, :, None, None]
            h = F.relu(h + params[f"{name}.bias"][None, :, None, None])
        h = F.max_pool2d(h, 2) * masks[stage]
    h = F.relu(F.linear(h.flatten(1), params["l1.weight"], params["l1.bias"]))
    return F.linear(h * masks[3], params["l2.weight"], params["l2.bias"]), new


def draw_masks(
    model: torch.nn.Module,
    batch: int,
    generator: torch.Generator,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> list[torch.Tensor]:
    """One step's dropout masks of ``model``, drawn from ``generator`` in the order and shapes
    its own Dropout modules draw them (so a model trained alone gets the same masks)."""
    c1, c2, c3 = model.conv1.out_channels, model.conv3.out_channels, model.conv5.out_channels
    shapes = [
        (batch, c1, 16, 16),
        (batch, c2, 8, 8),
        (batch, c3, 4, 4),
        (batch, model.l1.out_features),
    ]
    masks = []
    for i, shape in enumerate(shapes, start=1):
        p = getattr(model, f"dropout{i}").p
        keep = 1.0 - p
        if p == 0:
            masks.append(torch.ones(shape, device=device, dtype=dtype))
        else:  # as tune_cifar.train's Dropout: bernoulli(keep) / keep
            masks.append(
                torch.empty(shape, device=device, dtype=dtype)
                .bernoulli_(keep, generator=generator)
                .div_(keep)
            )
    return masks


class Stacked:
    """M models of CNN_v4 (seeds 0..M-1, learning rates ``lrs``), trained by one vmapped step
    with Adam as ``torch.optim.Adam`` computes it, each on its own batch."""

    def __init__(
        self,
        lrs: list[float],
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        cfg: TrialConfig = CNN_V4,
    ) -> None:
        self.device, self.dtype = device, dtype
        self.models = []
        for seed in range(len(lrs)):
            torch.manual_seed(seed)
            self.models.append(build_model(cfg).to(device, dtype))
        self.params, self.buffers = torch.func.stack_module_state(self.models)
        self.generators = [torch.Generator(device).manual_seed(100 + m) for m in range(len(lrs))]
        self.lrs = torch.tensor(lrs, device=device)
        self.moments = {
            k: (torch.zeros_like(v), torch.zeros_like(v)) for k, v in self.params.items()
        }
        self.t = 0

        def loss(params, buffers, x, y, masks):
            logits, new = functional_forward(params, buffers, x, masks)
            return F.cross_entropy(logits, y), (new, F.cross_entropy(logits.detach(), y))

        self.grads = torch.func.vmap(torch.func.grad(loss, has_aux=True))

    def step(self, x: torch.Tensor, y: torch.Tensor, bf16: bool = False) -> torch.Tensor:
        """One step of every model (``x``: [M, B, 3, 32, 32]); each model's loss, [M].
        ``bf16``: the forward under bf16 autocast, as trials train on CUDA."""
        masks = [
            draw_masks(self.models[0], x.shape[1], g, self.device, self.dtype)
            for g in self.generators
        ]
        stacked_masks = [torch.stack([m[i] for m in masks]) for i in range(4)]
        with torch.autocast(self.device.type, torch.bfloat16, enabled=bf16):
            grads, (new_buffers, losses) = self.grads(
                self.params, self.buffers, x, y, stacked_masks
            )
        self.buffers = {k: new_buffers.get(k, v) for k, v in self.buffers.items()}
        self.t += 1
        # torch.optim.Adam (single-tensor form): m = lerp(m, g, 1 - b1), v = b2 v + (1 - b2) g^2,
        # p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps); lr per model.
        c1, c2 = 1 - BETA1**self.t, math.sqrt(1 - BETA2**self.t)
        with torch.no_grad():
            for k, p in self.params.items():
                m, v = self.moments[k]
                m.lerp_(grads[k], 1 - BETA1)
                v.mul_(BETA2).addcmul_(grads[k], grads[k], value=1 - BETA2)
                lr = (self.lrs / c1).view(-1, *[1] * (p.dim() - 1))
                p.sub_(lr * m / (v.sqrt() / c2 + EPS))
        return losses


def alone(
    lr: float,
    seed: int,
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
    cfg: TrialConfig,
) -> tuple[float, dict[str, torch.Tensor]]:
    """The same model trained alone (nn modules, torch.optim.Adam) in float64: its loss at the
    last step and its BatchNorm running statistics after it."""
    torch.manual_seed(seed)
    generator = torch.Generator(device).manual_seed(100 + seed)
    model = build_model(cfg, generator).to(device, torch.float64).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, foreach=False)
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return float(loss.detach()), dict(model.named_buffers())


def stacked_check(device: torch.device, batch: int, cfg: TrialConfig) -> dict[str, Any]:
    """After CHECK_STEPS steps, each of 3 stacked models' loss and BatchNorm running
    statistics against the same model trained alone (both in float64)."""
    lrs = [1e-3, 3e-3, 3e-4]
    generator = torch.Generator().manual_seed(7)
    data = [
        (torch.randn(len(lrs), batch, 3, 32, 32, generator=generator).to(device, torch.float64),
         torch.randint(0, 10, (len(lrs), batch), generator=generator).to(device))
        for _ in range(CHECK_STEPS)
    ]  # fmt: skip
    stacked = Stacked(lrs, device, torch.float64, cfg)
    for x, y in data:
        losses = stacked.step(x, y)
    # (the stacked step's last losses are those of the weights before its last update, as the
    # alone loop's are)
    alone_runs = [
        alone(lr, m, [(x[m], y[m]) for x, y in data], device, cfg) for m, lr in enumerate(lrs)
    ]
    difference = max(abs(float(a) - b) for a, (b, _) in zip(losses, alone_runs, strict=True))
    statistics = max(
        float((stacked.buffers[k][m].detach().double() - buffers[k].double()).abs().max())
        for m, (_, buffers) in enumerate(alone_runs)
        for k in buffers
    )
    return {
        "steps": CHECK_STEPS,
        "stacked_losses": [float(v) for v in losses],
        "alone_losses": [b for b, _ in alone_runs],
        "largest_difference": difference,
        "largest_batchnorm_statistics_difference": statistics,
        "tolerance": CHECK_TOLERANCE,
        "same": difference <= CHECK_TOLERANCE and statistics <= CHECK_TOLERANCE,
    }


def stacked(args: argparse.Namespace, flops: float, peak: float | None) -> dict[str, Any]:
    before = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False  # fp32
    try:
        check = stacked_check(
            args.device, 32 if args.stacked_cfg is CNN_V4 else 8, args.stacked_cfg
        )
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = before
    print(
        f"3. stacked models vs alone after {check['steps']} steps (float64): largest loss "
        f"difference {check['largest_difference']:.2e}, of BatchNorm statistics "
        f"{check['largest_batchnorm_statistics_difference']:.2e} "
        f"({'same' if check['same'] else 'NOT the same'}, "
        f"tolerance {CHECK_TOLERANCE})",
        flush=True,
    )
    out: dict[str, Any] = {"check": check, "width": args.stacked_cfg.width}
    if not check["same"]:
        raise RuntimeError(f"stacked models differ from alone ones: {check}")
    batch = 100
    for m in args.models:
        model_set = Stacked(
            [1e-3 * (1 + i / 10) for i in range(m)], args.device, cfg=args.stacked_cfg
        )
        x = torch.randn(m, batch, 3, 32, 32, device=args.device)
        y = torch.randint(0, 10, (m, batch), device=args.device)
        try:
            cuda = args.device.type == "cuda"
            steps = timed_steps(
                lambda s=model_set, x=x, y=y, bf16=cuda: s.step(x, y, bf16=bf16),
                args.device,
                args.seconds,
            )
        except torch.OutOfMemoryError as exc:
            out[str(m)] = {"error": f"out of memory: {str(exc)[:200]}"}
            break
        out[str(m)] = rate(steps * m * batch, flops, peak)
        print(f"3. {m} stacked models, batch {batch} each: {shown(out[str(m)])}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out/packing"))
    parser.add_argument("--device", default="auto", help="auto (cuda if there is one), cuda, cpu")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's peak for MFU")
    parser.add_argument("--images", type=int, default=20_000, help="training images per epoch")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="per bare-step figure")
    parser.add_argument("--smoke-test", action="store_true", help="every section, small, on a CPU")
    args = parser.parse_args()
    name = (
        args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    )
    args.device = torch.device(name)
    args.batches, args.processes, args.models = [100, 512, 2048], [1, 2, 4, 8], [1, 4, 16, 64]
    args.compile_batches = [512]
    args.stacked_cfg = CNN_V4
    args.data_flags = ["--data", "cifar10", "--train-subset", str(args.images)]
    if args.smoke_test:
        args.images, args.epochs, args.seconds = 200, 2, 0.2
        args.batches, args.processes, args.models = [100], [1, 2], [1, 2]
        args.compile_batches = []  # a CPU compile takes a minute: not in CI
        # float64 convolutions are slow on a CPU: the stacked sections at a quarter width
        args.stacked_cfg = TrialConfig.from_dict({"model": "cnn_v4", "width": 0.25})
        args.data_flags = ["--data", "synthetic", "--train-subset", "200", "--val-size", "50"]
    print(describe_hardware(), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "packing.json"
    peak, peak_source = peak_flops(args.device, args.peak_tflops)
    flops = flops_per_image(args.device)
    print(
        f"1. CNN_v4: {flops / 1e6:.1f} MFLOP per training image (issue: {ISSUE_FLOPS / 1e6:.1f}); "
        f"peak {peak / 1e12 if peak else float('nan'):.0f} TFLOP/s ({peak_source})",
        flush=True,
    )
    figures: dict[str, Any] = {
        "hardware": describe_hardware(),
        "device": str(args.device),
        "flops_per_training_image": flops,
        "peak_flops": peak,
        "peak_source": peak_source,
    }
    with tempfile.TemporaryDirectory() as tmp:
        ok = run_sections(
            [
                ("one trial", lambda: one_trial(args, flops, peak)),
                ("stacked", lambda: stacked(args, flops, peak)),
                ("processes", lambda: processes(args, Path(tmp), flops, peak)),
                ("compiled", lambda: compiled(args, flops, peak)),
            ],
            path,
            figures,
        )
    print(f"wrote {path}")
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
