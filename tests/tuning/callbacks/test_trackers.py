"""--tracker mlflow: a real MLflow server on 127.0.0.1 (SQLite backend), a real search and
its resume; the runs read back through MLflow's client against the trials' result.json."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from scenarios import trial_rows

from tests.conftest import SYNTHETIC
from tune_cifar.errors import UsageError
from tune_cifar.tuning import SearchOptions, resume_search, run_search

pytestmark = pytest.mark.slow
mlflow = pytest.importorskip("mlflow", reason="MLflow is not installed (pip install -e .[dev])")


@pytest.fixture()
def mlflow_server(tmp_path, free_port):
    """``mlflow server`` on 127.0.0.1 with a SQLite store (MLflow 3.13+ refuses the plain
    file store unless told); its URI once it answers."""
    uri = f"http://127.0.0.1:{free_port}"
    proc = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}",
            "--default-artifact-root", str(tmp_path / "artifacts"),
            "--host", "127.0.0.1", "--port", str(free_port), "--workers", "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the MLflow server did not start") from None
                time.sleep(0.5)
        yield uri
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_each_trial_is_a_run_that_a_resume_logs_into_again(
    mlflow_server, tmp_path, synthetic_bundle, shared_ray
):
    from mlflow.tracking import MlflowClient

    opts = SearchOptions(
        space="quick",
        scheduler="fifo",
        num_samples=2,
        max_epochs=200,
        time_budget=30,
        storage_path=str(tmp_path),
        name="tracked",
        progress_interval=60,
        tracker=(f"mlflow={mlflow_server}",),
    )
    first = run_search(opts, SYNTHETIC, argv=["test"], bundle=synthetic_bundle)
    assert first.budget == "time budget" and first.unfinished == 2
    resume_search(first.experiment_path, bundle=synthetic_bundle)  # another 30 s each

    client = MlflowClient(tracking_uri=mlflow_server)
    experiment = client.get_experiment_by_name("tracked")
    runs = client.search_runs([experiment.experiment_id])
    trials = trial_rows(Path(first.experiment_path))
    assert len(runs) == len(trials) == 2  # the resume made no second run of either trial
    for run in runs:
        trial_id = run.data.tags["trial_name"].rsplit("_", 2)[-2:]
        rows = trials["_".join(trial_id)]
        history = client.get_metric_history(run.info.run_id, "val_acc")
        assert [(m.step, round(m.value, 6)) for m in sorted(history, key=lambda m: m.step)] == [
            (r["training_iteration"], round(r["val_acc"], 6)) for r in rows
        ]
        assert run.data.params["model"] == str(rows[0]["config"]["model"])
        assert float(run.data.params["lr"]) == pytest.approx(rows[0]["config"]["lr"])


def test_a_tracker_that_cannot_log_is_one_line_before_ray_starts(free_port):
    with pytest.raises(UsageError, match="no MLflow server answers there"):
        SearchOptions(tracker=(f"mlflow=http://127.0.0.1:{free_port}",)).check()
    with pytest.raises(UsageError, match="unknown tracker 'neptune'"):
        SearchOptions(tracker=("neptune",)).check()
    with pytest.raises(UsageError, match="given twice"):
        SearchOptions(tracker=("mlflow", "mlflow=file:///tmp/x")).check()
