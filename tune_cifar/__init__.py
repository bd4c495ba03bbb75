"""tune-cifar: hyperparameter search for the seed study's CIFAR-10 CNNs on Ray Tune.

From Python (a notebook, a script), the same options as the command::

    import tune_cifar
    exp = tune_cifar.search(space="quick", data="sample", num_samples=8, max_epochs=10)
    exp.best, exp.trials, exp.plot("best_curves"), exp.load_model()

``__all__`` lists what the top level offers (the ``api`` folder's calls, the experiment and
what it holds, the errors), each imported when first used: ``import tune_cifar`` imports
neither torch nor Ray.

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
    tuning/      a search: options, spaces, algorithms, schedulers, the run, warm starts,
                 confirm; tuning/ray/ (Ray's runtime and private APIs), tuning/callbacks/
    api/         the Python API: search, resume, confirm, load_experiment
    cli/         the ``tune-cifar`` command
    search_spaces/  the built-in spaces (the repository's search_spaces/)

Imports run one way: the shared modules import no folder; data and storage import only
them; train imports data; trial imports train; results import train and storage; analysis
imports results; tuning imports all of those; api imports everything but cli; cli
imports everything (this top level only names what api, analysis, results and errors
offer, imported when used). The search and the results meet only in the experiment
folder. ``tests/test_layout.py`` holds the rule.

``tune_cifar.analysis`` and ``tune_cifar.search_spaces`` are the repository's top-level
``analysis/`` and ``search_spaces/`` folders, reached through two symbolic links in this folder:
the same for an install, an editable install and a checkout used as it is
(``PYTHONPATH=checkout``, as on the offline GPU machine).
"""

import lazy_loader as _lazy

__version__ = "0.1.0"

__getattr__, __dir__, __all__ = _lazy.attach(
    __name__,
    submod_attrs={
        "api": ["search", "resume", "confirm", "load_experiment", "trainable"],
        "analysis": ["Experiment"],
        "results": ["BestTrial", "Confirmation", "RestoredModel"],
        "errors": ["TuneCifarError", "UsageError"],
    },
)
