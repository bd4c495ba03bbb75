"""CIFAR-10 for tune-cifar: the sources (a ``cifar-10-batches-py`` folder read with a
restricted unpickler, torchvision's download, the real sample shipped in the package, a
synthetic learnable set), the seeded validation split and training subsets.

    bundle = load_data(DataSpec(source="cifar10", data_dir="data"))

``python -m tune_cifar.data FOLDER`` rebuilds the shipped sample from a folder holding
``cifar-10-batches-py``. Imports nothing of tune-cifar but its errors (torch only for the
synthetic set). What it offers is listed in ``__init__.pyi``.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
