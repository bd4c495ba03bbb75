from ._trainable import RunSettings as RunSettings
from ._trainable import train_cifar as train_cifar
