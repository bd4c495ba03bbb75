"""Built-in search spaces, one module per space (``tune-cifar spaces`` lists them).

A space module defines two names:

- ``DESCRIPTION``: one line saying what the space explores;
- ``SPACE``: either a dict from config keys (see ``tune-cifar keys``) to Ray Tune domains
  (``tune.choice``, ``tune.loguniform``, ``tune.grid_search`` ...) or constants, or a list of
  complete configurations to run as they are.

Add your own module here, or keep it anywhere and pass ``--space path/to/space.py``.
"""
