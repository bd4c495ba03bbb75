from pathlib import Path

import pytest
from ray import tune

from tune_cifar.config import TrialConfig
from tune_cifar.errors import UsageError
from tune_cifar.tuning import builtin_spaces, load_space
from tune_cifar.tuning._spaces import as_grid, as_sampled

EXPECTED = {"seed_study", "optimizers", "regularization", "augmentation", "full", "quick"}


def test_every_builtin_space_loads_with_a_description():
    spaces = {s.name: s for s in builtin_spaces()}
    assert set(spaces) >= EXPECTED
    for space in spaces.values():
        assert space.description and "\n" not in space.description


def test_seed_study_holds_the_seed_runs():
    space = load_space("seed_study")
    configs = [TrialConfig.from_dict(p) for p in space.points]
    assert [(c.model, c.optimizer) for c in configs] == [
        ("cnn_v2", "sgd"),
        ("cnn_v2", "sgd"),
        ("cnn_v2", "adam"),
        ("cnn_v3", "adam"),
        ("cnn_v4", "adam"),
        ("cnn_v4", "adam"),
    ]
    assert [c.momentum for c in configs[:2]] == [0.0, 0.9]
    assert configs[-1].erase_p == 0.5 and configs[-2].erase_p == 0.0


def test_full_space_covers_the_other_spaces():
    full = load_space("full").params
    for name in ("optimizers", "regularization", "augmentation"):
        assert set(load_space(name).params) <= set(full)


def write_space(tmp_path: Path, body: str) -> str:
    path = tmp_path / "my_space.py"
    path.write_text(body)
    return str(path)


def test_a_user_space_file_loads(tmp_path):
    path = write_space(
        tmp_path,
        'from ray import tune\nDESCRIPTION = "mine"\n'
        'SPACE = {"lr": tune.loguniform(1e-3, 1e-2), "width": 0.5}\n',
    )
    space = load_space(path)
    assert space.name == "my_space" and space.params["width"] == 0.5


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('raise RuntimeError("boom")', "failed to import: RuntimeError: boom"),
        ("import not_a_module_xyz", "failed to import: No module named 'not_a_module_xyz'"),
        ("SPACE = {}", "has no DESCRIPTION string"),
        ('DESCRIPTION = "x"\nSPACE = 3', "SPACE must be a dict of domains or a list"),
        (
            'from ray import tune\nDESCRIPTION = "x"\nSPACE = {"lrate": tune.uniform(0, 1)}',
            "key 'lrate': unknown config key 'lrate'",
        ),
        (
            'from ray import tune\nDESCRIPTION = "x"\nSPACE = {"lr": tune.loguniform(1e-3, 100)}',
            "search range [0.001, 100] is outside [1e-06, 10]",
        ),
        (
            'from ray import tune\nDESCRIPTION = "x"\nSPACE = {"optimizer": tune.choice(["sgd", '
            '"lion"])}',
            "'lion' is not one of sgd",
        ),
        (
            'from ray import tune\nDESCRIPTION = "x"\nSPACE = {"erase_scale_min": '
            'tune.uniform(0.1, 0.5), "erase_scale_max": 0.2}',
            "erase_scale_min 0.5 > erase_scale",
        ),
        ('DESCRIPTION = "x"\nSPACE = [{"model": "cnn_v7"}]', "configuration 1: config key"),
        (
            'from ray import tune\nDESCRIPTION = "x"\n'
            'SPACE = {"lr": tune.sample_from(lambda c: 1)}',
            "Function domains cannot be checked",
        ),
    ],
)
def test_broken_or_invalid_spaces_are_one_line_errors(tmp_path, body, message):
    with pytest.raises(UsageError) as info:
        load_space(write_space(tmp_path, body))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_unknown_names_and_missing_files():
    with pytest.raises(UsageError, match=r"unknown space 'nope'; built-in: .*quick"):
        load_space("nope")
    with pytest.raises(UsageError, match="does not exist"):
        load_space("nowhere/space.py")


def test_grid_and_optuna_conversions():
    grid = as_grid(load_space("augmentation"))
    assert grid["crop_padding"] == {"grid_search": [0, 2, 4]}
    with pytest.raises(UsageError, match=r"--search grid needs discrete values.*'lr'"):
        as_grid(load_space("optimizers"))
    space = load_space("augmentation")
    object.__setattr__(space, "params", {"hflip_p": tune.grid_search([0.0, 0.5])})
    assert as_sampled(space)["hflip_p"].categories == [0.0, 0.5]
