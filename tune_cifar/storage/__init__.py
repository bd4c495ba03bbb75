"""Where experiments live and who writes them: local folders and ``s3://`` / ``gs://`` URIs as
one ``Place``, the local cache through which the results commands read object storage, and
the lock that lets one writer at a time into an experiment.

Imports nothing of tune-cifar but its errors and names (pyarrow when a place is used). What
it offers is listed in ``__init__.pyi``.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
