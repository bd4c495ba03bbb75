"""Pictures of one evaluated model: confusion matrix and the seed's 50-image grid.

write_evaluation_plots(evaluation, out)  ->  confusion_matrix.png, predictions.png
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tune_cifar.analysis._backend import plt
from tune_cifar.constants import EVALUATION_PLOT_FILES
from tune_cifar.data import CLASSES
from tune_cifar.results import Evaluation

GRID_IMAGES = 50


def plot_confusion(ev: Evaluation, path: Path) -> Path:
    rates = ev.confusion / np.maximum(ev.confusion.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(8.5, 7.5))
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(CLASSES)):
        for j in range(len(CLASSES)):
            ax.text(
                j,
                i,
                str(ev.confusion[i, j]),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if rates[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(len(CLASSES)), CLASSES, rotation=45, ha="right")
    ax.set_yticks(range(len(CLASSES)), CLASSES)
    ax.set(
        xlabel="predicted class",
        ylabel="true class",
        title=f"Confusion matrix on the {ev.split} split ({len(ev.labels)} images, "
        f"accuracy {ev.accuracy:.4f})",
    )
    fig.colorbar(image, ax=ax, label="fraction of the true class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_predictions(ev: Evaluation, path: Path) -> Path:
    """The first 50 images with true and predicted labels; wrong predictions in red."""
    n = min(GRID_IMAGES, len(ev.labels))
    fig, axes = plt.subplots(5, 10, figsize=(15, 8.6))
    predicted = ev.probabilities.argmax(1)
    for k, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if k >= n:
            continue
        ax.imshow(ev.images[k].transpose(1, 2, 0))
        wrong = predicted[k] != ev.labels[k]
        ax.set_title(
            f"{CLASSES[ev.labels[k]]}:{CLASSES[predicted[k]]}",
            fontsize=9,
            color="red" if wrong else "black",
        )
    wrong_count = int((predicted[:n] != ev.labels[:n]).sum())
    fig.suptitle(
        f"First {n} {ev.split} images, true:predicted ({wrong_count} wrong, in red)", fontsize=12
    )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_evaluation_plots(ev: Evaluation, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    confusion, predictions = (out / name for name in EVALUATION_PLOT_FILES)
    return [plot_confusion(ev, confusion), plot_predictions(ev, predictions)]
