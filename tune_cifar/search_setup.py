"""A search, built as Ray Tune's examples build one: the search algorithm and param space, the
trial scheduler, the trainable with its data and resources, and the run config (storage,
checkpoint retention, retries, budgets, callbacks).

    search_alg, param_space, num_samples = build_search(opts, space)
    tuner = tune.Tuner(
        make_trainable(bundle, opts, cpus, gpus), param_space=param_space,
        tune_config=tune.TuneConfig(metric=METRIC, mode=MODE, search_alg=search_alg,
                                    scheduler=build_trial_scheduler(opts, space),
                                    num_samples=num_samples),
        run_config=run_config(opts, folder, space))
"""

from __future__ import annotations

import contextlib
import inspect
import math
from pathlib import Path
from typing import Any

from ray.tune import Stopper

from tune_cifar.config import (
    MUTABLE_KEYS,
    SCHEDULE_KEY,
    TrialConfig,
    check_mutable,
    split_schedule,
)
from tune_cifar.data import DataBundle
from tune_cifar.errors import UsageError
from tune_cifar.experiment import epochs_trained, load_trials, read_spec
from tune_cifar.journal import cost_metric, space_distributions, study_attrs
from tune_cifar.journal_callback import JournalCallback
from tune_cifar.metrics import COSTS, LINEAGE, METRIC, MODE, trial_epochs
from tune_cifar.progress import LiveView
from tune_cifar.result_files import KeepResultFiles
from tune_cifar.search_options import DEFAULT_SAMPLES, SearchOptions
from tune_cifar.spaces import SearchSpace, as_grid, as_sampled, is_grid
from tune_cifar.stopping import StopWatch
from tune_cifar.storage import Place, local_copy, storage_place
from tune_cifar.tb_logger import ReadableTensorBoard
from tune_cifar.trainable import RunSettings, train_cifar
from tune_cifar.warm_start import WarmStart


def tpe_startup_trials(opts: SearchOptions) -> int:
    """The trials TPE samples at random first (``SearchOptions.tpe_startup_trials`` with
    Optuna's own default read from its TPESampler)."""
    import optuna

    default = inspect.signature(optuna.samplers.TPESampler).parameters["n_startup_trials"]
    return opts.tpe_startup_trials(default.default)


def build_search(opts: SearchOptions, space: SearchSpace,
                 warm: WarmStart | None = None) -> tuple[Any, dict[str, Any], int]:
    """(search algorithm, param space, num_samples) for the requested search; with ``warm``
    (Optuna only), the earlier trials and first configurations it starts from."""
    from ray import tune
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter

    from tune_cifar.optuna_search import AshaAwareOptunaSearch

    seed = {"seed": opts.seed}
    # --max-concurrent is applied here: Tune's own max_concurrent_trials is ignored (with a
    # warning only) when the search algorithm is a BasicVariantGenerator passed in, as ours is.
    variants = {"random_state": opts.seed, "max_concurrent": opts.max_concurrent or 0}
    # For a fixed list or a grid, --num-samples K means K repeats of every configuration, the
    # r-th with seed + r (a point's own seed, else --seed), so repeats are new training runs.
    repeats = opts.num_samples or 1
    if space.points is not None:
        if opts.search == "optuna":
            raise UsageError(f"space {space.name!r} is a fixed list of configurations; "
                             "use --search random or grid")
        # Tune only fills in keys its param space has, so each point is spelled out in full
        # (presets resolved; a replayed schedule kept, where any point has one) and the param
        # space holds every key.
        scheduled = {SCHEDULE_KEY: ""} if any(p.get(SCHEDULE_KEY) for p in space.points) else {}
        points = [{**split_schedule({**p, "seed": int(p.get("seed", opts.seed)) + r})[0]
                   .to_dict(), **scheduled, **{k: v for k, v in p.items() if k in scheduled}}
                  for r in range(repeats) for p in space.points]
        return (BasicVariantGenerator(points_to_evaluate=points, **variants),
                {**TrialConfig(seed=opts.seed).to_dict(), **scheduled}, len(points))
    if opts.search == "grid":
        seeds = [opts.seed + r for r in range(repeats)]
        return (BasicVariantGenerator(**variants),
                {"seed": tune.grid_search(seeds) if repeats > 1 else opts.seed,
                 **as_grid(space)}, 1)
    num_samples = opts.num_samples or DEFAULT_SAMPLES
    if opts.search == "random":
        return BasicVariantGenerator(**variants), {**seed, **space.params}, num_samples
    import optuna

    sampler = optuna.samplers.TPESampler(seed=opts.seed, multivariate=True,
                                         n_startup_trials=tpe_startup_trials(opts))
    warm = warm or WarmStart()
    # --objective val_acc,COST: Optuna's multi-objective TPE over (val_acc, the cost)
    metric: Any = [METRIC, COSTS[opts.cost]] if opts.cost else METRIC
    mode: Any = [MODE, "min"] if opts.cost else MODE
    searcher: Any = AshaAwareOptunaSearch(metric=metric, mode=mode, sampler=sampler,
                                          max_epochs=opts.max_epochs,
                                          stopped_as=opts.stopped_as,
                                          points_to_evaluate=warm.enqueued or None,
                                          evaluated=warm.evaluated)
    if opts.max_concurrent:
        searcher = ConcurrencyLimiter(searcher, max_concurrent=opts.max_concurrent)
    return searcher, {**seed, **as_sampled(space)}, num_samples


