"""A PBT schedule as a trial's config carries it: the codec of ``SCHEDULE_KEY``.

steps = [(1, first_config), (5, {**first_config, "lr": 0.0012})]   # a trial's schedule
config = {**steps[0][1], SCHEDULE_KEY: encode_schedule(steps)}      # as a trial's config
first, by_epoch = split_schedule(config)    # TrialConfig, {1: first, 5: changed}
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any

from tune_cifar.config import MUTABLE_KEYS, TrialConfig, check_mutable
from tune_cifar.errors import UsageError

# A trial's config may carry, beside its keys, a replayed PBT schedule (``tune-cifar confirm``
# of a population search): the config is the configuration of epoch 1, and SCHEDULE_KEY holds
# the later changes as JSON text, [[epoch, {mutable key: value, ...}], ...], each in force
# from that epoch on. Text, so that Tune, the journal and the result files carry it as a value.
SCHEDULE_KEY = "schedule"


def encode_schedule(steps: Sequence[tuple[int, Mapping[str, Any]]]) -> str:
    """[(first epoch, configuration)] (``tune_cifar.results.schedule``) as SCHEDULE_KEY's text: the
    changes after the first configuration ("" if there are none)."""
    changes = []
    for (_, before), (epoch, after) in itertools.pairwise(steps):
        changed = {k: after[k] for k in MUTABLE_KEYS if k in after and after[k] != before.get(k)}
        changes.append([int(epoch), changed])
    return json.dumps(changes, sort_keys=True) if changes else ""


def _whole(epoch: Any) -> int:
    """An epoch of a schedule: a whole number (2, or 2.0), never 2.7 read as 2."""
    if (
        isinstance(epoch, bool)
        or not isinstance(epoch, int | float)
        or not float(epoch).is_integer()
    ):
        raise ValueError(f"epoch {epoch!r} is not a whole number")
    return int(epoch)


def split_schedule(config: Mapping[str, Any]) -> tuple[TrialConfig, dict[int, TrialConfig]]:
    """A trial's config as its first configuration and its schedule, {epoch: configuration in
    force from then on} ({1: first} without one). One UsageError line for a schedule that is
    not such JSON, changes a key that cannot change mid-training, or is not in epoch order."""
    text = config.get(SCHEDULE_KEY) or ""
    first = TrialConfig.from_dict({k: v for k, v in config.items() if k != SCHEDULE_KEY})
    schedule = {1: first}
    try:
        steps = json.loads(text) if text else []
        pairs = [(_whole(epoch), dict(changes)) for epoch, changes in steps]
    except (TypeError, ValueError) as exc:
        raise UsageError(
            f"config: {SCHEDULE_KEY} must be JSON [[epoch, {{key: value}}], ...], "
            f"got {text!r} ({exc})"
        ) from None
    current = first
    for epoch, changes in pairs:
        if epoch <= max(schedule):
            raise UsageError(
                f"config: {SCHEDULE_KEY} epochs must rise from 2, got {epoch} after {max(schedule)}"
            )
        check_mutable(list(changes))
        current = TrialConfig.from_dict({**current.to_dict(), **changes})
        schedule[epoch] = current
    return first, schedule
