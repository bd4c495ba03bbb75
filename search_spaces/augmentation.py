"""Augmentation search on CNN_v4 + Adam: flip, random crop and RandomErasing settings."""

from ray import tune

DESCRIPTION = "horizontal flip, random crop padding, RandomErasing p and largest area"

SPACE = {
    "hflip_p": tune.choice([0.0, 0.5]),
    "crop_padding": tune.choice([0, 2, 4]),
    "erase_p": tune.choice([0.0, 0.25, 0.5]),
    "erase_scale_max": tune.choice([0.2, 0.33, 0.4]),
}
