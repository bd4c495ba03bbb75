"""Bring a trained model back: from an experiment's best checkpoint or any checkpoint folder.

    model = load_model(resolve_checkpoint(Path("~/tune-cifar-results/quick-...")))
    result = evaluate_checkpoint(Path(exp_or_checkpoint), split="test")
    rows = predict_images(Path(exp_or_checkpoint), [Path("cat.png")])

The config travels inside the checkpoint, so the model is rebuilt from the checkpoint alone.
The data for ``evaluate`` comes from the experiment's spec file when the checkpoint lies in an
experiment folder (so ``--split val`` is the same validation set the trial saw), else from the
data flags the caller passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from tune_cifar.config import TrialConfig
from tune_cifar.constants import SPEC_FILE, STATE_FILE
from tune_cifar.data import CLASSES, DataSpec, load_data
from tune_cifar.errors import UsageError
from tune_cifar.results._best import BestTrial, best_trial
from tune_cifar.results._spec import find_experiment, read_spec
from tune_cifar.storage import fetch_checkpoint
from tune_cifar.train import (
    CifarCNN,
    Normalizer,
    build_model,
    load_state,
    pick_device,
    predict_logits,
)


def best_checkpoint(best: BestTrial | None, experiment: Path) -> Path:
    """The kept checkpoint of an experiment's best trial, or the one line saying why not."""
    if best is None:
        raise UsageError(f"experiment {experiment} has no trial with a result yet")
    if best.checkpoint is None:
        raise UsageError(f"the checkpoint of trial {best.trial_id} epoch {best.epoch} was not kept")
    return best.checkpoint


def resolve_checkpoint(target: Path, scope: str = "best") -> Path:
    """An experiment folder -> its best trial's checkpoint; a checkpoint path -> itself."""
    target = Path(target).expanduser()
    if not target.exists():
        raise UsageError(f"{target} does not exist")
    if (target / SPEC_FILE).is_file():
        return best_checkpoint(best_trial(target, scope=scope), target)
    fetch_checkpoint(target)  # a checkpoint of an experiment in object storage comes down now
    if target.is_dir() and not (target / STATE_FILE).is_file():
        raise UsageError(
            f"{target} is neither a tune-cifar experiment (no {SPEC_FILE}) nor a "
            f"checkpoint folder (no {STATE_FILE})"
        )
    return target


@dataclass
class RestoredModel:
    model: CifarCNN
    config: TrialConfig
    epoch: int
    history: list[dict[str, Any]]
    checkpoint: Path

    def probabilities(self, images: torch.Tensor, tta: bool | None = None) -> torch.Tensor:
        """Class probabilities (N, 10) for uint8 images (N, 3, 32, 32); with flip averaging
        if ``tta`` (by default: as the configuration was validated)."""
        normalize = Normalizer(self.config.normalize, next(self.model.parameters()).device)
        tta = self.config.tta if tta is None else tta
        return predict_logits(self.model, images, normalize, tta).softmax(1).cpu()


def load_model(checkpoint: Path, device: str = "cpu") -> RestoredModel:
    state = load_state(fetch_checkpoint(checkpoint))
    config = TrialConfig.from_dict(state["config"])
    model = build_model(config)
    model.load_state_dict(state["model"])
    model.to(pick_device(device)).eval()
    return RestoredModel(
        model, config, int(state["epoch"]), list(state["history"]), Path(checkpoint)
    )


@dataclass
class Evaluation:
    split: str
    accuracy: float
    per_class: dict[str, float]
    confusion: np.ndarray  # [true class, predicted class] counts
    images: np.ndarray
    labels: np.ndarray
    probabilities: np.ndarray
    restored: RestoredModel
    data_note: str
    tta: bool = False  # flip averaging at evaluation


def evaluation_data(target: Path, data_spec: DataSpec | None) -> tuple[DataSpec, str]:
    experiment = find_experiment(target)
    if data_spec is not None:
        return data_spec, "data from the command's flags"
    if experiment is None:
        raise UsageError(
            f"{target} is not inside an experiment: pass the data flags "
            "(--data, --data-dir, ...) to say what to evaluate on"
        )
    spec = DataSpec(**read_spec(experiment)["data"])
    return spec, f"data as in experiment {experiment.name}"


def evaluate_checkpoint(
    target: Path,
    split: str = "test",
    data_spec: DataSpec | None = None,
    scope: str = "best",
    device: str = "cpu",
    tta: bool | None = None,
) -> Evaluation:
    if split not in ("test", "val"):
        raise UsageError(f"--split must be test or val, not {split!r}")
    checkpoint = resolve_checkpoint(target, scope)
    restored = load_model(checkpoint, device)
    spec, note = evaluation_data(Path(target), data_spec)
    bundle = load_data(spec)
    if split == "val":
        images, labels = bundle.training.val_x, bundle.training.val_y
    else:
        images, labels = bundle.test_x, bundle.test_y
    tta = restored.config.tta if tta is None else tta
    probs = restored.probabilities(torch.from_numpy(np.ascontiguousarray(images)), tta).numpy()
    predicted = probs.argmax(1)
    confusion = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    per_class = {
        c: float(confusion[i, i] / max(confusion[i].sum(), 1)) for i, c in enumerate(CLASSES)
    }
    return Evaluation(
        split,
        float((predicted == labels).mean()),
        per_class,
        confusion,
        images,
        labels,
        probs,
        restored,
        f"{note}: {bundle.describe()}",
        tta,
    )


def load_images(paths: list[Path]) -> tuple[torch.Tensor, list[str]]:
    """Image files as uint8 (N, 3, 32, 32); notes say which were resized from what size."""
    arrays, notes = [], []
    for path in paths:
        try:
            with Image.open(path) as img:
                rgb = img.convert("RGB")
        except FileNotFoundError:
            raise UsageError(f"image {path} does not exist") from None
        except (UnidentifiedImageError, OSError) as exc:
            raise UsageError(f"{path} is not an image file ({type(exc).__name__})") from None
        if rgb.size != (32, 32):
            notes.append(f"{path}: resized from {rgb.size[0]}x{rgb.size[1]} to 32x32")
            rgb = rgb.resize((32, 32), Image.Resampling.BILINEAR)
        arrays.append(np.asarray(rgb).transpose(2, 0, 1))
    return torch.from_numpy(np.stack(arrays)), notes


def predict_images(
    target: Path, paths: list[Path], scope: str = "best", device: str = "cpu"
) -> tuple[list[dict[str, Any]], list[str], Path]:
    """Per image: file, predicted class and every class probability; plus notes, checkpoint."""
    images, notes = load_images(paths)
    checkpoint = resolve_checkpoint(target, scope)
    probs = load_model(checkpoint, device).probabilities(images).numpy()
    rows = [
        {
            "file": str(path),
            "predicted": CLASSES[int(p.argmax())],
            "probabilities": {c: float(v) for c, v in zip(CLASSES, p, strict=True)},
        }
        for path, p in zip(paths, probs, strict=True)
    ]
    return rows, notes, checkpoint
