"""One configuration trained, epoch by epoch: the seed's CNN family, batched on-device
augmentation, the CUDA-graph step, the resumable trainer, its checkpoints, the PBT schedule
a configuration may carry, ``tune-cifar train`` and the GPU-share probe.

Imports torch; nothing of Ray, the search or the results. What it offers is listed in
``__init__.pyi`` and imported when first used.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
