"""Ray itself, for the search's driver: starting or joining a cluster and stopping as a user
expects (``_runtime``), and every private Ray API tune-cifar touches, in one module
(``_private``), each stated for Ray 2.60 and failing in one line on a Ray without it.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
