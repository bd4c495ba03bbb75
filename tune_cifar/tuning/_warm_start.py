"""Warm starts: a search that starts from what earlier searches learned.

    --warm-start EXP [EXP ...]   the trials of earlier experiments that ran every epoch (their
                                 configurations and best values) are told to TPE before its
                                 first suggestion, as trials it has already seen
    --warm-start seed            the seed study's six configurations are the first trials this
                                 search runs, so TPE learns from them at this search's
                                 fidelity (the seed's own figures are full-data, 100-epoch,
                                 test-selected numbers: not values to tell TPE)

Only configurations of this search's space take part: every key the space searches within its
range, every other key as the space fixes it; the others are skipped and counted. An earlier
search on other data or with another epoch limit is said so: its values were measured at
another fidelity than this search's.

    warm = plan_warm_start(opts, space, data_spec)
    for line in warm.lines: print(line)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tune_cifar.config import TrialConfig
from tune_cifar.data import FIDELITY_KEYS
from tune_cifar.errors import UsageError
from tune_cifar.metrics import DONE, METRIC
from tune_cifar.results import (
    best_row,
    load_trials,
    local_target,
    read_spec,
    trained_as_configured,
    trial_status,
)
from tune_cifar.tuning._options import SearchOptions
from tune_cifar.tuning._spaces import SearchSpace, load_space, space_distributions

SEED = "seed"  # --warm-start seed


@dataclass
class WarmStart:
    """What a search starts from: configurations to run first (``enqueued``), configurations
    with values to tell TPE (``evaluated``), and the lines that say so."""

    enqueued: list[dict[str, Any]] = field(default_factory=list)
    evaluated: list[tuple[dict[str, Any], float]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def in_space(
    config: dict[str, Any], space: SearchSpace, distributions: dict[str, Any]
) -> dict[str, Any] | None:
    """The searched keys of ``config`` if it is a configuration of ``space`` (each searched key
    within its distribution, every other key as the space sets it), else None."""
    from optuna.distributions import CategoricalDistribution

    params = {}
    for key, dist in distributions.items():
        if key not in config:
            return None
        value = config[key]
        if isinstance(dist, CategoricalDistribution):
            if value not in dist.choices:
                return None
        elif not (isinstance(value, (int, float)) and dist.low <= value <= dist.high):
            return None
        params[key] = value
    constants = {k: v for k, v in space.params.items() if k not in distributions}
    try:
        theirs = TrialConfig.from_dict({k: v for k, v in config.items() if k != "seed"})
        ours = TrialConfig.from_dict({**constants, **params})
    except UsageError:
        return None
    same = {k: v for k, v in theirs.to_dict().items() if k != "seed"} == {
        k: v for k, v in ours.to_dict().items() if k != "seed"
    }
    return params if same else None


def plan_warm_start(opts: SearchOptions, space: SearchSpace, data: dict[str, Any]) -> WarmStart:
    """The warm start ``opts.warm_start`` asks for (nothing when it asks for none)."""
    warm = WarmStart()
    if not opts.warm_start:
        return warm
    if space.points is not None:
        raise UsageError(
            "--warm-start needs a space of ranges and choices to search; "
            f"space {space.name!r} is a fixed list of configurations"
        )
    distributions = space_distributions(space)
    seen: dict[str, str] = {}  # each source once, however it was written
    for source in opts.warm_start:
        folder = None if source == SEED else local_target(source)
        where = SEED if folder is None else str(folder.resolve())
        if where in seen:
            warm.lines.append(f"warm start: {source} is {seen[where]} again: told once")
            continue
        seen[where] = source
        if folder is None:  # the seed study
            points = load_space("seed_study").points or []
            fitting = [
                p
                for p in (
                    in_space(TrialConfig.from_dict(point).to_dict(), space, distributions)
                    for point in points
                )
                if p
            ]
            warm.enqueued += fitting
            warm.lines.append(
                f"warm start: the seed study's {len(points)} configurations: "
                f"{len(fitting)} in this space run first, "
                f"{len(points) - len(fitting)} skipped (not in this space)"
            )
            continue
        spec = read_spec(folder)
        max_epochs = int(spec["options"]["max_epochs"])
        finished = [t for t in load_trials(folder) if trial_status(t, max_epochs)[0] == DONE]
        # A PBT / PB2 trial that copied weights or changed configuration reached its value
        # by a schedule, not by its configuration: no value of that configuration to tell.
        alone = [t for t in finished if trained_as_configured(t)]
        told = 0
        for trial in alone:
            params = in_space(trial.config, space, distributions)
            found = best_row(trial, METRIC)
            if params is None or found is None or not math.isfinite(float(found[0][METRIC])):
                continue
            warm.evaluated.append((params, float(found[0][METRIC])))
            told += 1
        scheduled = len(finished) - len(alone)
        warm.lines.append(
            f"warm start: {told} finished trials of {folder.name} told to TPE, "
            f"{len(alone) - told} skipped (not in this space)"
            + (
                f", {scheduled} skipped (population-based training changed their "
                "weights or configuration while they trained)"
                if scheduled
                else ""
            )
        )
        other = [
            f"{k} {_shown(spec['data'].get(k))}, here {_shown(data.get(k))}"
            for k in FIDELITY_KEYS
            if spec["data"].get(k) != data.get(k)
        ]
        if max_epochs != opts.max_epochs:
            other.append(f"up to {max_epochs} epochs, not {opts.max_epochs}")
        if other:
            warm.lines.append(
                f"note: {folder.name} was measured at another fidelity ("
                f"{', '.join(other)}): its values are not this search's"
            )
    return warm


def _shown(value: Any) -> str:
    return "default" if value is None else str(value)
