"""TensorBoard event files with readable names, one run per trial folder.

Tune's own TensorBoard logger writes every reported value as ``ray/tune/<key>``, Tune's
bookkeeping included (``done``, ``should_checkpoint``, ...). This subclass writes the
per-epoch metrics only, named so that TensorBoard puts the training and validation curves of
each quantity on one card (it groups tags by what comes before the first ``/``; the tags are
``tune_cifar.metrics.EPOCH_METRICS``):

    accuracy/train, accuracy/validation, loss/train, loss/validation,
    optimizer/learning_rate, speed/epoch_time_s, speed/train_images_per_s

The step is the epoch. ``tensorboard --logdir EXP`` shows every trial of an experiment as a
run (named by its trial folder), and the HParams tab its hyperparameters.
"""

from __future__ import annotations

import math
from typing import Any

from ray.tune.experiment import Trial
from ray.tune.logger import TBXLoggerCallback

from tune_cifar.constants import TRAINING_ITERATION
from tune_cifar.metrics import EPOCH_METRICS
from tune_cifar.tuning.ray import set_tbx_hparam_values, tbx_writer


class ReadableTensorBoard(TBXLoggerCallback):
    """Tune's TensorBoardX logger (file placement, syncing, hparams) with tune-cifar's tags."""

    def log_trial_result(self, iteration: int, trial: Trial, result: dict[str, Any]) -> None:
        writer = tbx_writer(self, trial)
        written = {}
        for key, tag in EPOCH_METRICS.items():
            value = result.get(key)
            if isinstance(value, (int, float)) and math.isfinite(value):
                writer.add_scalar(tag, value, global_step=result[TRAINING_ITERATION])
                written[tag] = value
        set_tbx_hparam_values(self, trial, written)  # the last values, beside the hparams
        writer.flush()
