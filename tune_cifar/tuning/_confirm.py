"""``tune-cifar confirm EXP --top K --seeds N``: is the winner still the winner with new seeds?

A search picks its best configuration from one run of each, on the holdout validation split;
a lucky seed can carry it. Confirmation re-trains the top K configurations (by best holdout
val_acc, duplicates removed) with N seeds the search did not use, for the search's epochs, as
a tune-cifar experiment of its own in ``EXP/confirm/``. Of a PBT / PB2 search it re-trains
the top K schedules: each trial's hyperparameters along the path that made its best epoch's
weights (``tune_cifar.results.best_schedule``), changed at the same epochs, the last
configuration kept to the search's last epoch. It then evaluates each run's selected
checkpoint (its best holdout epoch) on the test set, once. Per configuration it reports the
mean test accuracy, its sample standard deviation and a 95% confidence interval for the mean
(Student's t with N - 1 degrees of freedom: mean ± t * sd / sqrt(N)).

    result = run_confirmation(Path(EXP), top=3, seeds=3)
    print(result.summary)        # one row per configuration
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tune_cifar.constants import (
    CONFIRM_DIR,
    CONFIRM_RUNS_FILE,
    CONFIRM_SPACE_FILE,
    CONFIRM_SUMMARY_FILE,
    TRAINING_ITERATION,
)
from tune_cifar.data import DataBundle, DataSpec, load_data
from tune_cifar.errors import UsageError
from tune_cifar.metrics import METRIC
from tune_cifar.results import (
    Confirmation,
    best_row,
    best_schedule,
    load_trials,
    read_spec,
    summarize,
)
from tune_cifar.storage import Place, hold_experiment, local_copy, storage_place, upload
from tune_cifar.train import SCHEDULE_KEY, encode_schedule, split_schedule
from tune_cifar.tuning._options import SearchOptions


def top_configs(folder: Path, top: int) -> list[tuple[str, float, dict[str, Any]]]:
    """(trial id, best val_acc, config) of the ``top`` best distinct configurations. A trial
    of a population search (PBT / PB2) stands for the schedule that made its best epoch's
    weights: the config of its first epoch carrying the later changes (``SCHEDULE_KEY``)."""
    ranked = []
    trials = load_trials(folder)
    for trial in trials:
        found = best_row(trial)
        if found is None:
            continue
        value, epoch = float(found[0][METRIC]), int(found[0][TRAINING_ITERATION])
        config = trial.config
        planned = best_schedule(trials, trial.trial_id, epoch)
        if planned is not None:
            steps = planned[1]
            config = {**steps[0][1], SCHEDULE_KEY: encode_schedule(steps)}
        ranked.append((value, trial.trial_id, config))
    ranked.sort(key=lambda r: r[0], reverse=True)
    chosen, seen = [], set()
    for value, trial_id, config in ranked:
        key = _without_seed(config)
        if key not in seen:
            seen.add(key)
            chosen.append((trial_id, value, config))
        if len(chosen) == top:
            break
    return chosen


def _without_seed(config: dict[str, Any]) -> tuple:
    """A configuration as every key resolves (defaults and presets filled in), with each
    configuration of its schedule if it carries one, seed aside."""
    _, schedule = split_schedule({k: v for k, v in config.items() if k != "seed"})
    return tuple(
        (epoch, tuple(sorted((k, v) for k, v in cfg.to_dict().items() if k != "seed")))
        for epoch, cfg in sorted(schedule.items())
    )


def write_points_space(
    path: Path, folder: Path, points: list[dict[str, Any]], top: int, seeds: list[int]
) -> None:
    """The configurations to re-train as a JSON space file (data: nothing in it is run)."""
    what = "schedules" if any(p.get(SCHEDULE_KEY) for p in points) else "configurations"
    description = f"tune-cifar confirm: the top {top} {what} of {folder.name} x seeds {seeds}"
    path.write_text(json.dumps({"description": description, "points": points}, indent=1) + "\n")


def run_confirmation(
    location: Path | str,
    top: int = 3,
    seeds: int = 3,
    overwrite: bool = False,
    bundle: DataBundle | None = None,
    argv: list[str] | None = None,
) -> Confirmation:
    """Re-train the top configurations with new seeds, then test each selected checkpoint;
    ``location``: the experiment's folder or its ``s3://`` / ``gs://`` URI."""
    for flag, value in (("--top", top), ("--seeds", seeds)):
        if value < 1:
            raise UsageError(f"{flag} must be positive, got {value}")
    place = storage_place(location)
    folder = local_copy(place)
    spec = read_spec(folder)
    # not while its search runs or resumes
    with hold_experiment(folder if place.is_local else place, "confirmation"):
        return _confirm(place, folder, spec, top, seeds, overwrite, bundle, argv)


