"""tune-cifar: hyperparameter search for the seed study's CIFAR-10 CNNs on Ray Tune.

The folders are the map; each one's ``__init__`` says its one job, and its ``__init__.pyi``
what it offers (imported when first used).

    constants, errors, metrics, config, hardware   named once, shared by every folder
    data/        CIFAR-10: the safe reader, the sample, synthetic images, the split
    storage/     places (folders, s3://, gs://), the local cache, one writer per experiment
    train/       one configuration trained: model, augmentation, CUDA graph, trainer,
                 checkpoints, PBT schedules, ``tune-cifar train``, the GPU-share probe
    trial/       what runs inside a Ray worker: the trainable
    results/     an experiment read back from its folder: spec, trials, best epochs,
                 populations, confirmations, the Optuna journal, the dashboard, restore
    analysis/    frames, plots, the report, searches compared (the repository's analysis/)
    search/      options, spaces, algorithms, schedulers, the run, warm starts, confirm;
                 search/ray/ (Ray's runtime and private APIs), search/callbacks/ (the driver's)
    cli/         the ``tune-cifar`` command
    search_spaces/  the built-in spaces (the repository's search_spaces/)

Imports run one way: the shared modules import no folder; data and storage import only
them; train imports data; trial imports train; results import train and storage; analysis
imports results; search imports all of those; cli imports everything. The search and the
results meet only in the experiment folder. ``tests/test_layout.py`` holds the rule.

``tune_cifar.analysis`` and ``tune_cifar.search_spaces`` are the repository's top-level
``analysis/`` and ``search_spaces/`` folders, reached through two symbolic links in this folder:
the same for an install, an editable install and a checkout used as it is
(``PYTHONPATH=checkout``, as on the offline GPU machine).
"""

__version__ = "0.1.0"
