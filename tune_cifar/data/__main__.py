"""``python -m tune_cifar.data FOLDER``: rebuild the shipped sample from CIFAR-10."""

from tune_cifar.data._sample import main

main()