def planned_trials(param_space: dict[str, Any], num_samples: int) -> int:
    """How many trials Tune will run: every grid axis multiplies ``num_samples``."""
    return num_samples * math.prod(len(v["grid_search"]) for v in param_space.values()
                                   if isinstance(v, dict) and "grid_search" in v)


def build_trial_scheduler(opts: SearchOptions, space: SearchSpace) -> Any:
    """ASHA over epochs (Tune's ASHAScheduler, or ``promotion.PromotionASHA``: the paper's
    promotions, a trial waiting paused at a rung), FIFO (every trial to the end), or a population
    (Tune's PopulationBasedTraining or PB2) that every ``--perturbation-interval`` epochs
    restarts its bottom quarter from a top-quarter trial's checkpoint with mutated keys."""
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if opts.scheduler == "fifo":
        return FIFOScheduler()
    if opts.scheduler in ("pbt", "pb2"):
        return _population_scheduler(opts, space)
    if opts.scheduler == "asha-promote":
        from tune_cifar.promotion import PromotionASHA

        return PromotionASHA(max_t=opts.max_epochs, grace_period=opts.grace_period,
                             reduction_factor=opts.reduction_factor)
    return ASHAScheduler(time_attr="training_iteration", max_t=opts.max_epochs,
                         grace_period=opts.grace_period, reduction_factor=opts.reduction_factor)


def mutations(opts: SearchOptions, space: SearchSpace) -> dict[str, Any]:
    """What PBT may change, from the space: ``--mutate`` keys, else every mutable key the
    space varies. A range stays a Tune domain (PBT multiplies the value by 0.8 or 1.2, or
    resamples it with probability 0.25); a choice becomes its list (a step to a neighbour, or
    a resample); PB2 takes ranges only, as [low, high] bounds for its GP bandit."""
    from ray.tune.search.sample import Categorical, Float, Integer

    flag = f"--scheduler {opts.scheduler}"
    if space.points is not None:
        raise UsageError(f"{flag} needs a space of ranges and choices to mutate; space "
                         f"{space.name!r} is a fixed list of configurations")
    varied = {k: v for k, v in space.params.items()
              if isinstance(v, (Categorical, Float, Integer)) or is_grid(v)}
    keys = opts.mutations or tuple(k for k in varied if k in MUTABLE_KEYS)
    check_mutable(keys)
    fixed = [k for k in keys if k not in varied]
    if fixed:
        raise UsageError(f"--mutate {', '.join(fixed)}: space {space.name!r} has no range or "
                         "choice for it to mutate within")
    if not keys:
        raise UsageError(f"{flag}: space {space.name!r} varies none of the keys that can change "
                         f"while a trial trains ({', '.join(MUTABLE_KEYS)})")
    out: dict[str, Any] = {}
    for key in keys:
        domain = varied[key]
        if opts.scheduler == "pb2":
            if not isinstance(domain, (Float, Integer)):
                raise UsageError(f"--scheduler pb2 mutates ranges only; space {space.name!r} "
                                 f"key '{key}' is a choice (use --scheduler pbt, or leave it "
                                 "out with --mutate)")
            out[key] = [domain.lower, domain.upper]
        elif isinstance(domain, Categorical):
            out[key] = list(domain.categories)
        else:
            out[key] = list(domain["grid_search"]) if is_grid(domain) else domain
    return out


