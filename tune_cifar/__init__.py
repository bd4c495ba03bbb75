"""tune-cifar: hyperparameter search for the seed study's CIFAR-10 CNNs on Ray Tune.

Library layout, one job per module:

- ``tune_cifar.data``      CIFAR-10 / sample / synthetic arrays and the validation split
- ``tune_cifar.config``    the validated, frozen per-trial hyperparameters (every key documented)
- ``tune_cifar.model``     the seed's VGG-style CNN family (presets cnn_v2, cnn_v3, cnn_v4)
- ``tune_cifar.augment``   batched, on-device flip / crop / RandomErasing
- ``tune_cifar.training``  one trial's training loop, resumable from a state dict
- ``tune_cifar.trainable`` the Ray Tune function trainable around it
- ``tune_cifar.spaces``    loading search spaces from ``search_spaces/`` or a file
- ``tune_cifar.tuner``     search algorithm + scheduler + resources -> ``tune.Tuner``
- ``tune_cifar.cli``       the ``tune-cifar`` command
"""

__version__ = "0.1.0"
