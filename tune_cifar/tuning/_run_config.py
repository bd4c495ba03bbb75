"""The trainable with its data and resources, and the run config: storage, checkpoint
retention, retries, budgets and the callbacks (live view, journal, result files,
TensorBoard).

    tuner = tune.Tuner(make_trainable(bundle, opts, cpus, gpus), param_space=...,
                       tune_config=..., run_config=run_config(opts, place, folder, space, trials))
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from ray.tune import Stopper

from tune_cifar.constants import LINEAGE, TRAINING_ITERATION, TRIAL_PREFIX
from tune_cifar.data import DataBundle
from tune_cifar.metrics import METRIC, MODE, trial_epochs
from tune_cifar.results import cost_metric, epochs_trained, load_trials, read_spec, study_attrs
from tune_cifar.storage import Place, local_copy, storage_place
from tune_cifar.trial import RunSettings, train_cifar
from tune_cifar.tuning._options import SearchOptions
from tune_cifar.tuning._spaces import SearchSpace, space_distributions
from tune_cifar.tuning._stopping import StopWatch
from tune_cifar.tuning.callbacks import (
    JournalCallback,
    KeepResultFiles,
    LiveView,
    ReadableTensorBoard,
    TrimEndedTrials,
)


def trial_dirname(trial: Any) -> str:
    """Short trial folder names (Tune's default spells out the whole config)."""
    return f"{TRIAL_PREFIX}{trial.trial_id}"


def make_trainable(bundle: DataBundle, opts: SearchOptions, cpus: int, gpus: float) -> Any:
    """``train_cifar`` with the data in Ray's object store (once, not per trial) and its
    resources attached."""
    from ray import tune

    settings = RunSettings(
        max_epochs=opts.max_epochs,
        threads=cpus,
        device="cuda" if gpus > 0 else "cpu",
        cuda_graph=opts.cuda_graph,
        checkpoint_every=opts.checkpoint_interval,
        checkpoint_epochs=opts.pause_epochs,
        population=opts.population,
        nice=opts.trial_niceness(),
    )
    return tune.with_resources(
        tune.with_parameters(train_cifar, data=bundle.training, settings=settings),
        {"cpu": cpus, "gpu": gpus},
    )


class EpochBudget(Stopper):
    """A Tune stopper that ends the search once its trials have reported ``budget`` epochs in
    all (trial-epochs, the unit the seed study's 340 epochs are counted in). The epochs of a
    resumed search's earlier trials are read from the experiment folder first (``location``:
    its path or URI; Tune pickles its stopper, and a resume may run on another machine)."""

    def __init__(self, budget: int, location: str | Path) -> None:
        self.budget = budget
        self.location = str(location)
        self.epochs: dict[str, int] | None = None  # trial id -> epochs reported

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        if self.epochs is None:
            folder = local_copy(storage_place(self.location))
            self.epochs = {t.trial_id: epochs_trained(t) for t in load_trials(folder)}
        if LINEAGE in result:  # PBT: each report is an epoch trained (again, after a copy)
            self.epochs[trial_id] = self.epochs.get(trial_id, 0) + 1
        else:
            self.epochs[trial_id] = max(
                self.epochs.get(trial_id, 0), int(result.get(TRAINING_ITERATION, 0))
            )
        return False

    def stop_all(self) -> bool:
        return self.epochs is not None and trial_epochs(self.epochs.values()) >= self.budget


def planned_epochs(opts: SearchOptions, trials: int) -> int | None:
    """The most trial-epochs a search of ``trials`` trials may train: each to its last epoch,
    or the epoch budget; None for a population, whose trials re-train epochs they copy."""
    most = None if opts.population else trials * opts.max_epochs
    if opts.epoch_budget is not None:
        most = opts.epoch_budget if most is None else min(most, opts.epoch_budget)
    return most


def run_config(
    opts: SearchOptions, place: Place, folder: Path, space: SearchSpace, trials: int
) -> Any:
    """Storage (``place``: a local folder or object storage, through the file system Ray's
    workers rebuild from it), checkpoint retention, failure retries, and the callbacks: the
    live view on the console, the Optuna journal (written in ``folder``, the place itself or
    its local cache) and readable TensorBoard files in the experiment folder."""
    from ray import tune

    remote = None if place.is_local else place.uri
    spec = read_spec(folder)
    journal = JournalCallback(
        space_distributions(space),
        opts.max_epochs,
        study_attrs(spec),
        METRIC,
        remote,
        cost_metric(spec),
    )
    journal.open(folder)
    callbacks = [
        KeepResultFiles(place.uri),
        StopWatch(folder if place.is_local else None, opts.time_budget),
        LiveView(
            opts.max_epochs,
            METRIC,
            opts.progress_interval,
            nice=opts.trial_niceness(),
            planned_epochs=planned_epochs(opts, trials),
            time_budget_s=opts.time_budget,
        ),
        journal,
        TrimEndedTrials(),
    ]
    if opts.tracker:  # (Ray's tracker integrations are imported only when asked for)
        from tune_cifar.tuning.callbacks import tracker_callbacks

        callbacks += tracker_callbacks(opts, place.name)
    with contextlib.suppress(ImportError):  # no tensorboardX: no TensorBoard files, as Tune
        callbacks.append(ReadableTensorBoard())
    return tune.RunConfig(
        name=place.name,
        storage_path=place.parent().path,
        storage_filesystem=None if place.is_local else place.fs,
        checkpoint_config=tune.CheckpointConfig(
            num_to_keep=opts.kept_checkpoints,
            checkpoint_score_attribute=METRIC,
            checkpoint_score_order=MODE,
        ),
        failure_config=tune.FailureConfig(max_failures=opts.max_failures),
        stop=EpochBudget(opts.epoch_budget, place.uri) if opts.epoch_budget else None,
        callbacks=callbacks,
        verbose=0,  # Ray's own output engine stays silent; LiveView prints instead
    )
