"""One trial's training loop: model, optimizer, schedule and augmentation from a TrialConfig.

The whole data set lives on the training device as uint8 tensors; each epoch shuffles with
``randperm``, slices batches, converts and augments them on the device. ``Trainer`` is
resumable: ``state_dict()`` holds model, optimizer, schedule, every RNG state, the epoch and
the history, and ``Trainer.from_state`` continues exactly where it stopped.

    trainer = Trainer(cfg, data, max_epochs=10)
    while not trainer.finished:
        metrics = trainer.run_epoch()   # train_loss, train_acc, val_loss, val_acc, lr, ...

Losses are mean per-sample cross entropy (the seed printed mean loss / batch size).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from tune_cifar.config import CUDA_GRAPH_CHOICES, TrialConfig, check_mutable
from tune_cifar.constants import DIVERGED_FLAG, EPOCH, TRAIN_STEP
from tune_cifar.data import TrainingData
from tune_cifar.errors import UsageError
from tune_cifar.train._augment import Augmenter
from tune_cifar.train._checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION
from tune_cifar.train._cuda_graph import WARMUP_STEPS, CudaGraph
from tune_cifar.train._model import build_model

EVAL_BATCH = {"cpu": 500, "cuda": 2500}  # images per evaluation batch, by device type
NORMALIZATION = {
    "half": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
    "cifar": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}


def pick_device(requested: str = "auto") -> torch.device:
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


class Normalizer:
    """uint8 or [0, 1] float batches -> normalised float batches, on one device."""

    def __init__(self, kind: str, device: torch.device) -> None:
        mean, std = NORMALIZATION[kind]
        self.mean = torch.tensor(mean, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(std, device=device).view(1, 3, 1, 1)

    @staticmethod
    def to_unit(x: torch.Tensor) -> torch.Tensor:
        return x.float().div_(255.0)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def build_optimizer(cfg: TrialConfig, model: nn.Module) -> torch.optim.Optimizer:
    """The optimizer a config asks for; on CUDA in its fused form (a few kernels per step for
    all parameters, instead of several per parameter)."""
    params = list(model.parameters())
    fused: dict[str, Any] = {"fused": True} if params[0].is_cuda else {}
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.peak_lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov and cfg.momentum > 0,
            weight_decay=cfg.weight_decay,
            **fused,
        )
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.peak_lr, weight_decay=cfg.weight_decay, **fused)
    return torch.optim.AdamW(params, lr=cfg.peak_lr, weight_decay=cfg.weight_decay, **fused)


def build_lr_schedule(
    cfg: TrialConfig, optimizer: torch.optim.Optimizer, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """A per-batch schedule over the whole run (``max_epochs``), or None for a constant lr.

    Only the learning rate follows the schedule: OneCycle's momentum cycling (on by default
    in torch, 0.85-0.95) is off, so momentum (SGD) and beta1 (Adam) stay as configured, and
    momentum 0 stays plain SGD."""
    if cfg.lr_schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    if cfg.lr_schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=cfg.peak_lr, total_steps=total_steps, cycle_momentum=False
        )
    return None


def use_cuda_graph(setting: str, device: torch.device) -> bool:
    """Whether a trial on ``device`` trains its full batches by CUDA graph replay."""
    if setting not in CUDA_GRAPH_CHOICES:
        raise UsageError(
            f"--cuda-graph must be one of {', '.join(CUDA_GRAPH_CHOICES)}, not {setting!r}"
        )
    if setting == "on" and device.type != "cuda":
        raise UsageError(f"--cuda-graph on needs a CUDA device; this trial trains on {device.type}")
    return setting != "off" and device.type == "cuda"


def _shared_tensor(array: np.ndarray) -> torch.Tensor:
    """A tensor over ``array`` without copying; arrays from Ray's object store are read-only,
    which torch warns about, but training never writes to its inputs."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not writable.*")
        return torch.from_numpy(array)


def _autocast(device: torch.device) -> torch.autocast:
    return torch.autocast(
        device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"
    )


@torch.no_grad()
def predict_logits(
    model: nn.Module, x: torch.Tensor, normalize: Normalizer, tta: bool = False
) -> torch.Tensor:
    """Logits for uint8 images (N, 3, 32, 32), in eval mode, in batches, on the model's device;
    with ``tta``, the mean of the logits of each image and of its mirror image."""
    model.eval()
    device = next(model.parameters()).device
    out = []
    size = EVAL_BATCH.get(device.type, EVAL_BATCH["cpu"])
    for start in range(0, len(x), size):
        batch = normalize(Normalizer.to_unit(x[start : start + size].to(device)))
        batch = batch.contiguous(memory_format=torch.channels_last)
        with _autocast(device):
            logits = model(batch).float()
            if tta:
                logits = 0.5 * (logits + model(batch.flip(3)).float())
        out.append(logits)
    return torch.cat(out)


def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, normalize: Normalizer, tta: bool = False
) -> dict[str, float]:
    """Mean cross-entropy and accuracy of ``model`` on uint8 images ``x`` with labels ``y``."""
    logits = predict_logits(model, x, normalize, tta)
    y = y.to(logits.device)
    return {
        "loss": F.cross_entropy(logits, y).item(),
        "acc": (logits.argmax(1) == y).float().mean().item(),
    }


