"""The ``tune-cifar`` command: one module per family of subcommands (``_search``: search,
resume, spaces; ``_train``: train, keys; ``_results``: analyze, best, evaluate, predict,
dashboard, confirm, compare), the shared argument helpers (``_args``), and the generated
reference (``reference``: ``docs/cli.md`` and ``docs/hyperparameters.md``).

The console script is ``tune_cifar.cli:main``; ``python -m tune_cifar.cli`` runs the same.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
