"""The Tune callbacks a search runs in its driver: the live view on the console, the Optuna
journal written as trials report, Tune's result files kept whole in the experiment,
TensorBoard files with readable tags, what Tune keeps of ended trials trimmed, and the
experiment trackers (MLflow) a user asks for.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
