"""Tune's per-trial result files, kept whole in the experiment folder (a Tune callback).

Tune's driver writes each trial's ``result.json`` and ``progress.csv`` in a staging folder and
copies them into the experiment (a local folder or object storage) every so often. When a trial
starts again (PBT pauses and restarts its trials at every perturbation; a failed trial is
retried), Tune's loggers first copy the experiment's copy back over the staging one
(``ray.tune.logger.logger.LoggerCallback._restore_from_remote``), and the epochs reported
since the last copy are lost: seen under PBT as result.json files missing 2 to 4 of 8 epochs.

``KeepResultFiles`` runs before Tune's loggers (Tune appends its own callbacks after the
run config's) and copies the staging files into the experiment first whenever they are longer;
and once more when the run ends, since Tune's own last upload was seen one epoch short in
object storage (about one run in four of the kill-and-resume test).

That copy is not enough on its own: Tune uploads the staging folder from a background thread,
and an upload of a trial's file that is under way while the trial starts again (a PBT
restart) leaves the stored copy partial, even empty, for the moment Tune's logger copies it
back: the staging file then starts over at the epoch the trial continues from (#31: a PBT
result.json that began at epoch 5, its progress.csv whole, since Tune's CSV logger keeps its
file open across restarts and copies nothing back). So the callback also holds the staging
files as they were when the trial started again and, at the trial's next result (before Tune's
loggers append it), puts back any that came back shorter.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from ray.tune import Callback
from ray.tune.experiment import Trial

from tune_cifar.constants import PROGRESS_FILE, RESULT_FILE
from tune_cifar.errors import TuneCifarError
from tune_cifar.storage import RESULT_FILES, storage_place, upload

GROWING = (RESULT_FILE, PROGRESS_FILE)  # what a restarted trial's loggers append to


def trial_folder(trial: Trial, staged: bool = False) -> Path:
    """The trial's folder in the experiment (its path or URI path), or with ``staged`` the
    driver's staging copy of it; every trial the controller reports on has both."""
    path = trial.local_path if staged else trial.path
    if path is None:
        raise TuneCifarError(f"trial {trial.trial_id} has no folder yet")
    return Path(path)


class KeepResultFiles(Callback):
    """Copies a trial's result files into the experiment at ``location`` (a path or URI)
    before Tune restores them, whenever the driver's are longer."""

    def __init__(self, location: str) -> None:
        self.location = location
        self._warned = False
        # trial id -> its staging files' bytes when it started again, until its next result
        self._held: dict[str, dict[str, bytes]] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_held": {}}  # (Tune pickles its callbacks with the run)

    def keep(self, trial: Trial, names: tuple[str, ...]) -> None:
        place = storage_place(self.location)
        folder = trial_folder(trial)
        # a local experiment: the trial's folder where Tune has it now (a resumed experiment
        # may have been moved since this callback was pickled with it)
        place = storage_place(folder) if place.is_local else place.child(folder.name)
        staged = trial_folder(trial, staged=True)
        for name in names:
            target = place.child(name)
            # only ever longer: these files grow, and a copy that is not longer than the
            # stored one (a restored trial's, say) has nothing to add
            if (staged / name).is_file() and (staged / name).stat().st_size > (
                target.fs.get_file_info(target.path).size or 0
            ):
                target.fs.create_dir(place.path, recursive=True)
                upload(staged / name, target)

    def _safely(self, trial: Trial, names: tuple[str, ...]) -> None:
        """A copy that fails is said once, on stderr; the search goes on (Tune's own copies
        continue)."""
        try:
            self.keep(trial, names)
        except Exception as exc:
            if not self._warned:
                self._warned = True
                print(
                    f"tune-cifar: warning: the result files of trial {trial.trial_id} could "
                    f"not be copied into the experiment ({type(exc).__name__}: {exc}); the "
                    "search goes on",
                    file=sys.stderr,
                )

    def on_trial_start(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._safely(trial, GROWING)
        try:
            staged = trial_folder(trial, staged=True)
            held = {n: (staged / n).read_bytes() for n in GROWING if (staged / n).is_file()}
        except (OSError, TuneCifarError):
            return  # nothing to hold: Tune's loggers start the files
        if held:
            self._held[trial.trial_id] = held

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any
    ) -> None:
        """Before Tune's loggers append the result: a staging file that Tune's logger copied
        back shorter than it was when the trial started again gets its rows back (Tune's
        logger appends to the same file, so it goes on after them)."""
        held = self._held.pop(trial.trial_id, None)
        if not held:
            return
        staged = trial_folder(trial, staged=True)
        for name, data in held.items():
            path = staged / name
            if not path.is_file() or path.stat().st_size < len(data):
                path.write_bytes(data)

    def on_trial_complete(
        self, iteration: int, trials: list[Trial], trial: Trial, **info: Any
    ) -> None:
        self._held.pop(trial.trial_id, None)

    on_trial_error = on_trial_complete

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        for trial in trials:
            self._safely(trial, RESULT_FILES)
