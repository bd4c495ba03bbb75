"""The reference pages are what the code says: ``docs/cli.md`` and ``docs/hyperparameters.md``
as ``python -m tune_cifar.cli.reference docs`` writes them, the README's command table naming
every command, and the search parser built from ``SearchOptions``' description."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tune_cifar.cli import build_parser
from tune_cifar.cli.reference import PAGES
from tune_cifar.tuning import SearchOptions, option_fields

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(PAGES))
def test_each_reference_page_is_current(name):
    assert (REPO / "docs" / name).read_text() == PAGES[name](), (
        f"docs/{name} is out of date: run 'python -m tune_cifar.cli.reference docs'"
    )


def test_the_readme_names_every_command():
    table = re.findall(r"^\| `tune-cifar ([a-z]+)", (REPO / "README.md").read_text(), re.M)
    assert sorted(table) == sorted(build_parser().commands)


def test_every_search_flag_is_a_field_and_parses_to_its_default():
    """One flag per SearchOptions field; parsing no flags gives SearchOptions() itself."""
    from tune_cifar.tuning import options_from_flags

    args = build_parser().parse_args(["search"])
    assert options_from_flags(vars(args)) == SearchOptions()
    help_text = build_parser().commands["search"].format_help()
    assert [f.flag for f in option_fields() if f.flag not in help_text] == []


def test_list_flags_take_what_their_field_holds():
    from tune_cifar.tuning import options_from_flags

    args = build_parser().parse_args(
        [
            "search",
            "--objective",
            "val_acc, params",
            "--mutate",
            "lr,momentum",
            "--warm-start",
            "a",
            "b",
        ]
    )
    opts = options_from_flags(vars(args))
    assert (opts.objective, opts.mutate, opts.warm_start) == (
        ("val_acc", "params"),
        ("lr", "momentum"),
        ("a", "b"),
    )
