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
    findings = []
    for trial_id, rows in exp.epochs.groupby("trial_id", sort=False):
        rows = rows.sort_values("epoch")
        train_acc = rows["train_acc"].astype(float)
        val_acc = rows["val_acc"].astype(float)
        losses = rows[["train_loss", "val_loss"]].astype(float).to_numpy()
        if not np.isfinite(losses).all():
            bad = int(rows["epoch"].iloc[int(np.argmax(~np.isfinite(losses).all(axis=1)))])
            findings.append(
                Finding(
                    str(trial_id),
                    "diverged",
                    f"the loss became NaN/inf at epoch {bad}: the learning rate is too high for "
                    "this optimizer and batch size (or the schedule's peak is)",
                )
            )
            continue
        if (
            train_acc.iloc[-1] >= CHANCE + TRAIN_CLIMB
            and train_acc.iloc[-1] > train_acc.iloc[0]
            and val_acc.max() <= NEAR_CHANCE
            and len(rows) >= 2
        ):
            findings.append(
                Finding(
                    str(trial_id),
                    "train up, validation at chance",
                    f"training accuracy climbed to {train_acc.iloc[-1]:.2f} while validation "
                    f"accuracy stayed at {val_acc.max():.2f} or below (chance {CHANCE:.2f}): eval "
                    "mode computes something else than training, e.g. BatchNorm running statistics "
                    "that do not match (the seed's shared-BatchNorm bug)",
                )
            )
    return findings
