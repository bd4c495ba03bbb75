"""An experiment read back from its folder, never from the search that wrote it: the spec
file, the trials as plain files, the one rule for a trial's best epoch, PBT's lineages and
schedules, a confirmation's tables, the Optuna journal, the dashboard over it, and a
checkpoint restored as a model.

Imports nothing of the search (``tune_cifar.tuning``) or the command line: both sides meet
only in the experiment folder. Nothing here unpickles. What it offers is listed in
``__init__.pyi``.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