def _confirm(
    place: Place,
    folder: Path,
    spec: dict[str, Any],
    top: int,
    seeds: int,
    overwrite: bool,
    bundle: DataBundle | None,
    argv: list[str] | None,
) -> Confirmation:
    from tune_cifar.tuning._run import run_search  # (it runs confirmations too)

    chosen = top_configs(folder, top)
    if not chosen:
        raise UsageError(f"experiment {place.uri} has no trial with a result yet")
    target_place = place.child(CONFIRM_DIR)
    if target_place.exists() and not overwrite:
        raise UsageError(
            f"{target_place.uri} already exists: this experiment was confirmed "
            "before; pass --overwrite to run it again"
        )
    opts = SearchOptions.from_record(spec["options"])
    seed_list = [opts.seed + 1 + i for i in range(seeds)]  # not the search's seed
    points = [{**config, "seed": s} for _, _, config in chosen for s in seed_list]
    space_file = folder / CONFIRM_SPACE_FILE
    write_points_space(space_file, folder, points, len(chosen), seed_list)
    if not place.is_local:
        upload(space_file, place.child(CONFIRM_SPACE_FILE))  # the record of what was re-trained
    data_spec = DataSpec(**spec["data"])
    bundle = bundle or load_data(data_spec)
    confirm_opts = SearchOptions(
        space=str(space_file),
        search="random",
        scheduler="fifo",
        max_epochs=opts.max_epochs,
        max_concurrent=opts.max_concurrent,
        cpus_per_trial=opts.cpus_per_trial,
        gpus_per_trial=opts.gpus_per_trial,
        storage_path=place.uri,
        name=CONFIRM_DIR,
        seed=opts.seed,
        address=opts.address,
        keep_checkpoints=1,
        max_failures=opts.max_failures,
        overwrite=overwrite,
        progress_interval=opts.progress_interval,
    )
    run_search(confirm_opts, data_spec, argv=argv, bundle=bundle)
    target = local_copy(target_place)
    runs = test_runs(target, chosen, bundle)
    result = Confirmation(target, runs, summarize(runs), data_spec.val_source == "test")
    runs.to_csv(target / CONFIRM_RUNS_FILE, index=False)
    result.summary.to_csv(target / CONFIRM_SUMMARY_FILE, index=False)
    if not place.is_local:
        for name in (CONFIRM_RUNS_FILE, CONFIRM_SUMMARY_FILE):
            upload(target / name, target_place.child(name))
    return result


def test_runs(
    target: Path, chosen: list[tuple[str, float, dict[str, Any]]], bundle: DataBundle
) -> pd.DataFrame:
    """One row per confirmation run: its source configuration, seed, best holdout val_acc and
    epoch, and the test accuracy of that epoch's checkpoint."""
    import torch

    from tune_cifar.results import load_model

    source = {
        _without_seed(config): (rank, trial_id, value)
        for rank, (trial_id, value, config) in enumerate(chosen, start=1)
    }
    images = torch.from_numpy(np.ascontiguousarray(bundle.test_x))
    rows = []
    for record in load_trials(target):
        found = best_row(record)
        row, checkpoint = found if found is not None else (None, None)
        if row is None or checkpoint is None:
            continue  # a run that failed, or kept no checkpoint: counted as missing
        rank, trial_id, search_value = source[_without_seed(record.config)]
        probs = load_model(checkpoint, device="auto").probabilities(images)
        rows.append(
            {
                "rank": rank,
                "source_trial": trial_id,
                "search_val_acc": search_value,
                "seed": int(record.config["seed"]),
                "trial_id": record.trial_id,
                "val_acc": float(row[METRIC]),
                "epoch": int(row[TRAINING_ITERATION]),
                "test_acc": float((probs.argmax(1).numpy() == bundle.test_y).mean()),
                "checkpoint": str(checkpoint),
            }
        )
    return pd.DataFrame(rows).sort_values(["rank", "seed"]).reset_index(drop=True)
