"""Experiment trackers, as Ray Tune's own logger callbacks: with ``--tracker mlflow[=URI]``
each trial is an MLflow run (its hyperparameters, every epoch's metrics, FINISHED or FAILED
at its end) in an MLflow experiment named as the search. A resumed search logs each trial
into the run it had: Ray's callback starts a new run for every trial it sees start, and a
resume starts every unfinished trial again.
"""

from __future__ import annotations

import os
from typing import Any

from ray.air.integrations.mlflow import MLflowLoggerCallback
from ray.tune.experiment import Trial

from tune_cifar.tuning._options import MLFLOW_URI_ENV, SearchOptions
from tune_cifar.tuning.ray import adopt_trial_run, trial_run

TRIAL_TAG = "trial_name"  # the tag Ray's callback gives each run: the trial's name


class MLflowRuns(MLflowLoggerCallback):
    """Ray's MLflowLoggerCallback, that finds the run a trial already has before it starts
    one (by the trial's name, in the search's MLflow experiment)."""

    def log_trial_start(self, trial: Trial) -> None:
        if trial_run(self, trial) is None:
            existing = self._run_of(str(trial))
            if existing is not None:
                adopt_trial_run(self, trial, existing)
        super().log_trial_start(trial)

    def _run_of(self, name: str) -> str | None:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=self.tracking_uri)
        experiment = client.get_experiment_by_name(self.experiment_name or "")
        if experiment is None:
            return None
        runs = client.search_runs(
            [experiment.experiment_id], filter_string=f"tags.{TRIAL_TAG} = '{name}'"
        )
        return runs[0].info.run_id if runs else None


def tracker_callbacks(opts: SearchOptions, experiment: str) -> list[Any]:
    """The callbacks ``--tracker`` asks for, each logging into ``experiment``."""
    callbacks: list[Any] = []
    for entry in opts.tracker:
        name, _, where = entry.partition("=")
        if name == "mlflow":
            uri = where or os.environ.get(MLFLOW_URI_ENV) or None
            callbacks.append(MLflowRuns(tracking_uri=uri, experiment_name=experiment))
    return callbacks
