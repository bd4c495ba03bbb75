"""Run, resume and report a search.

    opts = SearchOptions(space="quick", num_samples=4, max_epochs=4)
    outcome = run_search(opts, DataSpec(source="sample"))
    print(outcome.best.summary())

Everything a user can get wrong (space, keys, ranges, resources, storage, an existing
experiment name) is checked before the first trial starts and raised as a one-line
``UsageError``. The search is built in ``_algorithms``, ``_schedulers`` and
``_run_config``, Ray started in ``ray`` with the resources of ``_resources``, the folder
claimed in ``_workspace``; this module runs it (``tune.Tuner.fit``, or ``Tuner.restore`` to
resume) and says how it ended: the best trial, the errors, what stopped it, what it trained
and how fast.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tune_cifar.constants import SPEC_FILE
from tune_cifar.data import DataBundle, DataSpec, load_data
from tune_cifar.errors import TuneCifarError, UsageError, error_line
from tune_cifar.metrics import METRIC, MODE, UNFINISHED, trial_epochs
from tune_cifar.results import (
    BestTrial,
    best_of,
    build_journal,
    epochs_trained,
    load_trials,
    read_spec,
    trial_status,
    write_spec,
)
from tune_cifar.storage import (
    Place,
    cache_folder,
    hold_experiment,
    local_copy,
    storage_place,
    upload,
)
from tune_cifar.tuning._algorithms import (
    build_search,
    check_plan,
    planned_trials,
    tpe_startup_trials,
)
from tune_cifar.tuning._options import SearchOptions
from tune_cifar.tuning._prior import load_prior
from tune_cifar.tuning._resources import cluster_resources, start_and_check
from tune_cifar.tuning._run_config import make_trainable, run_config, trial_dirname
from tune_cifar.tuning._schedulers import build_trial_scheduler
from tune_cifar.tuning._spaces import load_space, space_record
from tune_cifar.tuning._stopping import (
    INTERRUPTED,
    STORAGE_FULL,
    TIME_BUDGET,
    check_free_space,
    release_reserve,
    reset_stop,
    stop_reason,
    write_reserve,
)
from tune_cifar.tuning._warm_start import plan_warm_start
from tune_cifar.tuning._workspace import claim_folder, create_folder, experiment_place
from tune_cifar.tuning.callbacks import live_output
from tune_cifar.tuning.ray import delete_orphan_checkpoints, delete_unnamed_checkpoints


@dataclass
class SearchOutcome:
    """How one run of a search (or of its resume) ended."""

    experiment_path: Path | str  # a local folder, or the URI of one in object storage
    best: BestTrial | None
    num_trials: int
    errors: list[str]
    unfinished: int = 0  # trials neither done nor errored: interrupted, or out of budget
    budget: str | None = None  # "time budget" / "epoch budget" when one of them ended it
    trial_epochs: int = 0  # epochs reported by all trials together
    compute: Compute | None = None  # what this run of the search trained, and how fast
    seed_style: bool = False  # validated on the test set, as the seed study did
    interrupted: bool = False  # Ctrl-C or SIGTERM ended it (whatever budget it had)
    storage_full: str | None = None  # why the storage stopped it, when it filled up


@dataclass(frozen=True)
class Compute:
    """The trial-epochs one run of a search (or of its resume) trained, in what wall time, on
    how many GPUs and CPUs."""

    trial_epochs: int
    wall_s: float
    gpus: float
    cpus: float
    train_images: int  # per trial-epoch

    def summary(self) -> str:
        minutes = self.wall_s / 60
        unit, count = ("GPU", self.gpus) if self.gpus else ("CPU", self.cpus)
        per_minute = self.trial_epochs / (minutes * count) if minutes and count else 0.0
        images = self.trial_epochs * self.train_images / self.wall_s if self.wall_s else 0.0
        return (
            f"compute: {self.trial_epochs} trial-epochs in {self.wall_s:.0f} s on "
            f"{count:g} {unit}{'s' if count != 1 else ''}: {per_minute:.2f} trial-epochs "
            f"per {unit}-minute, {images:,.0f} training images/s together"
        )


def _show_data(bundle: DataBundle) -> None:
    print(bundle.describe(), flush=True)
    for note in bundle.notes:
        print(f"note: {note}", flush=True)


def run_search(
    opts: SearchOptions,
    data_spec: DataSpec,
    argv: list[str] | None = None,
    bundle: DataBundle | None = None,
) -> SearchOutcome:
    """Validate everything, start Ray, run the search and return the best trial."""
    import ray
    from ray import tune

    opts.check()
    space = load_space(opts.space)
    warm = plan_warm_start(opts, space, dataclasses.asdict(data_spec))
    prior, prior_lines = (
        load_prior(opts.prior, space, opts.prior_confidence) if opts.prior else (None, [])
    )
    search_alg, param_space, num_samples = build_search(opts, space, warm, prior)
    trials = planned_trials(param_space, num_samples)
    notes = check_plan(opts, space, trials)
    scheduler = build_trial_scheduler(opts, space)
    place = experiment_place(opts, space)
    lock = claim_folder(place, opts.overwrite)
    folder = place.local if place.is_local else cache_folder(place)  # what is read and staged
    ray_was_running = ray.is_initialized()  # then it stays running: a notebook's, a test's
    try:
        bundle = bundle or load_data(data_spec)
        _show_data(bundle)
        cpus, gpus = start_and_check(opts, param_space, bundle)
        opts = dataclasses.replace(opts, gpus_per_trial=gpus)  # a resume keeps the share
        lock = create_folder(place, lock)
        if not place.is_local:  # a new experiment: nothing of an old one of its name is kept
            shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        write_spec(
            folder,
            dataclasses.asdict(opts),
            dataclasses.asdict(data_spec),
            space_record(space),
            argv,
        )
        if place.is_local:
            write_reserve(folder)
        else:
            upload(folder / SPEC_FILE, place.child(SPEC_FILE))
        startup = (
            f" (TPE, its first {tpe_startup_trials(opts)} trials random)"
            if opts.search == "optuna"
            else ""
        )
        print(
            f"search {place.name}: space {space.name} ({space.describe()}), "
            f"{opts.search} search{startup}, {opts.scheduler} scheduler, "
            f"{trials} trials x "
            f"up to {opts.max_epochs} epochs, {cpus} CPU + {gpus:g} GPU per trial",
            flush=True,
        )
        for line in [*warm.lines, *prior_lines, *notes]:
            print(line, flush=True)
        print(f"watch it in a browser: tune-cifar dashboard {place.uri}", flush=True)
        tuner = tune.Tuner(
            make_trainable(bundle, opts, cpus, gpus),
            param_space=param_space,
            tune_config=tune.TuneConfig(
                metric=METRIC,
                mode=MODE,
                search_alg=search_alg,
                scheduler=scheduler,
                num_samples=num_samples,
                trial_dirname_creator=trial_dirname,
                reuse_actors=True,  # a new trial runs in the process of one that ended
            ),
            run_config=run_config(opts, place, folder, space, trials),
        )
        results, compute = fit_and_measure(tuner, place, bundle)
    finally:
        if not ray_was_running:
            ray.shutdown()
        if lock is not None:
            if place.is_local:
                release_reserve(folder)
            lock.release()
    return outcome_of(place, results, opts, compute)


def resume_search(
    location: Path | str, retry_errored: bool = False, bundle: DataBundle | None = None
) -> SearchOutcome:
    """Continue an interrupted search (a local folder or an ``s3://`` / ``gs://`` URI) from
    our spec file and Tune's saved state: unfinished trials continue from their last
    checkpoints, finished ones stay finished, errored ones are retried from their last
    checkpoints only with ``retry_errored``."""
    from ray import tune

    place = storage_place(location)
    folder = local_copy(place)  # (object storage: the spec, journal and results come down)
    spec = read_spec(folder)  # refuses folders that are not ours before Tune unpickles anything
    if not tune.Tuner.can_restore(place.path, None if place.is_local else place.fs):
        raise UsageError(f"{place.uri} has no saved Tune state to resume from")
    opts = SearchOptions.from_record(spec["options"])
    with hold_experiment(folder if place.is_local else place, "resume"):
        if not place.is_local:
            return _resume(place, folder, opts, spec, retry_errored, bundle)
        check_free_space(folder)
        write_reserve(folder)
        try:
            return _resume(place, folder, opts, spec, retry_errored, bundle)
        finally:
            release_reserve(folder)


def _resume(
    place: Place,
    folder: Path,
    opts: SearchOptions,
    spec: dict[str, Any],
    retry_errored: bool,
    bundle: DataBundle | None,
) -> SearchOutcome:
    import ray
    from ray import tune

    bundle = bundle or load_data(DataSpec(**spec["data"]))
    _show_data(bundle)
    ray_was_running = ray.is_initialized()
    try:
        cpus, gpus = start_and_check(opts, None, bundle)
        print(f"resuming {place.name}", flush=True)
        build_journal(folder)  # the lines a killed driver had not yet written
        tuner = tune.Tuner.restore(
            place.path,
            trainable=make_trainable(bundle, opts, cpus, gpus),
            resume_unfinished=True,
            resume_errored=retry_errored,
            storage_filesystem=None if place.is_local else place.fs,
        )
        results, compute = fit_and_measure(tuner, place, bundle)
    finally:
        if not ray_was_running:
            ray.shutdown()
    return outcome_of(place, results, opts, compute)


def epochs_so_far(place: Place) -> int:
    """The trial-epochs the trials of an experiment have reported together."""
    return trial_epochs(epochs_trained(t) for t in load_trials(local_copy(place)))


def fit_and_measure(tuner: Any, place: Place, bundle: DataBundle) -> tuple[Any, Compute]:
    """Run the Tuner with only LiveView on the console; what it trained, how fast."""
    before, start = epochs_so_far(place), time.monotonic()
    reset_stop()
    with live_output():
        results = tuner.fit()
    delete_unnamed_checkpoints(everything=True)  # Tune's last state of this run is saved
    delete_orphan_checkpoints(place.fs, place.path)  # a killed driver's deletions, done now
    wall = time.monotonic() - start
    nodes = cluster_resources()
    return results, Compute(
        epochs_so_far(place) - before,
        wall,
        sum(n.get("GPU", 0) for n in nodes),
        sum(n.get("CPU", 0) for n in nodes),
        len(bundle.training.train_y),
    )


def outcome_of(
    place: Place, results: Any, opts: SearchOptions, compute: Compute | None = None
) -> SearchOutcome:
    folder = local_copy(place)
    errors = [
        f"trial {r.metrics.get('trial_id', Path(r.path).name)}: {error_line(r.error)}"
        for r in results
        if r.error
    ]
    # Unfinished: trials that never reported, and trials whose own epochs say they are not
    # done (Tune's "done" flag misses a trial that finished its last epoch just before the
    # driver was killed: on resume it has nothing left to report).
    records = load_trials(folder)
    on_disk = {t.trial_dir.name for t in records}  # trials with a complete epoch
    never_reported = sum(1 for r in results if not r.error and Path(r.path).name not in on_disk)
    unfinished = never_reported + sum(
        1 for t in records if trial_status(t, opts.max_epochs)[0] == UNFINISHED
    )
    epochs = trial_epochs(epochs_trained(t) for t in records)
    reason, detail = stop_reason()
    budget = None
    if opts.epoch_budget and epochs >= opts.epoch_budget:
        budget = "epoch budget"
    elif reason == TIME_BUDGET and unfinished:
        budget = "time budget"
    seed_style = read_spec(folder)["data"].get("val_source") == "test"
    return SearchOutcome(
        folder if place.is_local else place.uri,
        best_of(records, METRIC),
        len(results),
        errors,
        unfinished,
        budget,
        epochs,
        compute,
        seed_style,
        reason == INTERRUPTED,
        detail if reason == STORAGE_FULL else None,
    )


def raise_if_all_failed(outcome: SearchOutcome) -> BestTrial:
    """The search's best trial; a one-line TuneCifarError when no trial reported a result."""
    if outcome.best is None:
        detail = outcome.errors[0] if outcome.errors else "no trial reported a result"
        raise TuneCifarError(f"the search finished without a result: {detail}")
    return outcome.best
