"""PriorBand (``--search priorband``): each new configuration drawn from the expert's prior,
uniformly from the whole space, or around the best configuration so far, with weights that
shift by rung and by evidence (Mallik et al., "PriorBand: Practical Hyperparameter
Optimization in the Age of Deep Learning", NeurIPS 2023; its reference implementation is
``PriorBandSampler`` in automl/neps, ``neps/optimizers/priorband.py``). A good prior speeds
the search up; a bad one is outvoted by the evidence.

    searcher = PriorBandSearcher(prior, grace_period=2, reduction_factor=3, max_epochs=35,
                                 metric="val_acc", mode="max", seed=0)

A Ray Tune ``Searcher``, so any scheduler with rungs runs it (Ray's ASHA, asha-promote). Its
first configuration is the prior's mode (``--prior-mode``): by default started at the first
rung and judged there as every other trial (neps' ``sample_prior_first=True``), so the
believed configuration itself is measured, at the price of one first-rung trial; or trained
to the full budget (``constants.FULL_BUDGET``: the schedulers never stop it at a rung), as
neps' first ``PriorBand`` did (``sample_default_first``, ``sample_default_at_target``), which
costs a wrong prior one full-length trial; or never drawn (the default of neps' ``priorband``
today). The 35-epoch benchmark chose the default (docs/benchmarks.md). The
evidence is each trial's metric at the rungs it reached (``--grace-period`` x
``--reduction-factor``^k, and ``--max-epochs``), as successive halving counts it. Every
configuration it suggests names where it came from and the weights then
(``constants.SAMPLED_FROM``, ``SAMPLING_WEIGHTS``, ``SAMPLE_NUMBER``), so the results and the
live view can tell.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from typing import Any

import numpy as np
from ray.tune.search import Searcher

from tune_cifar.constants import (
    FULL_BUDGET,
    PRIOR_MODE,
    SAMPLE_NUMBER,
    SAMPLED_FROM,
    SAMPLING_WEIGHTS,
    TRAINING_ITERATION,
)
from tune_cifar.metrics import fidelities, sh_bracket_cost
from tune_cifar.tuning._options import PRIOR_MODES
from tune_cifar.tuning._prior import Prior, mutate

PRIOR, UNIFORM, INCUMBENT = "prior", "uniform", "incumbent"
SOURCES = (PRIOR, UNIFORM, INCUMBENT)  # the three ways PriorBand's weights choose among
MUTATION_RATE, MUTATION_STD = 0.5, 0.25  # PriorBand's incumbent sampling (neps' defaults)


@dataclass(frozen=True)
class Evaluation:
    """A trial's metric at a rung (higher is better: a "min" metric is negated)."""

    trial_id: str
    rung: int  # index into the fidelities
    value: float


@dataclass(frozen=True)
class Weights:
    """The probabilities of the three ways to draw a configuration, and why."""

    prior: float
    uniform: float
    incumbent: float
    incumbent_trial: str | None = None  # the configuration the incumbent draws are around

    def as_text(self) -> str:
        return f"prior {self.prior:.3f}, uniform {self.uniform:.3f}, incumbent {self.incumbent:.3f}"


