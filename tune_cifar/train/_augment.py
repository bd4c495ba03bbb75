"""Batched data augmentation on the training device: no per-image Python, no DataLoader.

``Augmenter(cfg, generator, normalize)`` turns a whole float batch (N, C, H, W) in [0, 1]
into an augmented, normalised batch, in the seed's order:

1. a horizontal flip with probability ``hflip_p``;
2. a random crop after zero padding by ``crop_padding`` pixels (black, as torchvision pads);
3. ``normalize``;
4. RandomErasing with torchvision's semantics: per image with probability ``erase_p``, up to
   10 attempts at an area fraction drawn from ``erase_scale`` and a log-uniform aspect ratio
   from ``erase_ratio``; the first box that fits is set to 0; if none fits, nothing changes.

All randomness comes from ``generator``, so a checkpoint that saves its state resumes the
same stream.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from tune_cifar.config import TrialConfig

ERASE_ATTEMPTS = 10


def random_flip(x: torch.Tensor, p: float, gen: torch.Generator) -> torch.Tensor:
    flip = torch.rand(x.shape[0], device=x.device, generator=gen) < p
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def random_crop(x: torch.Tensor, padding: int, gen: torch.Generator) -> torch.Tensor:
    """Zero-pad by ``padding`` and cut a random HxW window per image (RandomCrop(padding=...))."""
    n, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (n,), device=x.device, generator=gen)
    dx = torch.randint(0, 2 * padding + 1, (n,), device=x.device, generator=gen)
    # One gather for the whole batch: out[i, c, y, x] = padded[i, c, dy_i + y, dx_i + x], with
    # (N,1,1,1), (1,C,1,1), (N,1,H,1), (N,1,1,W) index tensors broadcast to (N,C,H,W).
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chans = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]


def erasing_boxes(
    n: int,
    h: int,
    w: int,
    p: float,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    gen: torch.Generator,
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per image: (erase?, top, left, height, width), as torchvision's RandomErasing draws them.

    All 10 of torchvision's attempts are drawn at once, per image, and the first that fits is
    kept, which is what its loop of up to 10 tries picks."""
    # Area uniform in scale * H*W, aspect ratio log-uniform in ratio (RandomErasing.get_params).
    area = torch.empty(n, ERASE_ATTEMPTS, device=device).uniform_(*scale, generator=gen) * (h * w)
    log_ratio = torch.empty(n, ERASE_ATTEMPTS, device=device).uniform_(
        math.log(ratio[0]), math.log(ratio[1]), generator=gen
    )
    aspect = torch.exp(log_ratio)
    # A box of that area and aspect (height / width): h*w = area, h/w = aspect.
    eh = torch.round(torch.sqrt(area * aspect)).long()
    ew = torch.round(torch.sqrt(area / aspect)).long()
    fits = (eh < h) & (ew < w)
    first = torch.argmax(fits.int(), dim=1)  # the first attempt that fits, as torchvision stops
    pick = torch.arange(n, device=device)
    eh, ew = eh[pick, first], ew[pick, first]
    erase = fits.any(dim=1) & (torch.rand(n, device=device, generator=gen) < p)
    # Uniform integers in [0, H - eh], as torch.randint(0, H - eh + 1) draws them.
    top = (torch.rand(n, device=device, generator=gen) * (h - eh + 1)).long()
    left = (torch.rand(n, device=device, generator=gen) * (w - ew + 1)).long()
    return erase, top, left, eh, ew


def random_erasing(
    x: torch.Tensor,
    p: float,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    gen: torch.Generator,
) -> torch.Tensor:
    n, _, h, w = x.shape
    erase, top, left, eh, ew = erasing_boxes(n, h, w, p, scale, ratio, gen, x.device)
    # Each image's box as a (N, H, W) mask: rows in [top, top + eh), columns in [left, left + ew).
    ys = torch.arange(h, device=x.device)[None, :, None]
    xs = torch.arange(w, device=x.device)[None, None, :]
    inside = (
        (ys >= top[:, None, None])
        & (ys < (top + eh)[:, None, None])
        & (xs >= left[:, None, None])
        & (xs < (left + ew)[:, None, None])
    )
    mask = inside & erase[:, None, None]
    return x.masked_fill(mask[:, None], 0.0)


class Augmenter:
    """The training-time augmentation a trial config asks for, applied to whole batches."""

    def __init__(
        self,
        cfg: TrialConfig,
        generator: torch.Generator,
        normalize: Callable[[torch.Tensor], torch.Tensor],
    ) -> None:
        self.cfg = cfg
        self.gen = generator
        self.normalize = normalize

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        if cfg.hflip_p > 0:
            x = random_flip(x, cfg.hflip_p, self.gen)
        if cfg.crop_padding > 0:
            x = random_crop(x, cfg.crop_padding, self.gen)
        x = self.normalize(x)
        if cfg.erase_p > 0:
            x = random_erasing(
                x,
                cfg.erase_p,
                (cfg.erase_scale_min, cfg.erase_scale_max),
                (cfg.erase_ratio_min, cfg.erase_ratio_max),
                self.gen,
            )
        return x
