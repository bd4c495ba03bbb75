"""How a search's end is told, the same from ``tune-cifar search`` and ``tune_cifar.search``:
trial errors, an interruption or a budget with the command that continues it, the best
trial, the compute and how early the ranking settled."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tune_cifar.storage import storage_place

if TYPE_CHECKING:
    from tune_cifar.analysis import RankStability
    from tune_cifar.tuning import SearchOutcome


def storage_full_line(outcome: SearchOutcome) -> str | None:
    """The one line of a search the storage stopped, or None when it did not."""
    if outcome.storage_full is None:
        return None
    where = storage_place(outcome.experiment_path).parent()
    return (
        f"search stopped: the storage at {where} is full ({outcome.storage_full}); "
        f"{outcome.unfinished} trials unfinished, every complete checkpoint kept. Free space "
        f"there, then continue with: tune-cifar resume {outcome.experiment_path}"
    )


def report_outcome(outcome: SearchOutcome) -> int:
    """Print how a search ended; the command's exit code: 0, 1 when the storage filled up,
    130 when it was interrupted before every trial finished. A one-line TuneCifarError when
    no trial reported a result."""
    from tune_cifar.tuning import raise_if_all_failed

    for error in outcome.errors:
        print(f"trial error: {error}", file=sys.stderr)
    resume = f"tune-cifar resume {outcome.experiment_path}"
    interrupted = outcome.unfinished and (outcome.interrupted or outcome.budget is None)
    full = storage_full_line(outcome)
    if full is not None:
        print(full, file=sys.stderr)
        if outcome.best is not None:
            print(f"so far: {outcome.best.summary().splitlines()[0]}")
        print(f"experiment: {outcome.experiment_path}")
        return 1
    if interrupted:
        print(
            f"search interrupted with {outcome.unfinished} trials unfinished; nothing "
            f"computed is lost. Continue with: {resume}",
            file=sys.stderr,
        )
    elif outcome.budget == "time budget":
        print(
            f"time budget reached with {outcome.unfinished} trials unfinished; continue "
            f"with: {resume}",
            file=sys.stderr,
        )
    elif outcome.budget == "epoch budget":
        print(f"epoch budget reached: {outcome.trial_epochs} trial-epochs", file=sys.stderr)
    best = raise_if_all_failed(outcome)
    print(f"{outcome.num_trials} trials; " + best.summary())
    if outcome.seed_style:
        print(
            "  seed-style: validation was the test set, so this val_acc is a test accuracy "
            "selected on the test set"
        )
    if outcome.compute is not None:
        print(outcome.compute.summary())
    stability = rank_stability_of(outcome.experiment_path)
    if stability is not None:
        print(stability.summary())
    print(f"experiment: {outcome.experiment_path}")
    return 130 if interrupted else 0


def rank_stability_of(location: Path | str) -> RankStability | None:
    """How early the experiment's ranking settled, once enough trials ran every epoch."""
    from tune_cifar.analysis import load_experiment, rank_stability
    from tune_cifar.results import local_target

    return rank_stability(load_experiment(local_target(location)))
