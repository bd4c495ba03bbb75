"""Every use tune-cifar makes of private Ray APIs, in one place, written for Ray 2.60; on a Ray
without them, each fails with one line naming the version it was written for.

1. ``ray.train._internal.checkpoint_manager._delete_fs_path``, the function Tune's checkpoint
   manager calls to delete a checkpoint that retention dropped: wrapped, so that a deletion
   waits until Tune's saved state no longer names the checkpoint (below).
2. Ray's ``OptunaSearch`` keeps its Optuna study in ``_ot_study``, the Optuna trial of each
   Tune trial in ``_ot_trials`` and the trials it has told in ``_completed_trials``:
   ``tell_optuna`` tells the study how a trial ended in Optuna's own terms (pruned, complete,
   failed; ``tune_cifar.tuning._optuna``), which Ray's public API cannot.
3. A trial's ``StorageContext`` (``Trial.storage``, ``ray.train._internal.storage``): where
   the trial's folder is in the experiment's file system (``trial_storage``), for the file
   that says asha-promote stopped a waiting trial (``tune_cifar.tuning._promotion``).
4. ``TBXLoggerCallback`` keeps a trial's TensorBoardX writer in ``_trial_writer`` and the
   values shown beside its hyperparameters in ``_trial_result`` (``tbx_writer``,
   ``set_tbx_hparam_values``): tune-cifar's TensorBoard files keep Tune's placement,
   syncing and HParams, with readable tags (``tune_cifar.tuning.callbacks``).
5. A trial's ``run_metadata`` (``ray.tune.trainable.metadata._TrainingRunMetadata``) keeps,
   for every numeric key of its results, deques of the last 5 and 10 values
   (``metric_n_steps``) for its running averages: ``forget_step_history`` drops them once
   the trial has ended and reports no more (at 1,300 one-epoch trials they were 35 MiB of
   the driver, and 40% of each trial's entry in the experiment state Tune rewrites every
   two seconds).
6. Ray's ``MLflowLoggerCallback`` keeps the MLflow run of each trial in ``_trial_runs``
   (trial -> run id) and empties it at setup: ``trial_run`` reads it, ``adopt_trial_run``
   gives a resumed trial the run it had (``tune_cifar.tuning.callbacks``, MLflowRuns).
7. Ray's ``WandbLoggerCallback`` keeps each trial's logging actor in
   ``_trial_logging_actors`` and tells one to finish its W&B run with
   ``_signal_logging_actor_stop``; at the experiment's end it waits for every actor (up to
   ``upload_timeout``, 30 minutes) but tells only those of trials that ended. A search that
   stops with trials unfinished (a time budget, Ctrl-C) waited the 30 minutes:
   ``finish_wandb_runs`` tells every actor first.

Why 1: Tune saves its experiment state (which names each trial's latest checkpoint, the one a
resume restores from) every couple of seconds, but deletes a dropped checkpoint at once. A
driver killed between the two leaves a saved state naming a checkpoint that is gone, and
resuming that trial fails ("Could not recover from checkpoint as it does not exist on storage
anymore"; ray-project/ray#27790, whose workaround is to keep every checkpoint). Here a
deletion waits until the experiment's saved state no longer names the checkpoint: the
deletions Tune asks for are kept pending, and each new request (at the next checkpoint of
any trial) and the end of the run delete those the newest complete state file no longer
names. A checkpoint already gone counts as deleted (after a killed driver, the restored
state may drop one that was deleted before the kill). The deletions a killed driver left
waiting are done when a later run of the experiment ends (``delete_orphan_checkpoints``).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from tune_cifar.constants import CHECKPOINT_PREFIX, EXPERIMENT_STATE_PREFIX
from tune_cifar.errors import TuneCifarError

WRITTEN_FOR = "Ray 2.60"
_pending: list[tuple[Any, str]] = []  # (file system, path) of deletions not yet safe
_state_cache: dict[str, tuple[Any, str | None]] = {}  # state file -> (its version, its text)


def defer_checkpoint_deletion() -> None:
    """Route Tune's checkpoint deletions through ``delete_when_unnamed`` (once per process)."""
    try:
        from ray.train._internal import checkpoint_manager

        delete = checkpoint_manager._delete_fs_path
    except (ImportError, AttributeError):
        raise _written_for("has no checkpoint_manager._delete_fs_path") from None
    if getattr(delete, "tune_cifar_original", None) is not None:
        return

    def delete_when_unnamed(fs: Any, fs_path: str) -> None:
        _pending.append((fs, fs_path))
        delete_unnamed_checkpoints()

    delete_when_unnamed.tune_cifar_original = delete  # type: ignore[attr-defined]
    checkpoint_manager._delete_fs_path = delete_when_unnamed


