"""When can early stopping be trusted? How well each epoch's ranking of the trials predicts
their final ranking.

For the trials that trained every epoch (only they have a final value), the Spearman rank
correlation between their validation accuracy at epoch e and their final value (the best
epoch, as every command selects it), for each e. The ranking is stable from the first epoch
after which the correlation stays at or above ``STABLE_RHO``: the grace period this space
needed. An ASHA rung before it compared trials by a ranking that had not settled yet, and may
have stopped the configuration that would have won.

    stability = rank_stability(load_experiment(EXP))    # None with fewer than 3 such trials
    print(stability.summary())
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from tune_cifar.analysis._frames import Experiment
from tune_cifar.metrics import DONE, METRIC, POPULATION_SCHEDULERS, RUNG_SCHEDULERS

STABLE_RHO = 0.8  # Spearman correlation from which a ranking counts as settled
MIN_TRIALS = 3  # trials that ran every epoch, at the fewest, for a correlation worth a line


@dataclass(frozen=True)
class RankStability:
    epochs: list[int]
    rho: list[float]  # Spearman correlation with the final ranking, per epoch (nan: ties only)
    trials: int  # trials that trained every epoch
    stable_from: int | None  # first epoch from which rho stays >= STABLE_RHO
    grace_period: int | None  # ASHA's, when the search used ASHA

    def summary(self) -> str:
        first = (
            f"{self.rho[0]:.2f} after epoch {self.epochs[0]}"
            if np.isfinite(self.rho[0])
            else f"undefined after epoch {self.epochs[0]} (all tied)"
        )
        line = (
            f"rank stability ({self.trials} trials that ran every epoch): Spearman with "
            f"the final ranking {first}; "
        )
        if self.stable_from is None:
            line += f"it never stays at {STABLE_RHO} or above"
        else:
            line += f"at {STABLE_RHO} or above from epoch {self.stable_from} on"
        if self.grace_period is None:
            return line
        if self.stable_from is None:
            return line + (
                f"; ASHA (grace period {self.grace_period}) stopped trials on a "
                "ranking that never settled"
            )
        if self.grace_period < self.stable_from:
            return line + (
                f"; ASHA's grace period was {self.grace_period}: its first rung "
                "judged trials by a ranking that had not settled"
            )
        return line + f"; ASHA's grace period ({self.grace_period}) waited long enough"


def rank_stability(exp: Experiment) -> RankStability | None:
    """The correlation per epoch, or None with fewer than MIN_TRIALS trials that ran every
    epoch (or trials of one epoch)."""
    from scipy.stats import spearmanr

    if exp.spec["options"].get("scheduler") in POPULATION_SCHEDULERS:
        return None  # its trials continue each other's weights: their rankings are not apart
    done = exp.trials[exp.trials["status"] == DONE]
    if len(done) < MIN_TRIALS or exp.max_epochs < 2:  # one epoch: nothing early to judge
        return None
    final = done.set_index("trial_id")[f"best_{METRIC}"].astype(float)
    curves = (
        exp.epochs[exp.epochs["trial_id"].isin(final.index)].pivot_table(
            index="epoch", columns="trial_id", values=METRIC
        )
    )[final.index]
    epochs, rho = [], []
    for epoch, values in curves.iterrows():
        if values.isna().any():
            continue
        if values.nunique() < 2 or final.nunique() < 2:  # all tied: no ranking to compare
            r = math.nan
        else:
            r = float(spearmanr(values.to_numpy(), final.to_numpy()).statistic)
        epochs.append(int(epoch))
        rho.append(r)
    stable_from = None
    for i in range(len(epochs)):
        if all(np.isfinite(r) and r >= STABLE_RHO for r in rho[i:]):
            stable_from = epochs[i]
            break
    opts = exp.spec["options"]
    grace = int(opts["grace_period"]) if opts.get("scheduler") in RUNG_SCHEDULERS else None
    return RankStability(epochs, rho, len(done), stable_from, grace)
