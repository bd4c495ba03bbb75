"""The search algorithm and its param space, as Ray Tune's examples build them: random or
grid (Ray's variant generator), fixed points, or Optuna TPE (``_optuna``) with a warm start.

    search_alg, param_space, num_samples = build_search(opts, space, warm)
"""

from __future__ import annotations

import inspect
import math
from typing import Any

from tune_cifar.config import TrialConfig
from tune_cifar.errors import UsageError
from tune_cifar.metrics import COSTS, METRIC, MODE
from tune_cifar.train import SCHEDULE_KEY, split_schedule
from tune_cifar.tuning._options import DEFAULT_SAMPLES, SearchOptions
from tune_cifar.tuning._prior import Prior
from tune_cifar.tuning._spaces import SearchSpace, as_grid, as_sampled
from tune_cifar.tuning._warm_start import WarmStart


def tpe_startup_trials(opts: SearchOptions) -> int:
    """The trials TPE samples at random first (``SearchOptions.tpe_startup_trials`` with
    Optuna's own default read from its TPESampler)."""
    import optuna

    default = inspect.signature(optuna.samplers.TPESampler).parameters["n_startup_trials"]
    return opts.tpe_startup_trials(default.default)


def build_search(
    opts: SearchOptions,
    space: SearchSpace,
    warm: WarmStart | None = None,
    prior: Prior | None = None,
) -> tuple[Any, dict[str, Any], int]:
    """(search algorithm, param space, num_samples) for the requested search; with ``warm``
    (Optuna only), the earlier trials and first configurations it starts from; ``prior``:
    PriorBand's (``--search priorband``, where it is required)."""
    from ray import tune
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter

    from tune_cifar.tuning._optuna import AshaAwareOptunaSearch

    seed = {"seed": opts.seed}
    # --max-concurrent is applied here: Tune's own max_concurrent_trials is ignored (with a
    # warning only) when the search algorithm is a BasicVariantGenerator passed in, as ours is.
    variants: dict[str, Any] = {
        "random_state": opts.seed,
        "max_concurrent": opts.max_concurrent or 0,
    }
    # For a fixed list or a grid, --num-samples K means K repeats of every configuration, the
    # r-th with seed + r (a point's own seed, else --seed), so repeats are new training runs.
    repeats = opts.num_samples or 1
    if space.points is not None:
        if opts.search in ("optuna", "priorband"):
            raise UsageError(
                f"space {space.name!r} is a fixed list of configurations; "
                "use --search random or grid"
            )
        # Tune only fills in keys its param space has, so each point is spelled out in full
        # (presets resolved; a replayed schedule kept, where any point has one) and the param
        # space holds every key.
        scheduled = {SCHEDULE_KEY: ""} if any(p.get(SCHEDULE_KEY) for p in space.points) else {}
        points = [
            {
                **split_schedule({**p, "seed": int(p.get("seed", opts.seed)) + r})[0].to_dict(),
                **scheduled,
                **{k: v for k, v in p.items() if k in scheduled},
            }
            for r in range(repeats)
            for p in space.points
        ]
        return (
            BasicVariantGenerator(points_to_evaluate=points, **variants),
            {**TrialConfig(seed=opts.seed).to_dict(), **scheduled},
            len(points),
        )
    if opts.search == "grid":
        seeds = [opts.seed + r for r in range(repeats)]
        return (
            BasicVariantGenerator(**variants),
            {"seed": tune.grid_search(seeds) if repeats > 1 else opts.seed, **as_grid(space)},
            1,
        )
    num_samples = opts.num_samples or DEFAULT_SAMPLES
    if opts.search == "random":
        return BasicVariantGenerator(**variants), {**seed, **space.params}, num_samples
    if opts.search == "priorband":
        from tune_cifar.tuning._priorband import PriorBandSearcher

        if prior is None:
            raise UsageError("--search priorband needs --prior")
        searcher: Any = PriorBandSearcher(
            prior,
            grace_period=opts.grace_period,
            reduction_factor=opts.reduction_factor,
            max_epochs=opts.max_epochs,
            metric=METRIC,
            mode=MODE,
            seed=opts.seed,
            prior_mode=opts.prior_mode,
        )
        if opts.max_concurrent:
            searcher = ConcurrencyLimiter(searcher, max_concurrent=opts.max_concurrent)
        return searcher, {**seed, **as_sampled(space)}, num_samples
    import optuna

    sampler = optuna.samplers.TPESampler(
        seed=opts.seed, multivariate=True, n_startup_trials=tpe_startup_trials(opts)
    )
    warm = warm or WarmStart()
    # --objective val_acc,COST: Optuna's multi-objective TPE over (val_acc, the cost)
    metric: Any = [METRIC, COSTS[opts.cost]] if opts.cost else METRIC
    mode: Any = [MODE, "min"] if opts.cost else MODE
    searcher = AshaAwareOptunaSearch(
        metric=metric,
        mode=mode,
        sampler=sampler,
        max_epochs=opts.max_epochs,
        stopped_as=opts.stopped_as,
        points_to_evaluate=warm.enqueued or None,
        evaluated=warm.evaluated,
    )
    if opts.max_concurrent:
        searcher = ConcurrencyLimiter(searcher, max_concurrent=opts.max_concurrent)
    return searcher, {**seed, **as_sampled(space)}, num_samples


def planned_trials(param_space: dict[str, Any], num_samples: int) -> int:
    """How many trials Tune will run: every grid axis multiplies ``num_samples``."""
    return num_samples * math.prod(
        len(v["grid_search"])
        for v in param_space.values()
        if isinstance(v, dict) and "grid_search" in v
    )


def check_plan(opts: SearchOptions, space: SearchSpace, trials: int) -> list[str]:
    """One UsageError line for a search that cannot do what it was asked with these
    ``trials``; else the notes to print about it (none when all is as it seems)."""
    if opts.population and trials < 2:
        raise UsageError(
            f"--scheduler {opts.scheduler} needs a population: {trials} trial has no "
            "other to copy; give --num-samples 2 or more"
        )
    for i, point in enumerate(space.points or []):
        late = [e for e in split_schedule(point)[1] if e > opts.max_epochs]
        if late:
            raise UsageError(
                f"space {space.name!r}, configuration {i + 1}: its schedule changes at "
                f"epoch {late[0]}, past --max-epochs {opts.max_epochs}: it would never "
                "take effect"
            )
    notes = []
    startup = tpe_startup_trials(opts) if opts.search == "optuna" else None
    if startup is not None and startup >= trials:
        notes.append(
            f"note: TPE samples its first {startup} trials at random, and "
            f"this search runs {trials}: it will never model the results (lower "
            "--startup-trials or raise --num-samples)"
        )
    return notes
