"""The per-trial hyperparameters: every allowed key, its range and default, in one table.

A trial's config is one flat dict (what a search space samples). ``TrialConfig.from_dict``
validates it into a frozen dataclass before any trial starts; a bad key, value or range is a
``UsageError`` with one line naming the key. ``model`` picks a preset (the seed's CNN_v2,
CNN_v3 or CNN_v4) that fills in batch norm and the dropout rates; explicit keys override it.

    >>> cfg = TrialConfig.from_dict({"model": "cnn_v3", "optimizer": "sgd", "lr": 0.01})
    >>> cfg.dropout1, cfg.batch_norm
    (0.2, False)

``python -m tune_cifar.config`` (or ``tune-cifar keys``) prints the table.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from tune_cifar.errors import UsageError

CUDA_GRAPH_CHOICES = ("auto", "on", "off")  # full batches by CUDA graph replay? (training)


@dataclass(frozen=True)
class Key:
    """One allowed hyperparameter: its type, default, allowed values or range, and meaning."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None

    @property
    def bounds(self) -> tuple[float, float]:
        """(low, high) of a numeric key."""
        if self.low is None or self.high is None:
            raise TypeError(f"config key '{self.name}' has no numeric range")
        return self.low, self.high

    def describe_range(self) -> str:
        if self.choices is not None:
            return " / ".join(str(c) for c in self.choices)
        if self.type is bool:
            return "true / false"
        low, high = self.bounds
        return f"[{int(low)}, {int(high)}]" if self.type is int else f"[{low:g}, {high:g}]"

    def check(self, value: Any) -> Any:
        """Return ``value`` coerced to this key's type, or raise a one-line UsageError."""
        if self.type is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise UsageError(f"config key '{self.name}': {value!r} is not true/false")
            return bool(value)
        if self.type is str:
            if value not in (self.choices or ()):
                raise UsageError(
                    f"config key '{self.name}': {value!r} is not one of {self.describe_range()}"
                )
            return value
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise UsageError(f"config key '{self.name}': {value!r} is not a number")
        number, (low, high) = float(value), self.bounds
        if not math.isfinite(number) or not low <= number <= high:
            raise UsageError(
                f"config key '{self.name}': {value!r} is outside {self.describe_range()}"
            )
        if self.type is int and number != int(number):
            raise UsageError(f"config key '{self.name}': {value!r} is not a whole number")
        return self.type(value)


PRESETS: dict[str, dict[str, Any]] = {
    # The seed's models: CNN_v2 plain, CNN_v3 + dropout, CNN_v4 + dropout + batch norm.
    "cnn_v2": {
        "batch_norm": False,
        "dropout1": 0.0,
        "dropout2": 0.0,
        "dropout3": 0.0,
        "dropout4": 0.0,
    },
    "cnn_v3": {
        "batch_norm": False,
        "dropout1": 0.2,
        "dropout2": 0.3,
        "dropout3": 0.4,
        "dropout4": 0.4,
    },
    "cnn_v4": {
        "batch_norm": True,
        "dropout1": 0.2,
        "dropout2": 0.3,
        "dropout3": 0.4,
        "dropout4": 0.4,
    },
}


def hparam(
    default: Any,
    help: str,
    choices: tuple[Any, ...] | None = None,
    low: float | None = None,
    high: float | None = None,
) -> Any:
    """A TrialConfig field: its default, and the meaning and range that ``KEYS`` reads back."""
    return field(
        default=default, metadata={"help": help, "choices": choices, "low": low, "high": high}
    )