def delete_unnamed_checkpoints(everything: bool = False) -> None:
    """Delete the pending checkpoints that the saved experiment state no longer names (all of
    them with ``everything``, once Tune's last state of a run is saved)."""
    from ray.train._internal import checkpoint_manager

    delete = getattr(
        checkpoint_manager._delete_fs_path,
        "tune_cifar_original",
        checkpoint_manager._delete_fs_path,
    )
    waiting = []
    for fs, fs_path in _pending:
        if everything or not _named_by_saved_state(fs, fs_path):
            with contextlib.suppress(FileNotFoundError):
                delete(fs=fs, fs_path=fs_path)
        else:
            waiting.append((fs, fs_path))
    _pending[:] = waiting


def delete_orphan_checkpoints(fs: Any, experiment: str) -> int:
    """After a run has ended (Tune's last state saved): delete the checkpoint folders that
    state names for no trial, left by a driver killed while their deletion waited. A trial's
    folders are touched only when the state names at least one of them (the naming is read
    right for it). Returns how many were deleted."""
    import pyarrow.fs as pafs
    from ray.train._internal import checkpoint_manager

    delete = getattr(
        checkpoint_manager._delete_fs_path,
        "tune_cifar_original",
        checkpoint_manager._delete_fs_path,
    )
    try:
        infos = fs.get_file_info(pafs.FileSelector(experiment, recursive=True))
    except OSError:
        return 0
    trials: dict[str, list[str]] = {}
    for info in infos:
        parts = info.path[len(experiment) :].strip("/").split("/")
        if (
            info.type == pafs.FileType.Directory
            and len(parts) == 2
            and parts[1].startswith(CHECKPOINT_PREFIX)
        ):
            trials.setdefault(parts[0], []).append(info.path)
    deleted = 0
    for checkpoints in trials.values():
        named = [c for c in checkpoints if _named_by_saved_state(fs, c)]
        if not named or len(named) == len(checkpoints):
            continue
        for checkpoint in set(checkpoints) - set(named):
            with contextlib.suppress(FileNotFoundError):
                delete(fs=fs, fs_path=checkpoint)
                deleted += 1
    return deleted


def _named_by_saved_state(fs: Any, checkpoint: str) -> bool:
    """Whether the experiment's newest saved state may still name ``checkpoint``
    (EXP/trial_x/checkpoint_n, in file system ``fs``: local or object storage): its path in
    the file, as text or as the hex of the pickle that holds the trial's checkpoint manager. A
    state file caught mid-write (or unreadable) names everything."""
    import pyarrow.fs as pafs

    experiment = checkpoint.rstrip("/").rsplit("/", 2)[0]
    try:
        infos = fs.get_file_info(pafs.FileSelector(experiment))
    except OSError:
        return True
    states = sorted(
        (
            i
            for i in infos
            if i.base_name.startswith(EXPERIMENT_STATE_PREFIX) and i.base_name.endswith(".json")
        ),
        key=lambda i: i.base_name,
    )
    if not states:  # named by start time: the newest is the last
        return False
    text = _read_state(fs, states[-1])
    return text is None or checkpoint in text or checkpoint.encode().hex() in text


def _read_state(fs: Any, info: Any) -> str | None:
    """The text of a complete state file (None while it is being written), cached by its
    modification time and size."""
    key = (info.path, info.mtime_ns, info.size)
    cached = _state_cache.get(info.path)
    if cached is not None and cached[0] == key:
        return cached[1]
    try:
        with fs.open_input_stream(info.path) as f:
            text = f.read().decode()
        json.loads(text)
    except (OSError, ValueError):
        text = None
    _state_cache[info.path] = (key, text)
    return text


