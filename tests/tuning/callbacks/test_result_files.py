"""``KeepResultFiles`` beside Tune's own loggers: a trial that starts again while Tune's
background upload of its files is under way keeps every row (#31, a PBT history that began
at epoch 5)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.fs as pafs
from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

from tune_cifar.constants import PROGRESS_FILE, RESULT_FILE
from tune_cifar.tuning.callbacks._result_files import KeepResultFiles


class StubStorage:
    def __init__(self, stored: Path) -> None:
        self.trial_fs_path = str(stored)
        self.storage_filesystem = pafs.LocalFileSystem()


class StubTrial:
    """What Tune's loggers and the callback read of a trial: its id, config, checkpoint and
    two folders (the driver's staging copy, and the experiment's)."""

    def __init__(self, staged: Path, stored: Path) -> None:
        self.trial_id, self.config, self.checkpoint = "t1", {"lr": 0.1}, "a checkpoint"
        self.local_path, self.path = str(staged), str(stored)
        self.storage = StubStorage(stored)

    def init_local_path(self) -> None:
        Path(self.local_path).mkdir(parents=True, exist_ok=True)


def epochs_in(path: Path) -> list[int]:
    return [json.loads(line)["training_iteration"] for line in path.read_text().splitlines()]


def test_a_restart_during_an_upload_keeps_the_rows_the_staging_file_had(tmp_path):
    staged, stored = tmp_path / "staging" / "t1", tmp_path / "exp" / "t1"
    stored.mkdir(parents=True)
    staged.mkdir(parents=True)
    trial = StubTrial(staged, stored)
    # as Tune orders them: the run config's callbacks, then its own loggers
    callbacks = [KeepResultFiles(str(tmp_path / "exp")), JsonLoggerCallback(), CSVLoggerCallback()]

    def start() -> None:
        for cb in callbacks:
            cb.on_trial_start(0, [], trial)

    def report(epoch: int) -> None:
        result = {"training_iteration": epoch, "val_acc": epoch / 10}
        for cb in callbacks:
            cb.on_trial_result(0, [], trial, result)

    start()
    for epoch in range(1, 5):
        report(epoch)
    # PBT pauses the trial and starts it again; just then Tune's background upload of the
    # staging folder has truncated the stored result.json and not yet written it
    for name in (RESULT_FILE, PROGRESS_FILE):
        (stored / name).write_bytes((staged / name).read_bytes())
    original_start = callbacks[0].on_trial_start

    def start_then_upload_begins(*args, **kwargs) -> None:
        original_start(*args, **kwargs)
        (stored / RESULT_FILE).write_bytes(b"")  # the upload under way

    callbacks[0].on_trial_start = start_then_upload_begins
    start()
    assert epochs_in(staged / RESULT_FILE) == []  # Tune's logger copied the partial file back
    for epoch in range(5, 7):
        report(epoch)
    assert epochs_in(staged / RESULT_FILE) == [1, 2, 3, 4, 5, 6]
    rows = (staged / PROGRESS_FILE).read_text().splitlines()
    assert len(rows) == 1 + 6 and rows[0].startswith("training_iteration")
