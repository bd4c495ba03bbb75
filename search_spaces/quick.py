"""A small space for the quickstart: a few minutes on a 2-core CPU with ``--data sample``."""

from ray import tune

DESCRIPTION = "small quickstart space: CNN_v3 vs CNN_v4, Adam lr, batch size"

SPACE = {
    "model": tune.choice(["cnn_v3", "cnn_v4"]),
    "optimizer": "adam",
    "lr": tune.loguniform(3e-4, 3e-3),
    "batch_size": tune.choice([50, 100]),
}
