"""``tune_cifar.trainable``: the trainable tune-cifar's searches run, for a user's own
``tune.Tuner`` with any Ray searcher and scheduler (after Ray's own example,
``ray/tune/examples/mnist_pytorch.py``)::

    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    import tune_cifar

    tuner = tune.Tuner(
        tune_cifar.trainable("sample", max_epochs=20),
        param_space={"model": "cnn_v4", "lr": tune.loguniform(1e-4, 1e-2),
                     "batch_size": tune.choice([32, 64])},
        tune_config=tune.TuneConfig(metric="val_acc", mode="max", num_samples=8,
                                    scheduler=ASHAScheduler(max_t=20, grace_period=2)),
        run_config=tune.RunConfig(storage_path="~/tune-cifar-results", name="mine"),
    )
    results = tuner.fit()
    exp = tune_cifar.load_experiment(results.experiment_path)   # frames, best, plots

Each trial trains the configuration its ``param_space`` sample names (every key of
``tune-cifar keys``; the rest at their defaults), reports every epoch's metrics (``val_acc``
the one to select on), checkpoints every ``checkpoint_every`` epochs and at its end, and
continues from its checkpoint when the scheduler pauses it or ``tune.Tuner.restore``
resumes the experiment.
"""

from __future__ import annotations

from typing import Any

from tune_cifar.api._keywords import options_from_keywords


def trainable(
    data: str = "cifar10",
    max_epochs: int = 10,
    *,
    cpus_per_trial: int = 1,
    gpus_per_trial: float = 0.0,
    checkpoint_every: int = 1,
    cuda_graph: str = "auto",
    nice: int | None = None,
    data_dir: str | None = None,
    val_source: str = "holdout",
    val_size: int | None = None,
    train_subset: int | None = None,
) -> Any:
    """tune-cifar's trainable for ``tune.Tuner(trainable, param_space=..., ...)``: the data
    (as ``tune-cifar search``'s flags of the same names take it) loaded once and put in
    Ray's object store, each trial up to ``max_epochs`` epochs with ``cpus_per_trial``
    threads and ``gpus_per_trial`` of a GPU. A bad argument raises the ``UsageError`` the
    command's flag would give."""
    from tune_cifar.data import load_data
    from tune_cifar.tuning import make_trainable

    opts, spec = options_from_keywords(
        {
            "data": data,
            "max_epochs": max_epochs,
            "cpus_per_trial": cpus_per_trial,
            "gpus_per_trial": gpus_per_trial,
            "checkpoint_every": checkpoint_every,
            "cuda_graph": cuda_graph,
            "nice": nice,
            "data_dir": data_dir,
            "val_source": val_source,
            "val_size": val_size,
            "train_subset": train_subset,
            "scheduler": "fifo",  # (the Tuner's own; only so no ASHA check applies here)
        }
    )
    return make_trainable(load_data(spec), opts, opts.cpus_per_trial, opts.gpus_per_trial or 0.0)
