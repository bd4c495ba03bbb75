"""Population-based training read back from an experiment's reports.

Under ``--scheduler pbt`` / ``pb2`` a trial may continue from a stronger trial's checkpoint
under mutated hyperparameters; every report names the trial's lineage (``lineage``: "A@1
X@5": epochs 1-4 trained by trial A, from epoch 5 on by X) and carries the configuration it
trained under (``config/*``). From those:

    path(trial, trials)       the reports, epoch by epoch, that made a trial's weights
    schedule(path)            the hyperparameters along it: [(epoch, config)] where they change
    copies(trials)            every copy: which trial took whose weights at which epoch

``tune-cifar best`` prints the best trial's schedule, ``analyze`` draws it for every trial,
and ``tune-cifar train --replay EXP`` trains it again from scratch (as Ray's
``PopulationBasedTrainingReplay`` replays a policy file; Ray writes its policy files to the
driver's staging folder, not with the experiment, so the lineage is reported instead).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tune_cifar.config import MUTABLE_KEYS, TrialConfig
from tune_cifar.constants import CONFIG_PREFIX, LINEAGE, TRAINING_ITERATION
from tune_cifar.data import DataSpec
from tune_cifar.errors import UsageError
from tune_cifar.metrics import format_lineage, parse_lineage
from tune_cifar.results._best import best_of, best_row
from tune_cifar.results._spec import read_spec
from tune_cifar.results._trials import TrialRecord, format_value, load_trials, row_config
from tune_cifar.storage import shown


def is_population(trials: list[TrialRecord]) -> bool:
    """Whether the trials were trained by PBT / PB2 (they report their lineage)."""
    return any(t.population for t in trials)


def trained_as_configured(trial: TrialRecord) -> bool:
    """Whether every epoch of ``trial`` was trained by itself under its first configuration:
    never a copy of another trial's weights, never a mutation. Only such a trial's value was
    produced by its configuration (what a warm start may tell TPE)."""
    if not trial.population:
        return True
    first = row_config(trial.rows[0])
    return all(
        parse_lineage(r[LINEAGE]) == [(trial.trial_id, 1)] and row_config(r) == first
        for r in trial.rows
    )


def path(trial: TrialRecord, trials: list[TrialRecord], epoch: int | None = None) -> pd.DataFrame:
    """The reports that made ``trial``'s weights at ``epoch`` (default: its last report), one
    per epoch: its own since its last copy and, before, those of the trials it descends from.

    A donor's reports on this path are the ones whose lineage is the path's up to the donor:
    a donor that was itself restarted later reported those epochs again, on another path."""
    if not trial.population:
        return trial.metrics
    reports = trial.reports
    end = (
        reports.iloc[-1]
        if epoch is None
        else reports[reports[TRAINING_ITERATION] == epoch].iloc[-1]
    )
    lineage = parse_lineage(end[LINEAGE])
    last = int(end[TRAINING_ITERATION])
    by_id = {t.trial_id: t for t in trials}
    pieces = []
    for i, (owner, first) in enumerate(lineage):
        until = lineage[i + 1][1] - 1 if i + 1 < len(lineage) else last
        if owner not in by_id:
            raise UsageError(
                f"trial {trial.trial_id} continued trial {owner}'s weights, whose "
                "folder is not in the experiment"
            )
        rows = by_id[owner].reports
        rows = rows[
            (rows[LINEAGE] == format_lineage(lineage[: i + 1]))
            & rows[TRAINING_ITERATION].between(first, until)
        ]
        pieces.append(rows.drop_duplicates(TRAINING_ITERATION, keep="last"))
    return pd.concat(pieces, ignore_index=True)


def schedule(reports: pd.DataFrame) -> list[tuple[int, dict[str, Any]]]:
    """[(first epoch, configuration)] along ``reports`` (a ``path``): the whole configuration
    at the first epoch, then each change of the mutable keys with the epoch it took effect."""
    out: list[tuple[int, dict[str, Any]]] = []
    for _, row in reports.iterrows():
        config = row_config(row)
        if not out or any(config.get(k) != out[-1][1].get(k) for k in MUTABLE_KEYS):
            out.append((int(row[TRAINING_ITERATION]), config))
    return out


def schedule_configs(steps: list[tuple[int, dict[str, Any]]]) -> dict[int, TrialConfig]:
    """A schedule as validated configurations by the epoch each starts at."""
    return {epoch: TrialConfig.from_dict(config) for epoch, config in steps}


def mutated_keys(trials: list[TrialRecord]) -> list[str]:
    """The mutable keys whose values differ anywhere in the population's reports."""
    changed = []
    for key in MUTABLE_KEYS:
        column = f"{CONFIG_PREFIX}{key}"
        if len({repr(r[column]) for t in trials for r in t.rows if column in r}) > 1:
            changed.append(key)
    return changed


