"""The trial scheduler a search asks for: ASHA over epochs (Ray's ``ASHAScheduler``, or
``_promotion.PromotionASHA`` with the paper's promotions), FIFO, or a population (Ray's PBT
or PB2) with the mutations the space allows.

    scheduler = build_trial_scheduler(opts, space)
"""

from __future__ import annotations

from typing import Any

from tune_cifar.config import MUTABLE_KEYS, check_mutable
from tune_cifar.constants import TRAINING_ITERATION
from tune_cifar.errors import UsageError
from tune_cifar.metrics import POPULATION_SCHEDULERS
from tune_cifar.tuning._options import SearchOptions
from tune_cifar.tuning._spaces import SearchSpace, is_grid


def build_trial_scheduler(opts: SearchOptions, space: SearchSpace) -> Any:
    """ASHA over epochs (Tune's ASHAScheduler, or ``PromotionASHA``: the paper's
    promotions, a trial waiting paused at a rung), FIFO (every trial to the end), or a population
    (Tune's PopulationBasedTraining or PB2) that every ``--perturbation-interval`` epochs
    restarts its bottom quarter from a top-quarter trial's checkpoint with mutated keys."""
    from ray.tune.schedulers import FIFOScheduler

    if opts.scheduler == "fifo":
        return FIFOScheduler()
    if opts.scheduler in POPULATION_SCHEDULERS:
        return _population_scheduler(opts, space)
    from tune_cifar.tuning._promotion import FullBudgetASHA, PromotionASHA

    if opts.scheduler == "asha-promote":
        return PromotionASHA(
            max_t=opts.max_epochs,
            grace_period=opts.grace_period,
            reduction_factor=opts.reduction_factor,
        )
    return FullBudgetASHA(
        time_attr=TRAINING_ITERATION,
        max_t=opts.max_epochs,
        grace_period=opts.grace_period,
        reduction_factor=opts.reduction_factor,
    )


def mutations(opts: SearchOptions, space: SearchSpace) -> dict[str, Any]:
    """What PBT may change, from the space: ``--mutate`` keys, else every mutable key the
    space varies. A range stays a Tune domain (PBT multiplies the value by 0.8 or 1.2, or
    resamples it with probability 0.25); a choice becomes its list (a step to a neighbour, or
    a resample); PB2 takes ranges only, as [low, high] bounds for its GP bandit."""
    from ray.tune.search.sample import Categorical, Float, Integer

    flag = f"--scheduler {opts.scheduler}"
    if space.points is not None:
        raise UsageError(
            f"{flag} needs a space of ranges and choices to mutate; space "
            f"{space.name!r} is a fixed list of configurations"
        )
    varied = {
        k: v
        for k, v in space.params.items()
        if isinstance(v, (Categorical, Float, Integer)) or is_grid(v)
    }
    keys = opts.mutate or tuple(k for k in varied if k in MUTABLE_KEYS)
    check_mutable(keys)
    fixed = [k for k in keys if k not in varied]
    if fixed:
        raise UsageError(
            f"--mutate {', '.join(fixed)}: space {space.name!r} has no range or "
            "choice for it to mutate within"
        )
    if not keys:
        raise UsageError(
            f"{flag}: space {space.name!r} varies none of the keys that can change "
            f"while a trial trains ({', '.join(MUTABLE_KEYS)})"
        )
    out: dict[str, Any] = {}
    for key in keys:
        domain = varied[key]
        if opts.scheduler == "pb2":
            if not isinstance(domain, (Float, Integer)):
                raise UsageError(
                    f"--scheduler pb2 mutates ranges only; space {space.name!r} "
                    f"key '{key}' is a choice (use --scheduler pbt, or leave it "
                    "out with --mutate)"
                )
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
    bounds = {
        k: (v.lower, v.upper - 1 if isinstance(v, Integer) else v.upper)
        for k, v in space.params.items()
        if k in mutate and isinstance(v, (Float, Integer))
    }
    common: dict[str, Any] = {
        "time_attr": TRAINING_ITERATION,
        "perturbation_interval": opts.perturbation_interval,
        "custom_explore_fn": ClipToSpace(bounds),
    }
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
