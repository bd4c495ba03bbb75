"""The spec file: what a search was asked (space, data, flags, versions, the command line),
written when it starts, so that ``resume``, ``analyze``, ``best``, ``evaluate`` and the rest
need only the experiment's folder; and where the experiment holding a path is.

    spec = read_spec(folder)                 # {"options": ..., "data": ..., "space": ...}
    folder = local_target("s3://b/runs/EXP/trial_x")   # EXP's results in the cache, trial_x

The space is recorded with the Optuna distributions of the keys it searches, so that readers
(the journal rebuilt, the analysis' log axes) never import a space file again: reading
results runs no code, and a space file changed since the search does not change its record.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tune_cifar.constants import MAX_EPOCHS, SPEC_FILE
from tune_cifar.errors import UsageError
from tune_cifar.metrics import METRIC
from tune_cifar.storage import Place, check_storage, local_copy, storage_place

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

SPEC_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S%z"  # the spec's "created"
# How far above a path its experiment may be: EXP/trial_x/checkpoint_n/state.pt is three down.
EXPERIMENT_DEPTH = 3


def experiment_root(place: Place) -> tuple[Place, str] | None:
    """The experiment holding ``place`` (the place itself, or a folder up to EXPERIMENT_DEPTH
    above it that holds a spec file), and ``place``'s path inside it ("" for the experiment
    itself); None when there is none. Local folders and object storage alike."""
    root = place
    for _ in range(EXPERIMENT_DEPTH + 1):
        if root.child(SPEC_FILE).exists():
            return root, place.path[len(root.path) :].strip("/")
        parent = root.parent()
        if not parent.path or parent.path == root.path:
            break
        root = parent
    return None


def find_experiment(path: Path) -> Path | None:
    """The local experiment folder holding ``path`` (``experiment_root``), if any."""
    found = experiment_root(storage_place(path))
    return None if found is None else found[0].local


def local_target(location: str | Path) -> Path:
    """A local path to read an experiment (or a checkpoint in one) from: the path itself, or
    for an ``s3://`` / ``gs://`` URI, the results of the experiment holding it (itself or up to
    three levels up) copied into the local cache (``tune_cifar.storage.local_copy``)."""
    place = storage_place(location)
    if place.is_local:
        return place.local
    check_storage(place, "experiment")  # credentials and bucket, before anything is looked for
    found = experiment_root(place)
    if found is None:
        raise UsageError(
            f"{location} is not in a tune-cifar experiment (no {SPEC_FILE} there "
            f"or in the {EXPERIMENT_DEPTH} folders above it)"
        )
    root, relative = found
    folder = local_copy(root)
    return folder / relative if relative else folder


def package_versions() -> dict[str, str]:
    import optuna
    import ray
    import torch

    import tune_cifar

    return {
        "tune_cifar": tune_cifar.__version__,
        "torch": torch.__version__,
        "ray": ray.__version__,
        "optuna": optuna.__version__,
        "python": platform.python_version(),
    }


def write_spec(
    folder: Path,
    options: dict[str, Any],
    data: dict[str, Any],
    space: dict[str, Any],
    argv: list[str] | None,
) -> Path:
    """Record what was asked: the search's ``options`` and ``data`` (as their dataclasses'
    fields), its ``space`` (name, source, description, summary and ``distributions``:
    ``encode_distributions`` of the searched keys), the command line and the versions."""
    spec = {
        "created": time.strftime(SPEC_TIME_FORMAT),
        "command": argv if argv is not None else sys.argv,
        "options": options,
        "data": data,
        "space": space,
        "versions": package_versions(),
    }
    path = folder / SPEC_FILE
    path.write_text(json.dumps(spec, indent=2) + "\n")
    return path


def read_spec(folder: Path) -> dict[str, Any]:
    path = Path(folder) / SPEC_FILE
    if not path.is_file():
        raise UsageError(f"{folder} is not a tune-cifar experiment (no {SPEC_FILE})")
    try:
        spec = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not valid JSON: {exc}") from None
    missing = [
        k for k in ("options", "data", "space") if not isinstance(spec, dict) or k not in spec
    ]
    if missing:
        raise UsageError(f"{path} is not a tune-cifar spec file (no {', '.join(missing)})")
    return spec


TUNER = "tune.Tuner"  # the search and scheduler of an experiment a user's own Tuner ran


def tuner_spec(epoch_rows: list[list[dict[str, Any]]]) -> dict[str, Any] | None:
    """What an experiment a user's own ``tune.Tuner`` ran with ``tune_cifar.trainable`` is
    read with (it has no spec file): its epoch limit, as every trial's reports name it
    (``MAX_EPOCHS``), its search and scheduler the Tuner's, not known here; None where no
    trial reported one (not tune-cifar's trials)."""
    limits = {int(row[MAX_EPOCHS]) for rows in epoch_rows for row in rows if MAX_EPOCHS in row}
    if not limits:
        return None
    return {
        "options": {
            "max_epochs": max(limits),
            "search": TUNER,
            "scheduler": TUNER,
            "objective": [METRIC],
        },
        "data": {},
        "space": {"name": TUNER, "source": TUNER, "description": "a user's tune.Tuner"},
        "created": None,
    }


def encode_distributions(distributions: dict[str, BaseDistribution]) -> dict[str, str]:
    """Optuna distributions as the spec keeps them (Optuna's own JSON of each)."""
    from optuna.distributions import distribution_to_json

    return {key: distribution_to_json(dist) for key, dist in distributions.items()}


def recorded_distributions(spec: dict[str, Any]) -> dict[str, BaseDistribution] | None:
    """The distributions the spec recorded for the searched keys; None for an experiment
    written before specs recorded them (or a record this Optuna cannot read)."""
    from optuna.distributions import json_to_distribution

    recorded = spec["space"].get("distributions")
    if not isinstance(recorded, dict):
        return None
    try:
        return {key: json_to_distribution(text) for key, text in recorded.items()}
    except (TypeError, ValueError, KeyError):
        return None
