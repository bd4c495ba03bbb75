"""What a trial reports and how it is judged: one place for each fact that the trainer, the
search, the live view, the Optuna journal and the results all use.

    METRIC, MODE          what searches optimize, ASHA compares and "best" means
    EPOCH_METRICS         every epoch's metrics (and the TensorBoard tag of each)
    COSTS                 what a multi-objective search minimises beside METRIC
    ended_status(...)     done / stopped early / diverged, for a trial that ended
    trial_epochs(...)     the trial-epochs a search has spent
    asha_rungs(...)       the epochs at which ASHA (either scheduler) compares trials
    RUNG_SCHEDULERS, POPULATION_SCHEDULERS   the schedulers with rungs, those that mutate
    format/parse_lineage  PBT: whose weights a trial's epochs continued (``constants.LINEAGE``)

Imports nothing of tune-cifar: both sides of the experiment folder (the search that writes it,
the results that read it) may use it. The names of the keys besides the metrics, and of every
file, are in ``tune_cifar.constants``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

METRIC, MODE = "val_acc", "max"

# Every epoch's metrics as the trainer reports them (besides "epoch", "diverged" and
# "train_step"), each with the TensorBoard tag it is written under (TensorBoard puts tags
# with the same prefix on one card: the training and validation curves side by side).
EPOCH_METRICS: dict[str, str] = {
    "train_loss": "loss/train",
    "train_acc": "accuracy/train",
    "val_loss": "loss/validation",
    "val_acc": "accuracy/validation",
    "lr": "optimizer/learning_rate",
    "epoch_time_s": "speed/epoch_time_s",
    "images_per_s": "speed/train_images_per_s",
    "params": "model/parameters",
    "inference_ms": "speed/inference_ms_per_image",
}

# The metrics that time the machine, not the training: they differ between two runs of the
# same configuration and seed, whose every other metric is equal.
TIMINGS = ("epoch_time_s", "images_per_s", "inference_ms")

# What a search may minimise beside METRIC (``--objective val_acc,COST``), and the reported
# metric each is read from at a trial's best epoch: the model's parameter count, its epoch's
# wall time (training and validation), and its validation pass in milliseconds per image
# (batched, in eval mode, measured the same way for every trial).
COSTS: dict[str, str] = {
    "params": "params",
    "epoch_time": "epoch_time_s",
    "inference_ms": "inference_ms",
}

# A trial's status, as every command names it.
DONE, STOPPED_EARLY, DIVERGED, ERRORED, UNFINISHED = (
    "done",
    "stopped early",
    "diverged",
    "errored",
    "unfinished",
)


def ended_status(epochs_run: int, max_epochs: int, diverged: bool) -> str:
    """The status of a trial that ended without an error: diverged (its loss became NaN or
    inf), done (it trained every epoch), or stopped early (by ASHA or a budget)."""
    if diverged:
        return DIVERGED
    return DONE if epochs_run >= max_epochs else STOPPED_EARLY


def trial_epochs(epochs_run: Iterable[int]) -> int:
    """The trial-epochs spent by trials that ran these many epochs each (the unit the seed
    study's 340 epochs are counted in; an epoch re-run after a resume counts once)."""
    return sum(epochs_run)


# Under PBT / PB2 each report names the trial's lineage (``constants.LINEAGE``): "A@1 X@5" reads
# "epochs 1-4 trained by trial A, from epoch 5 on by trial X" (X continued A's checkpoint of
# epoch 4).


def format_lineage(lineage: Sequence[Sequence[Any]]) -> str:
    """[[trial id, first epoch], ...] as reported: "a_00001@1 a_00003@5"."""
    return " ".join(f"{trial}@{epoch}" for trial, epoch in lineage)


def parse_lineage(text: str) -> list[tuple[str, int]]:
    """The reported lineage back as (trial id, first epoch it trained) pairs; ValueError for
    text that is not "ID@EPOCH ..." with whole epochs."""
    pairs = [part.rsplit("@", 1) for part in str(text).split()]
    if not pairs or any(len(p) != 2 or not p[0] or not p[1].isdigit() for p in pairs):
        raise ValueError(f"not a lineage: {text!r}")
    return [(trial, int(epoch)) for trial, epoch in pairs]


RUNG_SCHEDULERS = ("asha", "asha-promote")  # they compare trials at the epochs asha_rungs says
POPULATION_SCHEDULERS = ("pbt", "pb2")  # they restart trials from others' checkpoints, mutated


def asha_rungs(grace_period: int, reduction_factor: int, max_epochs: int) -> list[int]:
    """The epochs at which ASHA compares trials: grace_period x reduction_factor^k below
    max_epochs (Ray's ASHAScheduler with one bracket; a rung at max_epochs would compare
    trials that end there anyway)."""
    rungs, rung = [], grace_period
    while rung < max_epochs:
        rungs.append(rung)
        rung *= reduction_factor
    return rungs


def fidelities(grace_period: int, reduction_factor: int, max_epochs: int) -> list[int]:
    """The rungs of successive halving, in epochs: ASHA's rungs and the full budget."""
    return [*asha_rungs(grace_period, reduction_factor, max_epochs), max_epochs]


def sh_bracket_cost(rungs: list[int], eta: int) -> int:
    """Epochs one successive-halving bracket spends: eta^(R-r) configurations at rung r, each
    continued from rung r-1 (so costing the epochs between them); PriorBand samples around
    its incumbent only after this much (``--search priorband``)."""
    top = len(rungs) - 1
    return sum(
        eta ** (top - r) * (rungs[r] - (rungs[r - 1] if r else 0)) for r in range(len(rungs))
    )