def priorband_weights(
    evaluations: list[Evaluation],
    rungs: list[int],
    eta: int,
    prior: Prior,
    configs: dict[str, dict[str, Any]],
    base_rung: int = 0,
) -> Weights:
    """PriorBand's weights for a configuration that starts at ``base_rung`` (ASHA starts every
    new configuration at its first rung).

    Uniform: 1 / (1 + eta^base_rung), the prior the rest (the paper's geometric weights:
    configurations started at a higher rung cost more, so they trust the prior more). Once
    there is evidence, which PriorBand takes to be (1) an evaluation at the full budget, (2)
    one successive-halving bracket's worth of epochs spent, and (3) a rung with at least eta
    evaluations, the prior's share is split between the prior and the incumbent (the best
    evaluation so far) by how likely the top 1/eta of the highest such rung are under each:
    scores sum_i w_i p(top_i), w = K, K-1, ..., 1 for the K best, best first."""
    w_uniform = 1 / (1 + eta**base_rung)
    w_prior = 1 - w_uniform
    top_rung = len(rungs) - 1
    spent = sum(rungs[e.rung] - (rungs[e.rung - 1] if e.rung else 0) for e in evaluations)
    counts = np.bincount([e.rung for e in evaluations], minlength=len(rungs))
    if (
        not any(e.rung == top_rung for e in evaluations)
        or spent < sh_bracket_cost(rungs, eta)
        or not (counts >= eta).any()
    ):
        return Weights(w_prior, w_uniform, 0.0)
    rung = int(np.flatnonzero(counts >= eta).max())
    at_rung = sorted((e for e in evaluations if e.rung == rung), key=lambda e: -e.value)
    top = at_rung[: len(at_rung) // eta]
    incumbent = max(evaluations, key=lambda e: e.value)  # (the first of equal ones)
    around = prior.centered_at(configs[incumbent.trial_id])
    rank_weights = range(len(top), 0, -1)
    prior_score = sum(
        w * prior.pdf(configs[e.trial_id]) for w, e in zip(rank_weights, top, strict=True)
    )
    inc_score = sum(
        w * around.pdf(configs[e.trial_id]) for w, e in zip(rank_weights, top, strict=True)
    )
    total = prior_score + inc_score
    share = 0.5 if total == 0 or not math.isfinite(total) else inc_score / total
    return Weights(w_prior * (1 - share), w_uniform, w_prior * share, incumbent.trial_id)


class PriorBandSearcher(Searcher):
    """Suggests configurations as PriorBand samples them (see the module's text)."""

    def __init__(
        self,
        prior: Prior,
        *,
        grace_period: int,
        reduction_factor: int,
        max_epochs: int,
        metric: str | None = None,
        mode: str | None = None,
        seed: int = 0,
        prior_mode: str = "first-rung",
    ) -> None:
        super().__init__()
        if prior_mode not in PRIOR_MODES:
            raise ValueError(f"prior_mode {prior_mode!r}: one of {', '.join(PRIOR_MODES)}")
        self.prior_mode = prior_mode
        self.rank_metric, self.rank_mode = metric or "", mode or ""  # ("": Tune's, once set)
        self.prior = prior
        self.eta = reduction_factor
        self.rungs = fidelities(grace_period, reduction_factor, max_epochs)
        self.rng = np.random.default_rng(seed)
        self.configs: dict[str, dict[str, Any]] = {}  # trial id -> the keys it was given
        self.evaluations: dict[tuple[str, int], Evaluation] = {}  # (trial, rung) -> value
        self.history: list[tuple[str, str, Weights]] = []  # (trial, source, weights then)

    @property
    def metric(self) -> str:
        return self.rank_metric

    @property
    def mode(self) -> str:
        return self.rank_mode

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict, **spec: Any
    ) -> bool:
        """Tune's metric and mode, unless given at construction (the space is the prior's)."""
        self.rank_metric = self.rank_metric or metric or ""
        self.rank_mode = self.rank_mode or mode or ""
        return True

    def weights(self) -> Weights:
        return priorband_weights(
            list(self.evaluations.values()), self.rungs, self.eta, self.prior, self.configs
        )

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        weights = self.weights()
        annotations: dict[str, Any] = {}
        probabilities = [weights.prior, weights.uniform, weights.incumbent]
        source = (
            PRIOR_MODE  # the first draw, where something is believed
            if not self.history and self.prior.beliefs and self.prior_mode != "none"
            else SOURCES[int(self.rng.choice(3, p=np.array(probabilities) / sum(probabilities)))]
        )
        if source == PRIOR_MODE:
            config = self.prior.mode(self.rng)
            if self.prior_mode == "full-budget":
                annotations[FULL_BUDGET] = True
        elif source == PRIOR:
            config = self.prior.sample(self.rng)
        elif source == UNIFORM:
            config = Prior(self.prior.dims, {}).sample(self.rng)
        else:
            config = mutate(
                self.configs[str(weights.incumbent_trial)],
                self.prior.dims,
                self.rng,
                MUTATION_RATE,
                MUTATION_STD,
            )
        self.configs[trial_id] = config
        self.history.append((trial_id, source, weights))
        return {
            **config,
            SAMPLED_FROM: source,
            SAMPLING_WEIGHTS: weights.as_text(),
            SAMPLE_NUMBER: len(self.history),
            **annotations,
        }

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """A trial's metric at each rung it reaches: its first report at or past the rung."""
        value = result.get(self.metric)
        if trial_id not in self.configs or not isinstance(value, (int, float)):
            return
        value = float(value) if self.mode != "min" else -float(value)
        if not math.isfinite(value):
            value = -math.inf  # a diverged trial ranks last
        epoch = int(result.get(TRAINING_ITERATION, 0))
        for rung, milestone in enumerate(self.rungs):
            if epoch >= milestone and (trial_id, rung) not in self.evaluations:
                self.evaluations[(trial_id, rung)] = Evaluation(trial_id, rung, value)

    def on_trial_complete(
        self, trial_id: str, result: dict | None = None, error: bool = False
    ) -> None:
        if result and not error:
            self.on_trial_result(trial_id, result)

    def save(self, checkpoint_path: str) -> None:
        """Tune's searcher checkpoint (a resumed search goes on with the same evidence and
        random stream); a pickle, as Tune's own searcher states are."""
        with open(checkpoint_path, "wb") as f:
            pickle.dump(self.__dict__, f)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as f:
            self.__dict__.update(pickle.load(f))
