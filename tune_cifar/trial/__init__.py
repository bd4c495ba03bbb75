"""What runs inside a Ray worker: the function trainable, one trial = one ``Trainer``, a
report (and a checkpoint) per epoch, resumed from Tune's checkpoint.

Imports Ray's trial API (``ray.tune.report``, ``get_checkpoint``) and ``tune_cifar.train``;
nothing of the search driver or the results. What it offers is listed in ``__init__.pyi``.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
