"""The expert's belief as a prior over a search space (``--prior``): where good
configurations are thought to lie, and how surely.

    prior, lines = load_prior("seed", space, confidence="medium")   # the seed study's run 6
    prior, lines = load_prior("seed:1", space)                       # its run 1
    prior, lines = load_prior("~/tune-cifar-results/exp", space)     # an experiment's best
    prior, lines = load_prior("belief.json", space)   # {"lr": {"value": 0.001, "confidence":
                                                      #  "high"}, "model": "cnn_v4", ...}
    config = prior.sample(rng); density = prior.pdf(config)
    config = prior.mode(rng)    # the believed configuration itself

Each key the space searches is a dimension on the unit interval, linear or logarithmic as
the space samples it (Ray's conversion of the space to Optuna distributions). A believed
numeric value is a truncated normal on that interval centred on it, with a standard
deviation of 1 - confidence; a believed choice holds the confidence as probability mass,
the rest spread evenly over the other choices; a key without a belief is uniform. That is
PriorBand's prior (Mallik et al., NeurIPS 2023; ``Prior.make_centered`` in automl/neps), with
its confidence levels low / medium / high = 0.5 / 0.75 / 0.875 (deviations 0.5 / 0.25 /
0.125 of the interval).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from tune_cifar.config import TrialConfig
from tune_cifar.errors import UsageError
from tune_cifar.tuning._spaces import SearchSpace, space_distributions

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

CONFIDENCE = {"low": 0.5, "medium": 0.75, "high": 0.875}
SEED_PREFIX = "seed"  # --prior seed (the seed study's best run, run 6) or seed:N (its run N)
SEED_BEST_RUN = 6


@dataclass(frozen=True)
class Dim:
    """One searched key as a dimension: a choice, or a numeric range on the unit interval
    (logarithmic for a log range; on the range's step, an integer for an integer range)."""

    key: str
    choices: tuple[Any, ...] | None = None  # a categorical key's choices (None: numeric)
    low: float = 0.0
    high: float = 1.0
    log: bool = False
    step: float | None = None
    integer: bool = False

    @classmethod
    def of(cls, key: str, dist: BaseDistribution) -> Dim:
        """The dimension of an Optuna distribution (as Ray converts a Tune domain)."""
        from optuna.distributions import CategoricalDistribution, IntDistribution

        if isinstance(dist, CategoricalDistribution):
            return cls(key, choices=tuple(dist.choices))
        low, high = getattr(dist, "low"), getattr(dist, "high")  # noqa: B009 (Float or Int)
        return cls(
            key,
            low=float(low),
            high=float(high),
            log=bool(getattr(dist, "log", False)),
            step=getattr(dist, "step", None),
            integer=isinstance(dist, IntDistribution),
        )

    def contains(self, value: Any) -> bool:
        if self.choices is not None:
            return value in self.choices
        return isinstance(value, (int, float)) and self.low <= value <= self.high

    def to_unit(self, value: float) -> float:
        """A numeric value's place on the unit interval (log-scaled for a log range)."""
        if self.high == self.low:
            return 0.5
        if self.log:
            return (math.log(value) - math.log(self.low)) / (
                math.log(self.high) - math.log(self.low)
            )
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, unit: float) -> Any:
        """The value at ``unit`` of the interval, on the range's step (an int for ints)."""
        unit = min(max(unit, 0.0), 1.0)
        if self.log:
            value = math.exp(math.log(self.low) + unit * (math.log(self.high) - math.log(self.low)))
        else:
            value = self.low + unit * (self.high - self.low)
        if self.step or self.integer:
            step = self.step or 1
            value = self.low + round((value - self.low) / step) * step
        value = min(max(value, self.low), self.high)
        return round(value) if self.integer else float(value)


@dataclass(frozen=True)
class Belief:
    """What is believed of one key: its value and how surely (in [0, 1))."""

    value: Any
    confidence: float


def _truncnorm(center: float, scale: float) -> Any:
    """A normal distribution around ``center`` with deviation ``scale``, truncated to
    [0, 1] (scipy's bounds are in deviations from the centre)."""
    return stats.truncnorm(-center / scale, (1 - center) / scale, loc=center, scale=scale)


