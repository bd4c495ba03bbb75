"""Optimizer search on CNN_v4: which optimizer, learning rate, momentum, decay, batch size."""

from ray import tune

DESCRIPTION = "optimizer (sgd/adam/adamw), lr, momentum, nesterov, weight decay, batch size"

SPACE = {
    "optimizer": tune.choice(["sgd", "adam", "adamw"]),
    "lr": tune.loguniform(1e-4, 1e-1),
    "momentum": tune.uniform(0.8, 0.99),
    "nesterov": tune.choice([False, True]),
    "weight_decay": tune.loguniform(1e-6, 1e-3),
    "batch_size": tune.choice([64, 100, 128, 256]),
}