def describe_schedule(steps: list[tuple[int, dict[str, Any]]], keys: list[str]) -> list[str]:
    """One line per step: "from epoch 5: lr=0.0012" (``keys``: the mutated keys; each line
    after the first names only those that changed)."""
    lines = []
    for i, (first, config) in enumerate(steps):
        shown = {k: config[k] for k in keys if k in config}
        if i:
            before = steps[i - 1][1]
            shown = {k: v for k, v in shown.items() if v != before.get(k)}
        values = " ".join(f"{k}={format_value(v)}" for k, v in shown.items())
        lines.append(f"from epoch {first}: {values}")
    return lines


def copies(trials: list[TrialRecord]) -> pd.DataFrame:
    """Every exploit of the population: the trial, the first epoch it trained on the copied
    weights, the trial it copied them from (after that trial's previous epoch), and the mutable
    keys that changed from the donor's configuration then. A trial that copies the same
    checkpoint again (asynchronous PBT does, while the donor waits for its turn) counts again."""
    by_id = {t.trial_id: t for t in trials}
    rows = []
    for trial in trials:
        if not trial.population:
            continue
        previous: tuple[str, int] | None = None
        for _, report in trial.reports.iterrows():
            text, epoch = str(report[LINEAGE]), int(report[TRAINING_ITERATION])
            lineage = parse_lineage(text)
            # a copy starts where the lineage ends in this trial at this epoch, and the report
            # before it was on another lineage or at a later epoch (trained again)
            starts = (
                len(lineage) > 1
                and lineage[-1] == (trial.trial_id, epoch)
                and (previous is None or previous[0] != text or previous[1] >= epoch)
            )
            previous = (text, epoch)
            if not starts:
                continue
            donor = lineage[-2][0]
            after = row_config(report)
            before: dict[str, Any] = {}
            if donor in by_id:  # the donor's report the copied checkpoint was saved with
                reports = by_id[donor].reports
                match = reports[
                    (reports[LINEAGE] == format_lineage(lineage[:-1]))
                    & (reports[TRAINING_ITERATION] == epoch - 1)
                ]
                before = row_config(match.iloc[-1]) if not match.empty else {}
            changed = {
                k: (before.get(k), after.get(k))
                for k in MUTABLE_KEYS
                if k in after and before.get(k) != after.get(k)
            }
            rows.append(
                {"trial_id": trial.trial_id, "epoch": epoch, "donor": donor, "changed": changed}
            )
    frame = pd.DataFrame(rows, columns=["trial_id", "epoch", "donor", "changed"])
    return frame.sort_values(["epoch", "trial_id"], ignore_index=True, kind="stable")


def best_schedule(
    trials: list[TrialRecord], trial_id: str, epoch: int
) -> tuple[str, list[tuple[int, dict[str, Any]]]] | None:
    """(lineage, schedule) of the weights ``trial_id`` had at ``epoch`` (``path``,
    ``schedule``); None for trials not trained by a population."""
    trial = next((t for t in trials if t.trial_id == trial_id), None)
    if trial is None or not trial.population:
        return None
    reports = path(trial, trials, epoch)
    end = trial.reports[trial.reports[TRAINING_ITERATION] == epoch].iloc[-1]
    return str(end[LINEAGE]), schedule(reports)


@dataclass(frozen=True)
class ReplayPlan:
    """What ``tune-cifar train --replay EXP`` trains: a trial's schedule up to an epoch."""

    trial_id: str
    epoch: int  # the schedule's last epoch: the trial's best, or the one asked for
    lineage: str
    schedule: dict[int, TrialConfig]  # {first epoch: configuration from then on}
    data: DataSpec  # the experiment's data
    epochs: int  # epochs to train: those asked for, else ``epoch``


def replay_plan(folder: Path, trial_id: str | None = None, epochs: int | None = None) -> ReplayPlan:
    """The schedule of the experiment's best trial (or ``trial_id``) up to its best epoch, on
    the experiment's data, for ``epochs`` (else to that epoch). One UsageError line for an
    experiment without results, a trial it does not have, or a search that was no population."""
    spec = read_spec(folder)
    trials = load_trials(folder)
    if trial_id is None:
        best = best_of(trials)
        if best is None:
            raise UsageError(f"experiment {shown(folder)} has no trial with a result yet")
        trial_id, epoch = best.trial_id, best.epoch
    else:
        trial = next((t for t in trials if t.trial_id == trial_id), None)
        found = best_row(trial) if trial is not None else None
        if found is None:
            known = ", ".join(t.trial_id for t in trials)
            raise UsageError(
                f"--trial {trial_id}: no such trial with a result in "
                f"{shown(folder)} (trials: {known})"
            )
        epoch = int(found[0][TRAINING_ITERATION])
    planned = best_schedule(trials, trial_id, epoch)
    if planned is None:
        raise UsageError(
            f"experiment {shown(folder)} was not a --scheduler pbt/pb2 search: its "
            "trials kept their configurations; train one with --config"
        )
    lineage, steps = planned
    return ReplayPlan(
        trial_id, epoch, lineage, schedule_configs(steps), DataSpec(**spec["data"]), epochs or epoch
    )
