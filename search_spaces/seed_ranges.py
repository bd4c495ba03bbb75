"""The seed study's own knobs as ranges around its six configurations: a space that contains
every one of them (so a search can find what the hand-tuner found, and ``--warm-start seed``
runs them all) and whose mutable keys are ranges (so PBT and PB2 can move every one).

- ``model`` CNN_v2, CNN_v3 or CNN_v4 (the seed's three), each preset's dropout overridden by
  the ranges below, which contain the presets' 0 and 0.2/0.3/0.4/0.4;
- Adam or SGD, the learning rate 1e-4 to 0.1 (log: the seed's 0.001 and 0.01 inside),
  momentum 0-0.95 (the seed's 0 and 0.9 inside; Adam ignores it);
- batch 50 or 100 (the seed's 100; 50 keeps 20+ steps per epoch on a few thousand images);
- flip and RandomErasing probabilities 0-0.5 (the seed's 0 and 0.5 at the ends), weight
  decay 0-5e-4 and label smoothing 0-0.2 (the seed used neither: 0 at the low end).
"""

from ray import tune

DESCRIPTION = "the seed's knobs as ranges holding its six runs: model, Adam/SGD, lr, dropout, aug"

SPACE = {
    "model": tune.choice(["cnn_v2", "cnn_v3", "cnn_v4"]),
    "optimizer": tune.choice(["adam", "sgd"]),
    "lr": tune.loguniform(1e-4, 0.1),
    "momentum": tune.uniform(0.0, 0.95),
    "batch_size": tune.choice([50, 100]),
    "dropout1": tune.uniform(0.0, 0.5),
    "dropout2": tune.uniform(0.0, 0.5),
    "dropout3": tune.uniform(0.0, 0.5),
    "dropout4": tune.uniform(0.0, 0.5),
    "weight_decay": tune.uniform(0.0, 5e-4),
    "label_smoothing": tune.uniform(0.0, 0.2),
    "hflip_p": tune.uniform(0.0, 0.5),
    "erase_p": tune.uniform(0.0, 0.5),
}
