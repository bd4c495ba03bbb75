"""The training step on CUDA as one CUDA graph: no kernel launches from Python per step.

At batch 100 the seed's small CNN needs well under a millisecond of H100 arithmetic per step,
but launching its ~200 kernels (gather, augmentation, forward, backward) one by one from Python
takes several. ``CudaGraph`` records those kernels once and replays them for every full batch:
per step, one copy of the batch's indices into a fixed buffer and one graph replay; the
optimizer's step (fused: a few kernels for all parameters) and the lr schedule run after it,
eagerly. It holds no reference to the trainer: the ``Trainer`` (``_trainer``)
decides when to warm up, capture, replay or fall back, and passes its own step in. Following
PyTorch's guidance for capturing training
(https://pytorch.org/docs/stable/notes/cuda.html#cuda-graphs):

- the first ``WARMUP_STEPS`` steps of a trial run eagerly on a side stream (real training
  steps, nothing thrown away), so that autograd and cuDNN set up before capture;
- the gradients are allocated inside the graph and the graph's replays write them; nothing
  sets them to None afterwards (the eager last batch of an epoch zeroes them in place);
- the augmentation's and dropout's random numbers come from the trial's own generator,
  registered with the graph (``CUDAGraph.register_generator_state``), so each replay draws new
  numbers and a checkpoint's generator state continues the stream.

If capture fails (an old PyTorch without generator registration, an operation that cannot be
captured), PyTorch's own message is usually "operation failed due to a previous error during
capture", with the real cause as the exception's context: the real cause is kept
(``capture_error``), the current stream is restored, the graph's memory pool is given back,
the generator is put back where it was, and the trainer trains eagerly from then on, saying
why in its ``train_step`` metric. ``TUNE_CIFAR_FAIL_CAPTURE=1`` makes every capture fail, so a
device check can prove the fallback.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

WARMUP_STEPS = 3
FAIL_CAPTURE_ENV = "TUNE_CIFAR_FAIL_CAPTURE"  # "1": every capture fails (to test the fallback)
_MASKING_ERROR = "previous error during capture"  # PyTorch's message that hides the cause


def capture_error(exc: BaseException) -> str:
    """One line naming what made a capture fail: the first exception in the chain that is not
    PyTorch's "operation failed due to a previous error during capture"."""
    cause: BaseException = exc
    while _MASKING_ERROR in str(cause) and (cause.__cause__ or cause.__context__) is not None:
        cause = cause.__cause__ or cause.__context__  # type: ignore[assignment]
    text = str(cause).strip()
    return f"{type(cause).__name__}: {text.splitlines()[0] if text else ''}"[:200]


class CudaGraph:
    """One captured training step for a fixed batch size, replayed for each full batch."""

    def __init__(self, batch_size: int, device: torch.device, generator: torch.Generator):
        self.device = device
        self.generator = generator
        self.static_idx = torch.zeros(batch_size, dtype=torch.long, device=device)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.failed: str | None = None  # why capture failed, once it did
        self._side: torch.cuda.Stream | None = None  # created at the first warm-up step

    @property
    def mode(self) -> str:
        if self.failed:
            return f"eager (CUDA graph capture failed: {self.failed})"
        return "cuda graph" if self.graph is not None else "eager (warming up)"

    def warmup(self, step: Callable[[torch.Tensor], None], idx: torch.Tensor) -> None:
        """``step(idx)`` eagerly on a side stream, as PyTorch asks before a capture."""
        if self._side is None:
            self._side = torch.cuda.Stream(self.device)
        current = torch.cuda.current_stream(self.device)
        self._side.wait_stream(current)
        with torch.cuda.stream(self._side):
            step(idx)
        current.wait_stream(self._side)

    def capture(self, forward_backward: Callable[[torch.Tensor], None]) -> bool:
        """Record ``forward_backward(static_idx)``; False (and ``failed`` says why) if it
        cannot be captured, with the stream, memory pool and generator as before."""
        graph = torch.cuda.CUDAGraph()
        stream = torch.cuda.current_stream(self.device)
        generator_state = self.generator.get_state()
        try:
            graph.register_generator_state(self.generator)
            with torch.cuda.graph(graph):
                if os.environ.get(FAIL_CAPTURE_ENV) == "1":
                    raise RuntimeError(f"capture failure forced by {FAIL_CAPTURE_ENV}=1")
                forward_backward(self.static_idx)
        except Exception as exc:  # any capture failure: say why, train eagerly from now on
            self.failed = capture_error(exc)
            torch.cuda.set_stream(stream)
            graph.reset()
            del graph
            self.generator.set_state(generator_state)
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            return False
        self.graph = graph
        return True

    def replay(self, idx: torch.Tensor) -> None:
        self.static_idx.copy_(idx)
        self.graph.replay()  # type: ignore[union-attr]

    def release(self) -> None:
        """Give the graph's memory pool back (the trial ended)."""
        if self.graph is not None:
            self.graph.reset()
            self.graph = None
