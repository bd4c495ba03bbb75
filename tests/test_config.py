import dataclasses

import pytest

from tune_cifar.config import KEYS, PRESETS, TrialConfig, format_keys_table
from tune_cifar.errors import UsageError


def test_every_key_is_documented_with_its_range():
    """KEYS is read from TrialConfig's fields: each needs a meaning, and a range or choices
    that its own default passes."""
    assert [k.name for k in KEYS] == [f.name for f in dataclasses.fields(TrialConfig)]
    for k in KEYS:
        assert k.help and k.type in (bool, int, float, str), k.name
        if k.type in (int, float):
            assert k.low is not None and k.high is not None, k.name
        if k.type is str:
            assert k.choices and k.default in k.choices, k.name
        assert k.check(k.default) == k.default


def test_presets_set_the_seed_models_and_explicit_keys_override():
    v2 = TrialConfig.from_dict({"model": "cnn_v2"})
    assert (v2.batch_norm, v2.dropout1, v2.dropout4) == (False, 0.0, 0.0)
    v3 = TrialConfig.from_dict({"model": "cnn_v3", "dropout2": 0.1})
    assert (v3.batch_norm, v3.dropout1, v3.dropout2, v3.dropout3) == (False, 0.2, 0.1, 0.4)
    assert TrialConfig.from_dict({}) == TrialConfig.from_dict(
        {"model": "cnn_v4", **PRESETS["cnn_v4"]}
    )


def test_valid_values_are_coerced():
    cfg = TrialConfig.from_dict({"batch_size": 64.0, "lr": 1})
    assert cfg.batch_size == 64 and isinstance(cfg.batch_size, int)
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"learning_rate": 0.1}, "unknown config key(s) learning_rate"),
        ({"lr": 50.0}, "config key 'lr': 50.0 is outside [1e-06, 10]"),
        ({"lr": "fast"}, "config key 'lr': 'fast' is not a number"),
        ({"lr": float("nan")}, "config key 'lr': nan is outside"),
        ({"optimizer": "rmsprop"}, "config key 'optimizer': 'rmsprop' is not one of sgd"),
        ({"batch_size": 12.5}, "config key 'batch_size': 12.5 is not a whole number"),
        ({"batch_size": float("nan")}, "config key 'batch_size': nan is outside [8, 4096]"),
        ({"seed": float("inf")}, "config key 'seed': inf is outside"),
        ({"batch_norm": "yes"}, "config key 'batch_norm': 'yes' is not true/false"),
        ({"model": "cnn_v9"}, "config key 'model': 'cnn_v9' is not one of cnn_v2"),
        ({"erase_scale_min": 0.5, "erase_scale_max": 0.1}, "erase_scale_min 0.5 > erase_scale"),
        ({"erase_ratio_min": 3.0, "erase_ratio_max": 1.0}, "erase_ratio_min 3.0 > erase_ratio"),
    ],
)
def test_bad_configs_are_one_line_usage_errors(raw, message):
    with pytest.raises(UsageError) as info:
        TrialConfig.from_dict(raw)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_keys_table_lists_every_key():
    table = format_keys_table()
    for key in KEYS:
        assert f"| `{key.name}` |" in table