@dataclass(frozen=True)
class TrialConfig:
    """A validated trial configuration: the one place every key, default, range and meaning
    is written (``KEYS`` and ``tune-cifar keys`` read them from here). Defaults are the seed's
    best run (CNN_v4, Adam, flip + RandomErasing, batch 100)."""

    model: str = hparam(
        "cnn_v4",
        "preset that sets batch_norm and dropout1-4 (the seed's models)",
        choices=tuple(PRESETS),
    )
    batch_norm: bool = hparam(True, "BatchNorm2d after every conv")
    dropout1: float = hparam(0.2, "dropout probability after the first max-pool", low=0.0, high=0.9)
    dropout2: float = hparam(
        0.3, "dropout probability after the second max-pool", low=0.0, high=0.9
    )
    dropout3: float = hparam(0.4, "dropout probability after the third max-pool", low=0.0, high=0.9)
    dropout4: float = hparam(
        0.4, "dropout probability before the last linear layer", low=0.0, high=0.9
    )
    width: float = hparam(
        1.0, "channel multiplier (1.0 = 32/64/128 channels, 128 hidden units)", low=0.25, high=4.0
    )
    optimizer: str = hparam("adam", "optimizer", choices=("sgd", "adam", "adamw"))
    lr: float = hparam(1e-3, "peak learning rate (per step)", low=1e-6, high=10.0)
    momentum: float = hparam(0.9, "SGD momentum (ignored by adam/adamw)", low=0.0, high=0.999)
    nesterov: bool = hparam(False, "Nesterov momentum (used by sgd with momentum > 0 only)")
    weight_decay: float = hparam(
        0.0, "L2 weight decay per step (decoupled for adamw)", low=0.0, high=0.1
    )
    batch_size: int = hparam(100, "training batch size (images per step)", low=8, high=4096)
    lr_ref_batch: int = hparam(
        0,
        "if > 0, lr is per this many images and scales linearly with "
        "batch_size (peak lr = lr * batch_size / lr_ref_batch; 0 = off)",
        low=0,
        high=4096,
    )
    lr_schedule: str = hparam(
        "constant",
        "learning-rate schedule, stepped per batch",
        choices=("constant", "cosine", "onecycle"),
    )
    label_smoothing: float = hparam(
        0.0, "cross-entropy label smoothing (probability mass)", low=0.0, high=0.5
    )
    hflip_p: float = hparam(0.5, "probability of a horizontal flip", low=0.0, high=1.0)
    crop_padding: int = hparam(
        0, "random crop after zero padding by this many pixels (0 = off)", low=0, high=8
    )
    erase_p: float = hparam(
        0.5, "RandomErasing probability (value 0, after normalising)", low=0.0, high=1.0
    )
    erase_scale_min: float = hparam(
        0.02, "RandomErasing smallest erased area (fraction of the image)", low=0.001, high=1.0
    )
    erase_scale_max: float = hparam(
        0.33, "RandomErasing largest erased area (fraction of the image)", low=0.001, high=1.0
    )
    erase_ratio_min: float = hparam(
        0.3, "RandomErasing smallest aspect ratio (height / width)", low=0.05, high=20.0
    )
    erase_ratio_max: float = hparam(
        3.3, "RandomErasing largest aspect ratio (height / width)", low=0.05, high=20.0
    )
    tta: bool = hparam(
        False,
        "evaluate with horizontal-flip averaging (mean of the logits of an "
        "image and of its mirror image)",
    )
    normalize: str = hparam(
        "half",
        "input normalisation: the seed's (0.5, 0.5) or CIFAR per-channel mean/std",
        choices=("half", "cifar"),
    )
    seed: int = hparam(
        0, "per-trial seed for weights, shuffling, augmentation and dropout", low=0, high=2**31 - 1
    )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> TrialConfig:
        """Validate a flat dict; unknown keys, bad values and inverted ranges raise UsageError."""
        unknown = sorted(set(raw) - set(KEYS_BY_NAME))
        if unknown:
            raise UsageError(
                f"unknown config key(s) {', '.join(unknown)}; allowed: {', '.join(KEYS_BY_NAME)}"
            )
        values = {k.name: k.default for k in KEYS}
        model = KEYS_BY_NAME["model"].check(raw.get("model", values["model"]))
        values.update(PRESETS[model])
        for name, value in raw.items():
            values[name] = KEYS_BY_NAME[name].check(value)
        cfg = cls(**values)
        cfg._check_consistency()
        return cfg

    def _check_consistency(self) -> None:
        for stem in ("erase_scale", "erase_ratio"):
            low, high = getattr(self, f"{stem}_min"), getattr(self, f"{stem}_max")
            if low > high:
                raise UsageError(f"config: {stem}_min {low} > {stem}_max {high}")
        lr_key = KEYS_BY_NAME["lr"]
        if self.peak_lr > lr_key.bounds[1]:
            raise UsageError(
                f"config: lr {self.lr:g} scaled to batch_size {self.batch_size} "
                f"(lr_ref_batch {self.lr_ref_batch}) is {self.peak_lr:g}, above "
                f"{lr_key.bounds[1]:g}"
            )

    @property
    def peak_lr(self) -> float:
        """The learning rate the optimizer peaks at: ``lr``, scaled linearly to the batch size
        when ``lr_ref_batch`` is set (Goyal et al. 2017, arXiv:1706.02677)."""
        return self.lr * self.batch_size / self.lr_ref_batch if self.lr_ref_batch else self.lr

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# What may change while a trial trains (a PBT / PB2 mutation): the optimizer's settings, the
# dropout rates, label smoothing and the augmentation probabilities. The rest fixes the
# weights' shapes (model, width, batch_norm), the optimizer's kind and state (optimizer,
# nesterov), the steps per epoch (batch_size) or the schedule's shape, and cannot.
MUTABLE_KEYS = (
    "lr",
    "momentum",
    "weight_decay",
    "dropout1",
    "dropout2",
    "dropout3",
    "dropout4",
    "label_smoothing",
    "hflip_p",
    "erase_p",
)


