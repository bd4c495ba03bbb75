"""--tracker wandb: a real search and its resume with W&B in offline mode (no account, no
network), the offline run files read back against the trials' result.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scenarios import trial_rows

from tests.conftest import SYNTHETIC
from tune_cifar.errors import UsageError
from tune_cifar.tuning import SearchOptions, resume_search, run_search

pytestmark = pytest.mark.slow
pytest.importorskip("wandb", reason="wandb is not installed (pip install -e .[dev])")

BLOCK = 32768  # W&B's run file is a LevelDB-style log: records in 32 KiB blocks


def wandb_records(path: Path) -> list:
    """The protobuf records of an offline run file (``run-ID.wandb``): a 7-byte header, then
    records of a 7-byte header (CRC32C, length, kind: 1 whole, 2 first, 3 middle, 4 last)."""
    from wandb.proto import wandb_internal_pb2

    data, pos, pending, records = path.read_bytes(), 7, b"", []
    while pos + 7 <= len(data):
        if BLOCK - pos % BLOCK < 7:  # a block's tail too short for a header is padding
            pos += BLOCK - pos % BLOCK
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


def key(item) -> str:
    """An item's name: W&B writes it as ``key``, or as the parts of ``nested_key``."""
    return item.key or "/".join(item.nested_key)


def logged(run_file: Path) -> tuple[dict, list[tuple[int, float]]]:
    """(the run's config, its (training_iteration, val_acc) history) from an offline run."""
    config, history = {}, []
    for record in wandb_records(run_file):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            config.update({key(i): json.loads(i.value_json) for i in record.run.config.update})
        elif kind == "history":
            items = {key(i): json.loads(i.value_json) for i in record.history.item}
            if "val_acc" in items:
                history.append((int(items["training_iteration"]), round(items["val_acc"], 6)))
    return config, history


def test_each_trial_is_a_wandb_run_that_a_resume_logs_into_again(
    tmp_path, synthetic_bundle, shared_ray, monkeypatch
):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wandb-files"))
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    (tmp_path / "wandb-files").mkdir()
    opts = SearchOptions(
        space="quick",
        scheduler="fifo",
        num_samples=2,
        max_epochs=200,
        time_budget=15,
        storage_path=str(tmp_path),
        name="tracked",
        progress_interval=60,
        tracker=("wandb=tune-cifar-test",),
    )
    first = run_search(opts, SYNTHETIC, argv=["test"], bundle=synthetic_bundle)
    assert first.unfinished == 2
    resume_search(first.experiment_path, bundle=synthetic_bundle)

    trials = trial_rows(Path(first.experiment_path))
    runs: dict[str, list[Path]] = {}  # run id: its offline files, the search's then the resume's
    for run_file in sorted((tmp_path / "wandb-files" / "wandb").glob("offline-run-*/run-*.wandb")):
        runs.setdefault(run_file.stem.removeprefix("run-"), []).append(run_file)
    assert sorted(runs) == sorted(trials)  # a run per trial, its id the trial's
    for trial_id, files in runs.items():
        assert len(files) == 2  # the resume logged into the same run
        rows = trials[trial_id]
        history = [h for f in files for h in logged(f)[1]]
        assert history == [(r["training_iteration"], round(r["val_acc"], 6)) for r in rows]
        config = {  # (a value as {"value": V, "desc": ...}, or V, as W&B wrote it)
            k: v["value"] if isinstance(v, dict) and "value" in v else v
            for k, v in logged(files[0])[0].items()
        }
        assert config["model"] == rows[0]["config"]["model"]
        assert config["lr"] == pytest.approx(rows[0]["config"]["lr"])


def test_online_wandb_without_credentials_is_one_line_before_ray_starts(monkeypatch, tmp_path):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(
        UsageError, match=r"^--tracker wandb needs W&B credentials: run 'wandb login'"
    ):
        SearchOptions(tracker=("wandb",)).check()
    monkeypatch.setenv("WANDB_MODE", "offline")
    SearchOptions(tracker=("wandb",)).check()
