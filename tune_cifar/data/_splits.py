"""Seeded, class-balanced index selection: the validation holdout and training subsets."""

from __future__ import annotations

import numpy as np

from tune_cifar.errors import UsageError


def balanced_pick(labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Indices of ``count`` items, as evenly spread over the classes as counts allow.

    The same labels, count and seed always give the same indices (sorted).
    """
    if count <= 0:
        raise UsageError(f"cannot pick {count} images: the count must be positive")
    if count > len(labels):
        raise UsageError(f"cannot pick {count} images from {len(labels)}")
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per_class = {c: rng.permutation(np.flatnonzero(labels == c)) for c in classes}
    # count = q * classes + r: every class gives q images, r classes drawn at random one more.
    quota = {c: count // len(classes) for c in classes}
    for c in rng.permutation(classes)[: count % len(classes)]:
        quota[c] += 1
    short = [c for c in classes if quota[c] > len(per_class[c])]
    if short:
        raise UsageError(
            f"cannot pick {count} class-balanced images: class {short[0]} has "
            f"only {len(per_class[short[0]])}"
        )
    return np.sort(np.concatenate([per_class[c][: quota[c]] for c in classes]))


def holdout_split(labels: np.ndarray, val_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, validation indices): a class-balanced holdout of ``val_size`` images."""
    val_idx = balanced_pick(labels, val_size, seed)
    train_mask = np.ones(len(labels), dtype=bool)
    train_mask[val_idx] = False
    return np.flatnonzero(train_mask), val_idx
