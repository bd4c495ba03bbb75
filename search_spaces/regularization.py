"""Regularization search: dropout rates, batch norm on/off, weight decay, label smoothing."""

from ray import tune

DESCRIPTION = "dropout rates, batch norm on/off, weight decay, label smoothing (Adam)"

SPACE = {
    "batch_norm": tune.choice([True, False]),
    "dropout1": tune.uniform(0.0, 0.5),
    "dropout2": tune.uniform(0.0, 0.5),
    "dropout3": tune.uniform(0.0, 0.5),
    "dropout4": tune.uniform(0.0, 0.5),
    "weight_decay": tune.loguniform(1e-6, 1e-3),
    "label_smoothing": tune.uniform(0.0, 0.2),
}