class ClipToSpace:
    """PBT's ``custom_explore_fn``: a value multiplied by 0.8 or 1.2 is clipped back into its
    range in the space (Ray leaves it outside; a dropout of 0.96 is not a configuration)."""

    def __init__(self, bounds: dict[str, tuple[float, float]]) -> None:
        self.bounds = bounds

    def __call__(self, config: dict[str, Any]) -> dict[str, Any]:
        for key, (low, high) in self.bounds.items():
            config[key] = type(config[key])(min(max(config[key], low), high))
        return config


def _population_scheduler(opts: SearchOptions, space: SearchSpace) -> Any:
    import random

    from ray.tune.schedulers import PopulationBasedTraining
    from ray.tune.search.sample import Float, Integer

    mutate = mutations(opts, space)
    bounds = {k: (v.lower, v.upper - 1 if isinstance(v, Integer) else v.upper)
              for k, v in space.params.items() if k in mutate and isinstance(v, (Float, Integer))}
    common = {"time_attr": "training_iteration", "perturbation_interval":
              opts.perturbation_interval, "custom_explore_fn": ClipToSpace(bounds)}
    if opts.scheduler == "pb2":
        import warnings

        from ray.tune.schedulers.pb2 import PB2  # (its GP bandit is scikit-learn's)
        from sklearn.exceptions import ConvergenceWarning

        # PB2 fits its GP on a handful of points at every perturbation; scikit-learn warns
        # about the kernel's bounds each time, on the search's console
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        return PB2(hyperparam_bounds=mutate, **common)
    random.seed(opts.seed)  # Ray's PBT draws its perturbations from Python's random module
    return PopulationBasedTraining(hyperparam_mutations=mutate, **common)


def trial_dirname(trial: Any) -> str:
    """Short trial folder names (Tune's default spells out the whole config)."""
    return f"trial_{trial.trial_id}"


def make_trainable(bundle: DataBundle, opts: SearchOptions, cpus: int, gpus: float) -> Any:
    """``train_cifar`` with the data in Ray's object store (once, not per trial) and its
    resources attached."""
    from ray import tune

    settings = RunSettings(max_epochs=opts.max_epochs, threads=cpus,
                           device="cuda" if gpus > 0 else "cpu", cuda_graph=opts.cuda_graph,
                           checkpoint_every=opts.checkpoint_interval,
                           checkpoint_epochs=opts.pause_epochs, population=opts.population)
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
            self.epochs[trial_id] = max(self.epochs.get(trial_id, 0),
                                        int(result.get("training_iteration", 0)))
        return False

    def stop_all(self) -> bool:
        return self.epochs is not None and trial_epochs(self.epochs.values()) >= self.budget


def run_config(opts: SearchOptions, place: Place, folder: Path, space: SearchSpace) -> Any:
    """Storage (``place``: a local folder or object storage, through the file system Ray's
    workers rebuild from it), checkpoint retention, failure retries, and the callbacks: the
    live view on the console, the Optuna journal (written in ``folder``, the place itself or
    its local cache) and readable TensorBoard files in the experiment folder."""
    from ray import tune

    remote = None if place.is_local else place.uri
    spec = read_spec(folder)
    journal = JournalCallback(space_distributions(space), opts.max_epochs, study_attrs(spec),
                              METRIC, remote, cost_metric(spec))
    journal.open(folder)
    callbacks = [KeepResultFiles(place.uri),
                 StopWatch(folder if place.is_local else None, opts.time_budget),
                 LiveView(opts.max_epochs, METRIC, opts.progress_interval_s), journal]
    with contextlib.suppress(ImportError):  # no tensorboardX: no TensorBoard files, as Tune
        callbacks.append(ReadableTensorBoard())
    return tune.RunConfig(
        name=place.name,
        storage_path=place.parent().path,
        storage_filesystem=None if place.is_local else place.fs,
        checkpoint_config=tune.CheckpointConfig(
            num_to_keep=opts.kept_checkpoints, checkpoint_score_attribute=METRIC,
            checkpoint_score_order=MODE),
        failure_config=tune.FailureConfig(max_failures=opts.max_failures),
        stop=EpochBudget(opts.epoch_budget, place.uri) if opts.epoch_budget else None,
        callbacks=callbacks,
        verbose=0,  # Ray's own output engine stays silent; LiveView prints instead
    )
