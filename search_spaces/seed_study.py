"""The seed study's six hand-run configurations, run side by side."""

DESCRIPTION = "the seed study's six runs: CNN_v2 SGD / momentum / Adam, CNN_v3, CNN_v4, + aug"

_NO_AUG = {"hflip_p": 0.0, "erase_p": 0.0}
# The seed study's best by hand: run 6 (CNN_v4 + flip + RandomErasing), 100 epochs on full
# CIFAR-10, test accuracy (its validation set was the test set).
BEST_TEST_ACC = 0.8941

SPACE = [
    {"model": "cnn_v2", "optimizer": "sgd", "lr": 0.01, "momentum": 0.0, **_NO_AUG},
    {"model": "cnn_v2", "optimizer": "sgd", "lr": 0.01, "momentum": 0.9, **_NO_AUG},
    {"model": "cnn_v2", "optimizer": "adam", "lr": 0.001, **_NO_AUG},
    {"model": "cnn_v3", "optimizer": "adam", "lr": 0.001, **_NO_AUG},
    {"model": "cnn_v4", "optimizer": "adam", "lr": 0.001, **_NO_AUG},
    {"model": "cnn_v4", "optimizer": "adam", "lr": 0.001, "hflip_p": 0.5, "erase_p": 0.5},
]
