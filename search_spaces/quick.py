"""A small space for the quickstart: a few minutes on a 2-core CPU with ``--data sample``."""

from ray import tune

DESCRIPTION = "small quickstart space: CNN_v2 vs CNN_v4, Adam lr, batch size, erasing on/off"

SPACE = {
    "model": tune.choice(["cnn_v2", "cnn_v4"]),
    "optimizer": "adam",
    "lr": tune.loguniform(3e-4, 3e-3),
    "batch_size": tune.choice([32, 64]),
    "erase_p": tune.choice([0.0, 0.5]),
}
