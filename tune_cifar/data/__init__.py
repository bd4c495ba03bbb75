"""CIFAR-10 data for tune-cifar: sources, the safe batch reader and the validation split.

    from tune_cifar.data import DataSpec, load_data
    bundle = load_data(DataSpec(source="cifar10", data_dir="../shared/data"))
"""

from tune_cifar.data.datasets import (
    CLASSES,
    FIDELITY_KEYS,
    DataBundle,
    DataSpec,
    TrainingData,
    load_data,
)

__all__ = ["CLASSES", "FIDELITY_KEYS", "DataBundle", "DataSpec", "TrainingData", "load_data"]
