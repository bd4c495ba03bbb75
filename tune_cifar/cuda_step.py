"""The training step on CUDA as one CUDA graph: no kernel launches from Python per step.

At batch 100 the seed's small CNN needs well under a millisecond of H100 arithmetic per step,
but launching its ~200 kernels (gather, augmentation, forward, backward) one by one from Python
takes several. ``CudaGraphStep`` records those kernels once and replays them for every full
batch: per step, one copy of the batch's indices into a fixed buffer, one graph replay, then
the optimizer's step, fused (a few kernels for all parameters), and the lr schedule in Python
as before. Following PyTorch's guidance for capturing training
(https://pytorch.org/docs/stable/notes/cuda.html#cuda-graphs):

- the first ``WARMUP_STEPS`` steps of a trial run eagerly on a side stream (real training
  steps, nothing thrown away), so that autograd and cuDNN set up before capture;
- the gradients are allocated inside the graph and the graph's replays write them; nothing
  sets them to None afterwards (the eager last batch of an epoch zeroes them in place);
- the augmentation's and dropout's random numbers come from the trial's own generator,
  registered with the graph (``CUDAGraph.register_generator_state``), so each replay draws new
  numbers and a checkpoint's generator state continues the stream.

If capture fails (an old PyTorch without generator registration, an operation that cannot be
captured), the trial says why in its ``train_step`` metric and trains eagerly from then on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from tune_cifar.training import Trainer

WARMUP_STEPS = 3


class CudaGraphStep:
    """Replays one captured training step for each full batch of a ``Trainer``."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.graph: torch.cuda.CUDAGraph | None = None
        self.failed: str | None = None
        self.warmup_left = WARMUP_STEPS
        self.static_idx = torch.zeros(trainer.cfg.batch_size, dtype=torch.long,
                                      device=trainer.device)
        self.side = torch.cuda.Stream(trainer.device)

    @property
    def mode(self) -> str:
        if self.failed:
            return f"eager (CUDA graph capture failed: {self.failed})"
        return "cuda graph" if self.graph is not None else "eager (warming up)"

    def __call__(self, idx: torch.Tensor) -> None:
        trainer = self.trainer
        if self.graph is None:
            if self.failed or self.warmup_left > 0:
                self._warmup(idx)
                return
            self._capture()
            if self.graph is None:
                trainer.eager_step(idx)
                return
        self.static_idx.copy_(idx)
        self.graph.replay()
        trainer.optimizer_step()

    def _warmup(self, idx: torch.Tensor) -> None:
        current = torch.cuda.current_stream(self.trainer.device)
        self.side.wait_stream(current)
        with torch.cuda.stream(self.side):
            self.trainer.eager_step(idx)
        current.wait_stream(self.side)
        self.warmup_left -= 1

    def _capture(self) -> None:
        trainer = self.trainer
        graph = torch.cuda.CUDAGraph()
        try:
            graph.register_generator_state(trainer.generator)
            trainer.optimizer.zero_grad(set_to_none=True)  # the graph allocates the gradients
            with torch.cuda.graph(graph):
                trainer.forward_backward(self.static_idx)
        except Exception as exc:  # any capture failure: say why, train eagerly
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            self.failed = f"{type(exc).__name__}: {first}"[:200]
            trainer.optimizer.zero_grad(set_to_none=True)
            torch.cuda.synchronize(trainer.device)
            return
        self.graph = graph
