"""The Ray Tune function trainable: one trial = one ``Trainer``, one report per epoch.

    trainable = tune.with_parameters(train_cifar, data=bundle.training,
                                     settings=RunSettings(max_epochs=20, threads=1))

Each epoch ends in ``ray.tune.report(metrics, checkpoint=...)`` (or, with ``checkpoint_every``
k > 1, every k-th epoch; the others report metrics only); the checkpoint is the full trainer
state, so a trial restored from ``ray.tune.get_checkpoint()`` (after a failure, an interrupted
search or a PBT exploit) continues exactly where its last checkpoint stopped. A trial whose loss
becomes NaN or inf reports ``diverged=True`` once and stops. Each report also names the Ray
node that trained the epoch (``node_id``), so a cluster run shows where trials ran.

Under population-based training (``RunSettings.population``) a trial may be restarted from
another trial's checkpoint under a changed configuration; the checkpoint then carries the
trial's lineage, and every report names it (``lineage``: "ID@EPOCH ..." read as "from EPOCH
on, trained by trial ID"), so ``analyze`` can draw who copied whom, and when. A config that
carries a schedule (``tune_cifar.train.SCHEDULE_KEY``: ``tune-cifar confirm`` of such a
search) changes its configuration before the epochs the schedule names, as the population's
trial did.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ray
import torch
from ray import tune

from tune_cifar.config import TrialConfig
from tune_cifar.constants import (
    ANNOTATIONS,
    DIVERGED_FLAG,
    LINEAGE,
    MAX_EPOCHS,
    NICE,
    NODE_ID,
    STORAGE_FULL_ERROR,
)
from tune_cifar.data import TrainingData
from tune_cifar.errors import error_line, is_storage_full
from tune_cifar.hardware import set_niceness
from tune_cifar.metrics import format_lineage
from tune_cifar.train import Trainer, load_state, save_state, split_schedule


@dataclass(frozen=True)
class RunSettings:
    """How trials run (not hyperparameters): epochs, CPU threads, device."""

    max_epochs: int
    threads: int = 1
    device: str = "auto"
    cuda_graph: str = "auto"  # full batches as CUDA graph replays: auto (on CUDA), on, off
    checkpoint_every: int = 1  # epochs between checkpoints (the last epoch always has one)
    checkpoint_epochs: tuple[int, ...] = ()  # and these (where a scheduler may pause a trial)
    population: bool = False  # PBT / PB2: report each epoch's lineage
    nice: int | None = None  # the trial process's niceness (None: as Ray started it)


def train_cifar(config: dict[str, Any], data: TrainingData, settings: RunSettings) -> None:
    """Train one configuration, reporting every epoch and checkpointing every
    ``checkpoint_every`` epochs, at ``checkpoint_epochs``, at the last epoch, and when the loss
    diverges."""
    torch.set_num_threads(settings.threads)
    if settings.nice is not None:
        set_niceness(settings.nice)
    # (a searcher's annotations say how the configuration was chosen, not how it trains)
    first, schedule = split_schedule({k: v for k, v in config.items() if k not in ANNOTATIONS})
    trainer = Trainer(first, data, settings.max_epochs, settings.device, settings.cuda_graph)
    try:
        _train(trainer, settings, schedule)
    finally:  # Ray reuses this process for the next trial: give the device memory back now
        trainer.close()


def _trial_id() -> str:
    """This trial's id in Tune (outside a Ray worker, as in tests: "local")."""
    context = tune.get_context() if ray.is_initialized() else None
    return (context.get_trial_id() if context is not None else None) or "local"


def _train(trainer: Trainer, settings: RunSettings, schedule: dict[int, TrialConfig]) -> None:
    """The trial's epochs, from its checkpoint if Tune restored one (its own, or under PBT a
    stronger trial's, whose lineage it then extends), changing configuration where
    ``schedule`` says (a PBT schedule replayed)."""
    trial_id = _trial_id()
    lineage: list[list[Any]] = [[trial_id, 1]]
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            state = load_state(Path(folder))
        if len(schedule) > 1:  # a replayed schedule: on under the checkpoint epoch's config
            trainer.change_config(schedule[max(e for e in schedule if e <= state["epoch"])])
        trainer.load_state_dict(state)
        lineage = [list(x) for x in state.get(LINEAGE, lineage)]
        if lineage[-1][0] != trial_id:  # another trial's weights: copied at its epoch
            lineage.append([trial_id, trainer.epoch + 1])
    # Outside a Ray worker (tests call this function directly) there is no node to name.
    node_id = ray.get_runtime_context().get_node_id() if ray.is_initialized() else "local"
    extra = {LINEAGE: format_lineage(lineage)} if settings.population else {}
    while not trainer.finished:
        trainer.follow(schedule)
        metrics = {
            **trainer.run_epoch(),
            NODE_ID: node_id,
            NICE: os.nice(0),
            MAX_EPOCHS: settings.max_epochs,
            **extra,
        }
        if (
            trainer.epoch % settings.checkpoint_every == 0
            or trainer.finished
            or trainer.epoch in settings.checkpoint_epochs
            or metrics[DIVERGED_FLAG]
        ):
            with tempfile.TemporaryDirectory() as folder:
                save_state({**trainer.state_dict(), LINEAGE: lineage}, Path(folder))
                try:
                    tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))
                except OSError as exc:  # the storage is full: no retry spent, the search
                    if not is_storage_full(exc):  # stops in order (tuning/_stopping.py)
                        raise
                    tune.report({**metrics, STORAGE_FULL_ERROR: error_line(exc)})
        else:
            tune.report(metrics)
        if metrics[DIVERGED_FLAG]:
            return
