"""The Python API: ``tune_cifar.search``, ``resume``, ``confirm``, ``load_experiment``, with
the same options, checks and defaults as the ``tune-cifar`` command (each keyword named as
its flag is), for a notebook or a script. The package's top level offers what is here.

Imports everything but the command line. What it offers is listed in ``__init__.pyi``.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