class Trainer:
    """Trains one configuration epoch by epoch; resumable through ``state_dict``.

    ``cuda_graph``: "auto" (on for CUDA), "on" or "off". On CUDA the full batches of an epoch
    replay one CUDA graph of the step (``_cuda_graph``); the last, smaller batch of
    an epoch, and every step on a CPU, run eagerly: same math, every image every epoch.
    ``close()`` releases the trial's device memory when it ends."""

    def __init__(
        self,
        cfg: TrialConfig,
        data: TrainingData,
        max_epochs: int,
        device: str = "auto",
        cuda_graph: str = "auto",
    ) -> None:
        self.cfg = cfg
        self.max_epochs = max_epochs
        self.device = pick_device(device)
        # Every random number of the trial (shuffling, augmentation, dropout) comes from its own
        # generator; the initial weights from torch's CPU generator, seeded inside fork_rng so
        # that the process-wide state is left as it was (other trainers in this process and
        # their exact resumes are untouched).
        self.generator = torch.Generator(self.device).manual_seed(cfg.seed)
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(cfg.seed)
            model = build_model(cfg, self.generator)
        # (Module.to takes a memory format; torch's type stubs lack that overload)
        self.model = model.to(self.device, memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.params = sum(p.numel() for p in self.model.parameters())
        self.optimizer = build_optimizer(cfg, self.model)
        self.steps_per_epoch = math.ceil(len(data.train_y) / cfg.batch_size)
        self.scheduler = build_lr_schedule(cfg, self.optimizer, self.steps_per_epoch * max_epochs)
        self.normalize = Normalizer(cfg.normalize, self.device)
        self.augment = Augmenter(cfg, self.generator, self.normalize)
        self.train_x, self.train_y, self.val_x, self.val_y = (
            _shared_tensor(a).to(self.device)
            for a in (data.train_x, data.train_y, data.val_x, data.val_y)
        )
        # The epoch's loss sum and correct count, added to on the device (no sync per step).
        self.loss_sum = torch.zeros((), device=self.device)
        self.correct = torch.zeros((), device=self.device, dtype=torch.long)
        # Full batches by CUDA graph replay on CUDA (_cuda_graph): after WARMUP_STEPS
        # eager steps on a side stream, one capture, then replays; eager for good if capture
        # fails.
        self.graph = (
            CudaGraph(cfg.batch_size, self.device, self.generator)
            if use_cuda_graph(cuda_graph, self.device)
            else None
        )
        self.warmup_left = WARMUP_STEPS
        self.epoch = 0
        self.history: list[dict[str, Any]] = []  # run_epoch's metrics, one per epoch

    @property
    def finished(self) -> bool:
        return self.epoch >= self.max_epochs

    @property
    def step_mode(self) -> str:
        """How full batches train: 'cuda graph', 'eager', or why the graph was given up."""
        return "eager" if self.graph is None else self.graph.mode

    def _loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), y, label_smoothing=self.cfg.label_smoothing)

    def forward_backward(self, idx: torch.Tensor) -> None:
        """Gather, augment, forward, loss and backward for the images ``idx``; adds the batch's
        loss sum and correct count to the epoch's. What a CUDA graph captures."""
        x = self.augment(Normalizer.to_unit(self.train_x[idx]))
        x = x.contiguous(memory_format=torch.channels_last)
        y = self.train_y[idx]
        with _autocast(self.device):
            logits = self.model(x)
        loss = self._loss(logits, y)
        loss.backward()
        self.loss_sum.add_(loss.detach() * len(idx))
        self.correct.add_((logits.argmax(1) == y).sum())

    def optimizer_step(self) -> None:
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()

    def eager_step(self, idx: torch.Tensor) -> None:
        # Once a graph owns the gradient buffers they are zeroed in place, never dropped, so
        # that its replays and the optimizer keep sharing them.
        keep = self.graph is not None and self.graph.graph is not None
        self.optimizer.zero_grad(set_to_none=not keep)
        self.forward_backward(idx)
        self.optimizer_step()

    def full_batch_step(self, idx: torch.Tensor) -> None:
        """A step on a full batch: by CUDA graph replay once captured, eagerly before (warm-up
        on a side stream) and for good if capture failed."""
        graph = self.graph
        if graph is None or graph.failed:
            self.eager_step(idx)
            return
        if graph.graph is None:
            if self.warmup_left > 0:
                graph.warmup(self.eager_step, idx)
                self.warmup_left -= 1
                return
            self.optimizer.zero_grad(set_to_none=True)  # the graph allocates the gradients
            if not graph.capture(self.forward_backward):
                self.eager_step(idx)
                return
        graph.replay(idx)
        self.optimizer_step()

    def close(self) -> None:
        """Release what the trial holds on its device (the graph's memory pool, the data, the
        model and optimizer state), so that a reused trial process starts its next trial
        with only its allocator's cache; the trainer cannot train after this."""
        if self.graph is not None:
            self.graph.release()
        self.graph = None
        for name in (
            "train_x",
            "train_y",
            "val_x",
            "val_y",
            "model",
            "optimizer",
            "scheduler",
            "augment",
            "loss_sum",
            "correct",
        ):
            setattr(self, name, None)
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def train_epoch(self) -> dict[str, float]:
        """One pass over the shuffled training set; mean per-sample loss and accuracy."""
        self.model.train()
        n = len(self.train_y)
        order = torch.randperm(n, device=self.device, generator=self.generator)
        self.loss_sum.zero_()
        self.correct.zero_()
        for start in range(0, n, self.cfg.batch_size):
            idx = order[start : start + self.cfg.batch_size]
            if len(idx) == self.cfg.batch_size:
                self.full_batch_step(idx)
            else:
                self.eager_step(idx)
        return {"train_loss": self.loss_sum.item() / n, "train_acc": self.correct.item() / n}

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        return evaluate(self.model, x, y, self.normalize, self.cfg.tta)

    def run_epoch(self) -> dict[str, Any]:
        """Train one epoch, validate, append to the history and return the epoch's metrics."""
        start = time.perf_counter()
        train = self.train_epoch()
        train_time = time.perf_counter() - start
        val = self.evaluate(self.val_x, self.val_y)  # (.item(): the device has finished)
        val_time = time.perf_counter() - start - train_time
        self.epoch += 1
        metrics = {
            EPOCH: self.epoch,
            **train,
            "val_loss": val["loss"],
            "val_acc": val["acc"],
            "lr": self.optimizer.param_groups[0]["lr"],
            "epoch_time_s": time.perf_counter() - start,
            "images_per_s": len(self.train_y) / train_time,
            "params": self.params,
            "inference_ms": 1000 * val_time / len(self.val_y),  # per image, batched
            DIVERGED_FLAG: not (math.isfinite(train["train_loss"]) and math.isfinite(val["loss"])),
            TRAIN_STEP: self.step_mode,
        }
        self.history.append(metrics)
        return metrics

    def state_dict(self) -> dict[str, Any]:
        """All it takes to continue exactly; loads with ``torch.load(weights_only=True)``."""
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "config": self.cfg.to_dict(),
            "max_epochs": self.max_epochs,
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler else None,
            "rng": {"generator": self.generator.get_state()},
            "history": list(self.history),
        }

    def change_config(self, cfg: TrialConfig) -> None:
        """Train on under ``cfg`` from the next step (a PBT mutation, a replayed schedule).

        Only the ``MUTABLE_KEYS`` may differ (and the seed: the trial's generator goes on as
        it is); anything else is a one-line UsageError. The learning-rate schedule keeps its
        shape and its position and is scaled to the new peak: lr(step) = new peak lr x the
        schedule's factor at that step (cosine and OneCycle alike; constant: the new lr)."""
        old = self.cfg
        check_mutable([k for k, v in cfg.to_dict().items() if k != "seed" and v != getattr(old, k)])
        ratio = cfg.peak_lr / old.peak_lr
        for group in self.optimizer.param_groups:
            # Every lr the schedules keep in a group (OneCycle's initial/max/min too) scales.
            for name in ("lr", "initial_lr", "max_lr", "min_lr"):
                if name in group:
                    group[name] *= ratio
            if "momentum" in group:  # SGD's; Adam's betas are not a mutable key
                group["momentum"] = cfg.momentum
            group["weight_decay"] = cfg.weight_decay
        if self.scheduler is not None:
            self.scheduler.base_lrs = [lr * ratio for lr in self.scheduler.base_lrs]
        for i in range(1, 5):
            getattr(self.model, f"dropout{i}").p = getattr(cfg, f"dropout{i}")
        self.cfg = cfg
        self.augment.cfg = cfg
        if self.graph is not None and self.graph.graph is not None:
            # A captured graph baked the old probabilities into its kernels: capture anew.
            self.graph.release()
            self.graph = CudaGraph(cfg.batch_size, self.device, self.generator)
            self.warmup_left = WARMUP_STEPS

    def follow(self, schedule: Mapping[int, TrialConfig]) -> TrialConfig | None:
        """Before the next epoch: change to ``schedule[next epoch]`` if it names one (a PBT
        trial's schedule replayed, {epoch: configuration from then on}; the first epoch's is
        the configuration the trainer was built with). Returns the configuration left behind,
        or None when nothing changed hands."""
        coming = schedule.get(self.epoch + 1)
        if coming is None or self.epoch == 0:
            return None
        before = self.cfg
        self.change_config(coming)
        return before

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``; a state saved under another configuration (a PBT donor's)
        continues under this trainer's, which may differ in the mutable keys only."""
        saved, wanted = TrialConfig.from_dict(state["config"]), self.cfg
        if saved != wanted:
            check_mutable(
                [k for k, v in saved.to_dict().items() if k != "seed" and v != getattr(wanted, k)]
            )
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["rng"]["generator"])  # (version 1's global states:
        # not restored, nothing draws from them now)
        self.epoch = state["epoch"]
        self.history = list(state["history"])
        if saved != wanted:  # the optimizer and schedule now hold the saved settings
            self.cfg = saved
            self.change_config(wanted)
