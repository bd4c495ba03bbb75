"""Experiment trackers, as Ray Tune's own logger callbacks: with ``--tracker mlflow[=URI]``
each trial is an MLflow run (its hyperparameters, every epoch's metrics, FINISHED or FAILED
at its end) in an MLflow experiment named as the search. A resumed search logs each trial
into the run it had: Ray's callback starts a new run for every trial it sees start, and a
resume starts every unfinished trial again.

With ``--tracker wandb[=PROJECT]`` each trial is a W&B run of the project, grouped by the
search: Ray's WandbLoggerCallback names the run by the trial's id, and is told to resume it
("allow", where Ray's own default starts it anew), so a resumed search goes on logging into
the run each trial had.
"""

from __future__ import annotations

import os
from typing import Any

from ray.air.integrations.mlflow import MLflowLoggerCallback
from ray.tune.experiment import Trial

from tune_cifar.tuning._options import (
    MLFLOW_URI_ENV,
    WANDB_DIR_ENV,
    WANDB_ENTITY_ENV,
    WANDB_MODE_ENV,
    WANDB_PROJECT_ENV,
    SearchOptions,
)
from tune_cifar.tuning.ray import adopt_trial_run, finish_wandb_runs, trial_run

TRIAL_TAG = "trial_name"  # the tag Ray's callback gives each run: the trial's name
DEFAULT_WANDB_PROJECT = "tune-cifar"  # --tracker wandb without a project, and none set
# The W&B settings that go to wandb.init as its arguments (see tracker_callbacks)
WANDB_SETTINGS = {WANDB_MODE_ENV: "mode", WANDB_DIR_ENV: "dir", WANDB_ENTITY_ENV: "entity"}


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


def wandb_runs() -> type:
    """Ray's WandbLoggerCallback, whose experiment end finishes the W&B run of every trial,
    ended or not (Ray's own waits 30 minutes for a trial the search left unfinished)."""
    from ray.air.integrations.wandb import WandbLoggerCallback

    class WandbRuns(WandbLoggerCallback):
        def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
            finish_wandb_runs(self)
            super().on_experiment_end(trials, **info)

    return WandbRuns


def tracker_callbacks(opts: SearchOptions, experiment: str) -> list[Any]:
    """The callbacks ``--tracker`` asks for, each logging into ``experiment``."""
    callbacks: list[Any] = []
    for entry in opts.tracker:
        name, _, where = entry.partition("=")
        if name == "mlflow":
            uri = where or os.environ.get(MLFLOW_URI_ENV) or None
            callbacks.append(MLflowRuns(tracking_uri=uri, experiment_name=experiment))
        elif name == "wandb":
            project = where or os.environ.get(WANDB_PROJECT_ENV) or DEFAULT_WANDB_PROJECT
            # W&B runs in a Ray actor of its own, whose environment Ray gives only the API key:
            # its mode and folder go to wandb.init as arguments, as this process has them.
            settings: dict[str, Any] = {
                arg: os.environ[env] for env, arg in WANDB_SETTINGS.items() if os.environ.get(env)
            }
            callbacks.append(
                wandb_runs()(project=project, group=experiment, resume="allow", **settings)
            )
    return callbacks
