"""Batched augmentation against torchvision's per-image transforms."""

import math

import numpy as np
import pytest
import torch
from torchvision import transforms

from tune_cifar.config import TrialConfig
from tune_cifar.train import Augmenter
from tune_cifar.train._augment import erasing_boxes, random_crop, random_erasing, random_flip

SCALE, RATIO = (0.02, 0.33), (0.3, 3.3)


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov distance between empirical CDFs."""
    grid = np.union1d(a, b)
    cdf_a = np.searchsorted(np.sort(a), grid, side="right") / len(a)
    cdf_b = np.searchsorted(np.sort(b), grid, side="right") / len(b)
    return float(np.max(np.abs(cdf_a - cdf_b)))


def torchvision_boxes(n: int, p: float, scale, ratio) -> tuple[np.ndarray, np.ndarray]:
    """(erased?, h, w) per image, as torchvision's RandomErasing decides them."""
    torch.manual_seed(0)
    img = torch.zeros(3, 32, 32)
    erased, hw = [], []
    for _ in range(n):
        if torch.rand(1) >= p:
            erased.append(False)
            continue
        _i, _j, h, w, _ = transforms.RandomErasing.get_params(
            img, scale=scale, ratio=ratio, value=[0]
        )
        did = (h, w) != (32, 32)
        erased.append(did)
        if did:
            hw.append((h, w))
    return np.array(erased), np.array(hw)


@pytest.mark.parametrize(("scale", "ratio"), [(SCALE, RATIO), ((0.3, 0.9), (0.2, 5.0))])
def test_erasing_matches_torchvision_distributions(scale, ratio):
    n = 20000
    tv_erased, tv_hw = torchvision_boxes(n, 0.5, scale, ratio)
    gen = torch.Generator().manual_seed(0)
    erase, top, left, h, w = erasing_boxes(n, 32, 32, 0.5, scale, ratio, gen, torch.device("cpu"))
    ours_hw = torch.stack([h[erase], w[erase]], 1).numpy()
    # erase rate: p times the chance that one of 10 attempts fits (binomial tolerance)
    se = math.sqrt(0.25 / n) * 2
    assert abs(erase.float().mean().item() - tv_erased.mean()) < 4 * se
    area_ours, area_tv = ours_hw.prod(1) / 1024, tv_hw.prod(1) / 1024
    aspect_ours = np.log(ours_hw[:, 0] / ours_hw[:, 1])
    aspect_tv = np.log(tv_hw[:, 0] / tv_hw[:, 1])
    assert ks_statistic(area_ours, area_tv) < 0.03
    assert ks_statistic(aspect_ours, aspect_tv) < 0.03
    assert (top[erase] + h[erase]).max() <= 32 and (left[erase] + w[erase]).max() <= 32
    # positions are uniform over the valid range, as torch.randint(0, H - h + 1)
    rel = (top[erase].float() / (32 - h[erase] + 1).float()).numpy()
    assert abs(rel.mean() - 0.5 * (1 - np.mean(1 / (33 - ours_hw[:, 0])))) < 0.01


def test_erasing_sets_exactly_the_box_to_zero():
    x = torch.ones(64, 3, 32, 32)
    out = random_erasing(x, 1.0, SCALE, RATIO, torch.Generator().manual_seed(1))
    zero_fraction = (out == 0).float().mean(dim=(1, 2, 3))
    assert torch.all(zero_fraction > 0) and torch.all(zero_fraction <= 0.34 + 1e-6)
    for img in out:
        rows = (img[0] == 0).any(1).nonzero().flatten()
        cols = (img[0] == 0).any(0).nonzero().flatten()
        box = img[:, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        assert torch.all(box == 0)  # a solid rectangle, in every channel


def test_flip_rate_and_content():
    x = torch.arange(8 * 3 * 4 * 4, dtype=torch.float).view(8, 3, 4, 4).repeat(500, 1, 1, 1)
    out = random_flip(x, 0.5, torch.Generator().manual_seed(0))
    flipped = (out == x.flip(3)).flatten(1).all(1)
    kept = (out == x).flatten(1).all(1)
    assert torch.all(flipped | kept)
    assert abs(flipped.float().mean().item() - 0.5) < 0.03


def test_crop_is_a_shifted_window_of_the_zero_padded_image():
    x = torch.rand(200, 3, 32, 32)
    out = random_crop(x, 4, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(0, 200, 17):
        matches = [
            (dy, dx)
            for dy in range(9)
            for dx in range(9)
            if torch.equal(padded[i, :, dy : dy + 32, dx : dx + 32], out[i])
        ]
        assert matches
    assert (out == 0).any()  # some crops show the black padding


def test_augmenter_is_reproducible_and_changes_the_images():
    cfg = TrialConfig.from_dict({"crop_padding": 2})  # flip 0.5, crop, erasing 0.5

    def normalize(t):
        return (t - 0.5) / 0.5

    x = torch.rand(64, 3, 32, 32)
    outs = [Augmenter(cfg, torch.Generator().manual_seed(seed), normalize)(x) for seed in (7, 7, 8)]
    torch.testing.assert_close(outs[0], outs[1])  # the same stream gives the same batch
    assert not torch.equal(outs[0], outs[2])  # another stream, other flips, crops and boxes
    # An image comes out unchanged only without flip, crop shift and erasing: p = 0.5/25/2.
    changed = (outs[0] != normalize(x)).flatten(1).any(1)
    assert changed.float().mean() > 0.9
    assert outs[0].min() >= -1 and outs[0].max() <= 1
    plain = TrialConfig.from_dict({"hflip_p": 0.0, "erase_p": 0.0})
    torch.testing.assert_close(Augmenter(plain, torch.Generator(), normalize)(x), normalize(x))
