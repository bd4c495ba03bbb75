"""Everything at once: optimizer, regularization and augmentation, plus the lr schedule."""

from ray import tune

from tune_cifar.search_spaces import augmentation, optimizers, regularization

DESCRIPTION = "all of optimizers + regularization + augmentation, plus the lr schedule"

SPACE = {
    **optimizers.SPACE,
    **regularization.SPACE,
    **augmentation.SPACE,
    "lr_schedule": tune.choice(["constant", "cosine", "onecycle"]),
}