class Prior:
    """A belief about some of a space's keys; the others uniform."""

    def __init__(self, dims: Mapping[str, Dim], beliefs: Mapping[str, Belief]) -> None:
        self.dims = dict(dims)
        self.beliefs = dict(beliefs)

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """One configuration of the searched keys, drawn from the prior."""
        return {key: self._sample_key(dim, rng) for key, dim in self.dims.items()}

    def _sample_key(self, dim: Dim, rng: np.random.Generator) -> Any:
        belief = self.beliefs.get(dim.key)
        if dim.choices is not None:
            choices = list(dim.choices)
            if belief is None or len(choices) == 1:
                return choices[rng.integers(len(choices))]
            if rng.random() < belief.confidence:  # the believed choice holds that mass
                return belief.value
            others = [c for c in choices if c != belief.value]
            return others[rng.integers(len(others))]
        if belief is None:
            return dim.from_unit(rng.random())
        scale = 1 - belief.confidence
        unit = _truncnorm(dim.to_unit(belief.value), scale).rvs(random_state=rng)
        return dim.from_unit(float(unit))

    def mode(self, rng: np.random.Generator) -> dict[str, Any]:
        """The configuration believed in: each believed key's value; a key without a belief
        at tune-cifar's default where the space's range holds it, else drawn uniformly."""
        defaults = TrialConfig().to_dict()
        out = {}
        for key, dim in self.dims.items():
            if key in self.beliefs:
                out[key] = self.beliefs[key].value
            elif key in defaults and dim.contains(defaults[key]):
                out[key] = defaults[key]
            else:
                out[key] = self._sample_key(dim, rng)
        return out

    def pdf(self, config: Mapping[str, Any]) -> float:
        """The prior's density at ``config`` (over the unit-interval dimensions; a product of
        one factor per key, the keys being independent)."""
        density = 1.0
        for key, dim in self.dims.items():
            belief, value = self.beliefs.get(key), config[key]
            if dim.choices is not None:
                n = len(dim.choices)
                if belief is None or n == 1:
                    density *= 1 / n
                else:
                    density *= (
                        belief.confidence
                        if value == belief.value
                        else (1 - belief.confidence) / (n - 1)
                    )
            elif belief is not None:
                scale = 1 - belief.confidence
                density *= float(
                    _truncnorm(dim.to_unit(belief.value), scale).pdf(dim.to_unit(value))
                )
        return density

    def centered_at(self, config: Mapping[str, Any]) -> Prior:
        """The same beliefs' confidences around ``config``'s values instead (PriorBand's
        distribution around the incumbent)."""
        return Prior(
            self.dims, {k: Belief(config[k], b.confidence) for k, b in self.beliefs.items()}
        )

    def describe(self) -> str:
        """One line: each believed key, its value and confidence."""
        if not self.beliefs:
            return "nothing believed (uniform)"
        return ", ".join(
            f"{k}={_shown(b.value)} ({b.confidence:g})" for k, b in self.beliefs.items()
        )


def mutate(
    config: Mapping[str, Any],
    dims: Mapping[str, Dim],
    rng: np.random.Generator,
    rate: float = 0.5,
    std: float = 0.25,
) -> dict[str, Any]:
    """PriorBand's sample around the incumbent (``mutate_config`` in automl/neps): each key,
    with probability ``rate``, moves: a number to a draw of a normal around it with deviation
    ``std`` on the unit interval (truncated to it), a choice to one of the others."""
    out = dict(config)
    for key, dim in dims.items():
        if rng.random() >= rate:
            continue
        if dim.choices is not None:
            others = [c for c in dim.choices if c != config[key]]
            if others:
                out[key] = others[rng.integers(len(others))]
        else:
            unit = _truncnorm(dim.to_unit(config[key]), std).rvs(random_state=rng)
            out[key] = dim.from_unit(float(unit))
    return out


def space_dims(space: SearchSpace) -> dict[str, Dim]:
    """The space's searched keys as dimensions (Ray's conversion to Optuna distributions)."""
    return {key: Dim.of(key, dist) for key, dist in space_distributions(space).items()}


