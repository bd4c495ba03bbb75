"""A generated, learnable stand-in for CIFAR-10, for unit tests.

Each class has a fixed smooth colour pattern; an image is its class pattern, randomly
shifted, plus noise. A small CNN learns it within an epoch or two, so tests can check that
training really learns without reading any files.
"""

from __future__ import annotations

import numpy as np


def make_synthetic(
    num_images: int, seed: int = 0, num_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """``num_images`` uint8 images (N, 3, 32, 32) with balanced int64 labels."""
    import torch  # here, not at the top: reading real data needs no torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(1234)  # the class patterns are the same in every split
    coarse = torch.rand(num_classes, 3, 4, 4, generator=gen)
    patterns = F.interpolate(coarse, size=(32, 32), mode="bilinear", align_corners=False)
    rng = np.random.default_rng(seed)
    labels = np.arange(num_images) % num_classes
    rng.shuffle(labels)
    shifts = rng.integers(-3, 4, size=(num_images, 2))
    noise = rng.normal(0.0, 0.12, size=(num_images, 3, 32, 32))
    images = patterns.numpy()[labels]
    for i, (dy, dx) in enumerate(shifts):
        images[i] = np.roll(images[i], (int(dy), int(dx)), axis=(1, 2))
    images = np.clip(images + noise, 0.0, 1.0)
    return (images * 255).round().astype(np.uint8), labels.astype(np.int64)
