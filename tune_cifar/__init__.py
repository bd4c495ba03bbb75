"""tune-cifar: hyperparameter search for the seed study's CIFAR-10 CNNs on Ray Tune.

Library layout, one job per module, imports running one way (data -> training -> trial ->
search -> results -> analysis):

- ``tune_cifar.data``      CIFAR-10 / sample / synthetic arrays and the validation split
- ``tune_cifar.config``    the validated, frozen per-trial hyperparameters (every key documented)
- ``tune_cifar.model``     the seed's VGG-style CNN family (presets cnn_v2, cnn_v3, cnn_v4)
- ``tune_cifar.augment``   batched, on-device flip / crop / RandomErasing
- ``tune_cifar.training``  one trial's training loop, resumable from a state dict
- ``tune_cifar.trainable`` the Ray Tune function trainable around it
- ``tune_cifar.spaces``    loading search spaces from ``tune_cifar.search_spaces`` or a file
- ``tune_cifar.tuner``     search algorithm + scheduler + resources -> ``tune.Tuner``
- ``tune_cifar.experiment`` an experiment folder: spec file, trials, the best checkpoint
- ``tune_cifar.analysis``  frames, plots and the report (the repository's ``analysis/``)
- ``tune_cifar.cli``       the ``tune-cifar`` command

``tune_cifar.analysis`` and ``tune_cifar.search_spaces`` live in the repository's top-level
``analysis/`` and ``search_spaces/`` folders; setuptools' ``package-dir`` installs them inside
this package.
"""

from pathlib import Path

__version__ = "0.1.0"

# Run from a source checkout without installing (PYTHONPATH=checkout, as on the offline GPU
# machine), the checkout's analysis/ and search_spaces/ folders are found as subpackages here,
# as package-dir maps them when installed.
_CHECKOUT = Path(__file__).resolve().parent.parent
if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "search_spaces").is_dir():
    __path__.append(str(_CHECKOUT))