def _optuna_parts(searcher: Any) -> tuple[Any, dict[str, Any], set[str]]:
    """(study, Tune trial id -> Optuna trial, trial ids told) of a Ray OptunaSearch."""
    try:
        return searcher._ot_study, searcher._ot_trials, searcher._completed_trials
    except AttributeError:
        raise _written_for("keeps OptunaSearch's study elsewhere") from None


def optuna_study(searcher: Any) -> Any:
    """The Optuna study behind a Ray OptunaSearch."""
    return _optuna_parts(searcher)[0]


def optuna_told(searcher: Any, trial_id: str) -> bool:
    """Whether the searcher has told Optuna how Tune trial ``trial_id`` ended."""
    return trial_id in _optuna_parts(searcher)[2]


def tell_optuna(
    searcher: Any, trial_id: str, value: float | list[float] | None, state: Any
) -> None:
    """Tell the study behind a Ray OptunaSearch how Tune trial ``trial_id`` ended, once."""
    study, trials, told = _optuna_parts(searcher)
    study.tell(trials[trial_id], value, state=state)
    told.add(trial_id)


def _written_for(what: str) -> TuneCifarError:
    """The one line for a Ray that lacks what tune-cifar uses of it."""
    import ray

    return TuneCifarError(
        f"tune-cifar was written for {WRITTEN_FOR}; this Ray ({ray.__version__}) {what}"
    )


def trial_storage(trial: Any) -> tuple[Any, str]:
    """(pyarrow file system, path of the trial's folder in it) where the experiment is
    stored: a local folder or object storage."""
    try:
        storage = trial.storage
        return storage.storage_filesystem, storage.trial_fs_path
    except AttributeError:
        raise _written_for("keeps a trial's storage elsewhere (Trial.storage)") from None


def tbx_writer(callback: Any, trial: Any) -> Any:
    """The TensorBoardX writer a TBXLoggerCallback keeps for ``trial`` (opened if it has
    none yet)."""
    try:
        writers = callback._trial_writer
    except AttributeError:
        raise _written_for("keeps TBXLoggerCallback's writers elsewhere") from None
    if trial not in writers:
        callback.log_trial_start(trial)
    return writers[trial]


def set_tbx_hparam_values(callback: Any, trial: Any, values: dict[str, float]) -> None:
    """The last values a TBXLoggerCallback shows beside ``trial``'s hyperparameters."""
    if not hasattr(callback, "_trial_result"):
        raise _written_for("keeps TBXLoggerCallback's last results elsewhere")
    callback._trial_result[trial] = values


def forget_step_history(trial: Any) -> None:
    """Drop the per-metric history of the last results Tune keeps for an ended trial (its
    averages, ``metric_analysis``, stay)."""
    try:
        metadata = trial.run_metadata
        metadata.metric_n_steps  # noqa: B018 (only: does this Ray keep them there?)
    except AttributeError:
        raise _written_for("keeps a trial's last results elsewhere (run_metadata)") from None
    metadata.metric_n_steps = {}  # (its __setattr__ drops the trial's cached JSON state)


def trial_run(callback: Any, trial: Any) -> str | None:
    """The MLflow run id Ray's MLflowLoggerCallback logs ``trial`` into, if it has one."""
    runs = getattr(callback, "_trial_runs", None)
    if not isinstance(runs, dict):
        raise _written_for("keeps MLflowLoggerCallback's runs elsewhere (_trial_runs)")
    return runs.get(trial)


def adopt_trial_run(callback: Any, trial: Any, run_id: str) -> None:
    """Make Ray's MLflowLoggerCallback log ``trial`` into the existing run ``run_id``."""
    trial_run(callback, trial)  # (fails in one line where Ray keeps them elsewhere)
    callback._trial_runs[trial] = run_id


def finish_wandb_runs(callback: Any) -> None:
    """Tell the W&B logging actor of every trial Ray's WandbLoggerCallback still logs to
    finish its run (for a trial that ended, a second word to an actor that is done)."""
    actors, stop = (
        getattr(callback, name, None)
        for name in ("_trial_logging_actors", "_signal_logging_actor_stop")
    )
    if not isinstance(actors, dict) or not callable(stop):
        raise _written_for("keeps WandbLoggerCallback's actors elsewhere (_trial_logging_actors)")
    for trial in list(actors):
        stop(trial)
