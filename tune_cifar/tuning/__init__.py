"""A search, from the options it is asked to run with to how it ended: the options and their
checks, search spaces, the search algorithm and the trial scheduler (with asha-promote and
the ASHA-aware Optuna searcher), warm starts, resources, the experiment folder claimed, the
run (``run_search``, ``resume_search``), stopping in order, and ``confirm``.

``ray/`` holds Ray's runtime and every private Ray API it touches, ``callbacks/`` the Tune
callbacks of the driver. It reads earlier experiments through ``tune_cifar.results`` (never
the other way round). Importing it imports neither torch nor Ray: what it offers is listed in
``__init__.pyi`` and imported when first used, so the command line checks options at once.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