def check_mutable(keys: Sequence[str]) -> None:
    """Raise a one-line UsageError if any of ``keys`` is no key, or cannot change
    mid-training."""
    unknown = [k for k in keys if k not in KEYS_BY_NAME]
    if unknown:
        raise UsageError(
            f"unknown config key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}"
            f"; mutable keys: {', '.join(MUTABLE_KEYS)}"
        )
    fixed = [k for k in keys if k not in MUTABLE_KEYS]
    if fixed:
        raise UsageError(
            f"{', '.join(fixed)} cannot change while a trial trains (the weights, "
            "the optimizer's state or the schedule depend on it); mutable keys: "
            f"{', '.join(MUTABLE_KEYS)}"
        )


_TYPES = {"bool": bool, "int": int, "float": float, "str": str}
# The table of keys, read from TrialConfig's fields (annotations are strings here, as
# ``from __future__ import annotations`` leaves them).
KEYS: tuple[Key, ...] = tuple(
    Key(f.name, _TYPES[str(f.type)], f.default, **f.metadata) for f in fields(TrialConfig)
)
KEYS_BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}


def check_space_value(name: str, value: Any) -> None:
    """Check one value a search space may produce for ``name`` (raises UsageError)."""
    if name not in KEYS_BY_NAME:
        raise UsageError(f"unknown config key '{name}'; allowed: {', '.join(KEYS_BY_NAME)}")
    KEYS_BY_NAME[name].check(value)


def check_space_range(name: str, low: float, high: float) -> None:
    """Check that a numeric search range ``[low, high]`` for ``name`` lies inside its bounds."""
    if name not in KEYS_BY_NAME:
        raise UsageError(f"unknown config key '{name}'; allowed: {', '.join(KEYS_BY_NAME)}")
    key = KEYS_BY_NAME[name]
    if key.low is None:
        raise UsageError(f"config key '{name}' takes {key.describe_range()}, not a numeric range")
    if low < key.bounds[0] or high > key.bounds[1]:
        raise UsageError(
            f"config key '{name}': search range [{low:g}, {high:g}] is outside "
            f"{key.describe_range()}"
        )


def format_keys_table(keys: Sequence[Key] = KEYS) -> str:
    """The table of keys as Markdown (used by ``tune-cifar keys`` and the README)."""
    lines = ["| key | type | default | allowed | meaning |", "|---|---|---|---|---|"]
    for k in keys:
        mutable = " (mutable: PBT may change it mid-training)" if k.name in MUTABLE_KEYS else ""
        lines.append(
            f"| `{k.name}` | {k.type.__name__} | {k.default} | {k.describe_range()} | "
            f"{k.help}{mutable} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(format_keys_table())
