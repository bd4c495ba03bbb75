"""Flag trials that went wrong in ways a person should look at.

- **train up, validation at chance**: training accuracy climbs while validation accuracy stays
  near 1/10, the signature of the seed's shared-BatchNorm bug (train 0.91, val 0.10): the
  model computes something else in eval mode than in training mode;
- **diverged**: the loss became NaN or inf.

    for finding in diagnose(exp): print(finding.trial_id, finding.kind, finding.explanation)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tune_cifar.analysis._frames import Experiment

CHANCE = 0.1
NEAR_CHANCE = 0.2  # validation accuracy at or below this counts as "near chance"
TRAIN_CLIMB = 0.2  # training accuracy at least this far above chance


@dataclass(frozen=True)
class Finding:
    trial_id: str
    kind: str
    explanation: str


def diagnose(exp: Experiment) -> list[Finding]:
    """The findings, trial by trial in the order the trials were read (computed for all
    trials at once: an experiment of ten thousand trials is one pass)."""
    epochs = exp.epochs.sort_values(["trial_id", "epoch"], kind="stable")
    if epochs.empty:
        return []
    losses = epochs[["train_loss", "val_loss"]].astype(float)
    bad = ~np.isfinite(losses.to_numpy()).all(axis=1)
    first_bad = epochs.loc[bad].groupby("trial_id")["epoch"].min()
    groups = epochs.groupby("trial_id", sort=False)
    train = pd.DataFrame(
        {  # each trial's first and last epoch's training accuracy, as is
            "first": epochs.drop_duplicates("trial_id", keep="first").set_index("trial_id")[
                "train_acc"
            ],
            "last": epochs.drop_duplicates("trial_id", keep="last").set_index("trial_id")[
                "train_acc"
            ],
        }
    ).astype(float)
    val_max = groups["val_acc"].max().astype(float)
    count = groups.size()
    findings = []
    for trial_id in exp.epochs["trial_id"].drop_duplicates():
        if trial_id in first_bad.index:
            findings.append(
                Finding(
                    str(trial_id),
                    "diverged",
                    f"the loss became NaN/inf at epoch {int(first_bad[trial_id])}: the learning "
                    "rate is too high for this optimizer and batch size (or the schedule's peak "
                    "is)",
                )
            )
            continue
        first, last = train.loc[trial_id, "first"], train.loc[trial_id, "last"]
        if (
            last >= CHANCE + TRAIN_CLIMB
            and last > first
            and val_max[trial_id] <= NEAR_CHANCE
            and count[trial_id] >= 2
        ):
            findings.append(
                Finding(
                    str(trial_id),
                    "train up, validation at chance",
                    f"training accuracy climbed to {last:.2f} while validation "
                    f"accuracy stayed at {val_max[trial_id]:.2f} or below (chance {CHANCE:.2f}): "
                    "eval mode computes something else than training, e.g. BatchNorm running "
                    "statistics that do not match (the seed's shared-BatchNorm bug)",
                )
            )
    return findings
