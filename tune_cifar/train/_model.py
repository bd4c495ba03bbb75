"""The seed study's VGG-style CNN as one configurable module.

conv3x3 3->32, 32->32, pool, 32->64, 64->64, pool, 64->128, 128->128, pool, Linear 2048->128,
ReLU, Linear 128->10; optional BatchNorm2d after every conv; dropout after each pool and
before the last linear. Submodules carry the seed's own names (conv1..conv6, bn1..bn6, l1,
l2), so ``build_model(TrialConfig(model="cnn_v4"))`` has CNN_v4's parameters name for name.
Dropout draws its masks from the generator it is given (the trial's own), never from torch's
process-wide one, so two trials in one process do not disturb each other's random streams.

    model = build_model(TrialConfig.from_dict({"model": "cnn_v3"}))
"""

from __future__ import annotations

import torch
from torch import nn

from tune_cifar.config import TrialConfig

NUM_CLASSES = 10


class Dropout(nn.Dropout):
    """``nn.Dropout`` whose masks come from ``generator`` (None: torch's default generator).

    Inverted dropout, as ``F.dropout``: each element is kept with probability 1 - p and the
    kept ones are scaled by 1 / (1 - p), so the expected activation is unchanged."""

    def __init__(self, p: float, generator: torch.Generator | None = None) -> None:
        super().__init__(p)
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.generator is None or not self.training or self.p == 0:
            return super().forward(x)
        if self.p == 1:
            return torch.zeros_like(x)
        keep = 1.0 - self.p
        mask = torch.empty_like(x).bernoulli_(keep, generator=self.generator).div_(keep)
        return x * mask


class CifarCNN(nn.Module):
    """VGG-style CNN for 3x32x32 inputs; ``width`` scales every channel count."""

    dropout4: Dropout  # (conv1..6, bn1..6 and dropout1..4 are set by name in __init__)

    def __init__(
        self,
        batch_norm: bool = True,
        dropouts: tuple[float, float, float, float] = (0.2, 0.3, 0.4, 0.4),
        width: float = 1.0,
        num_classes: int = NUM_CLASSES,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        c1, c2, c3, hidden = (max(1, round(c * width)) for c in (32, 64, 128, 128))
        channels = [(3, c1), (c1, c1), (c1, c2), (c2, c2), (c2, c3), (c3, c3)]
        for i, (cin, cout) in enumerate(channels, start=1):
            setattr(self, f"conv{i}", nn.Conv2d(cin, cout, 3, padding=(1, 1)))
            setattr(self, f"bn{i}", nn.BatchNorm2d(cout) if batch_norm else nn.Identity())
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d((2, 2))
        self.flatten = nn.Flatten()
        for i, p in enumerate(dropouts, start=1):
            setattr(self, f"dropout{i}", Dropout(p, generator))
        self.l1 = nn.Linear(4 * 4 * c3, hidden)
        self.l2 = nn.Linear(hidden, num_classes)

    def _conv_block(self, x: torch.Tensor, index: int) -> torch.Tensor:
        conv = getattr(self, f"conv{index}")
        bn = getattr(self, f"bn{index}")
        return self.relu(bn(conv(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage in range(3):
            x = self._conv_block(x, 2 * stage + 1)
            x = self._conv_block(x, 2 * stage + 2)
            x = getattr(self, f"dropout{stage + 1}")(self.maxpool(x))
        x = self.relu(self.l1(self.flatten(x)))
        return self.l2(self.dropout4(x))


def build_model(cfg: TrialConfig, generator: torch.Generator | None = None) -> CifarCNN:
    """The model a validated trial config asks for; its dropout draws from ``generator``."""
    return CifarCNN(
        batch_norm=cfg.batch_norm,
        dropouts=(cfg.dropout1, cfg.dropout2, cfg.dropout3, cfg.dropout4),
        width=cfg.width,
        generator=generator,
    )