def load_prior(
    source: str, space: SearchSpace, confidence: str = "medium"
) -> tuple[Prior, list[str]]:
    """The prior ``--prior SOURCE`` names, over ``space``, and lines that say what it is.

    ``seed`` / ``seed:N``: the seed study's best run (6) or run N; an experiment (folder or
    URI): its best trial; both believed at ``confidence`` for every key the space searches
    (a number outside the space's range is taken at the range's nearest end, a choice the
    space does not offer is left uniform; each said). A ``.json`` file: {key: {"value": V,
    "confidence": "low|medium|high"}} or {key: V} (at ``confidence``); a key the space does
    not search, a value outside its range or a confidence not named is one UsageError line."""
    if confidence not in CONFIDENCE:
        raise UsageError(
            f"--prior-confidence must be one of {', '.join(CONFIDENCE)}, not {confidence!r}"
        )
    if space.points is not None:
        raise UsageError(
            f"--prior needs a space of ranges and choices; space {space.name!r} "
            "is a fixed list of configurations"
        )
    dims = space_dims(space)
    lines: list[str] = []
    if source.endswith(".json"):
        beliefs = _file_beliefs(Path(source).expanduser(), dims, CONFIDENCE[confidence])
        what = f"the beliefs of {source}"
    else:
        config, what = _derived_config(source)
        beliefs, lines = _derived_beliefs(config, dims, CONFIDENCE[confidence], what)
    prior = Prior(dims, beliefs)
    return prior, [f"prior: {what}, {confidence} confidence: {prior.describe()}", *lines]


def _derived_config(source: str) -> tuple[dict[str, Any], str]:
    """The configuration a seed run or an experiment's best trial believes in."""
    if source == SEED_PREFIX or source.startswith(f"{SEED_PREFIX}:"):
        from tune_cifar.search_spaces import seed_study

        run = source.partition(":")[2] or str(SEED_BEST_RUN)
        if not run.isdigit() or not 1 <= int(run) <= len(seed_study.SPACE):
            raise UsageError(
                f"--prior {source}: the seed study has runs 1 to "
                f"{len(seed_study.SPACE)} (seed:N); 'seed' is its best, run 6"
            )
        point = seed_study.SPACE[int(run) - 1]
        return TrialConfig.from_dict(point).to_dict(), f"the seed study's run {run}"
    from tune_cifar.results import best_of, load_trials, local_target, read_spec

    folder = local_target(source)
    read_spec(folder)  # refuses a folder that is not an experiment, in one line
    best = best_of(load_trials(folder))
    if best is None:
        raise UsageError(f"--prior {source}: the experiment has no trial with a result yet")
    return dict(best.config), f"the best trial of {folder.name} ({best.trial_id})"


def _derived_beliefs(
    config: Mapping[str, Any], dims: Mapping[str, Dim], confidence: float, what: str
) -> tuple[dict[str, Belief], list[str]]:
    beliefs: dict[str, Belief] = {}
    lines: list[str] = []
    for key, dim in dims.items():
        if key not in config:
            continue
        value = config[key]
        if dim.choices is not None:
            if value not in dim.choices:
                lines.append(
                    f"note: prior: {what} has {key}={_shown(value)}, not a choice of "
                    "this space: that key stays uniform"
                )
                continue
        elif not dim.contains(value):
            clipped = min(max(value, dim.low), dim.high)
            lines.append(
                f"note: prior: {what} has {key}={_shown(value)}, outside this space's "
                f"[{_shown(dim.low)}, {_shown(dim.high)}]: believed at "
                f"{_shown(clipped)}"
            )
            value = clipped
        beliefs[key] = Belief(value, confidence)
    return beliefs, lines


def _file_beliefs(path: Path, dims: Mapping[str, Dim], confidence: float) -> dict[str, Belief]:
    try:
        raw = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"--prior {path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"--prior {path} is not readable JSON: {exc}") from None
    if not isinstance(raw, dict) or not raw:
        raise UsageError(
            f"--prior {path} must hold an object of beliefs, e.g. "
            '{"lr": {"value": 0.001, "confidence": "high"}}'
        )
    unknown = sorted(set(raw) - set(dims))
    if unknown:
        raise UsageError(
            f"--prior {path}: {', '.join(unknown)} not searched by this space "
            f"(it searches {', '.join(dims)})"
        )
    beliefs = {}
    for key, entry in raw.items():
        value, level = (
            (entry.get("value"), entry.get("confidence", None))
            if isinstance(entry, dict)
            else (entry, None)
        )
        if level is not None and level not in CONFIDENCE:
            raise UsageError(
                f"--prior {path}: {key}'s confidence must be one of "
                f"{', '.join(CONFIDENCE)}, not {level!r}"
            )
        dim = dims[key]
        if not dim.contains(value):
            allowed = (
                " / ".join(map(_shown, dim.choices))
                if dim.choices is not None
                else f"[{_shown(dim.low)}, {_shown(dim.high)}]"
            )
            raise UsageError(
                f"--prior {path}: {key}={_shown(value)} is outside this space's {allowed}"
            )
        beliefs[key] = Belief(value, CONFIDENCE[level] if level else confidence)
    return beliefs


def _shown(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
