"""``tune-cifar search`` and ``tune-cifar resume``: the parser built from ``SearchOptions``'
description (one flag per field), and how a search's end is told."""

from __future__ import annotations

import argparse
import json
import sys

from tune_cifar.api import report_outcome
from tune_cifar.cli._args import add_command, add_data_flags, data_spec_from, folder_arg
from tune_cifar.errors import UsageError
from tune_cifar.storage import storage_place
from tune_cifar.tuning import check_name, option_fields, options_from_flags

GROUPS = {
    "search": "what to search",
    "scheduler": "early stopping and population-based training",
    "budget": "budgets",
    "resources": "resources",
    "storage": "where results go",
    "output": "output",
}


def add_option_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per SearchOptions field, in its group, with its default in its help."""
    groups = {key: parser.add_argument_group(title) for key, title in GROUPS.items()}
    for f in option_fields():
        group = groups[f.group]
        help_text = f"{f.help} (default: {f.shown_default})".replace("%", "%%")
        if f.type is bool:
            group.add_argument(f.flag, action="store_true", help=help_text)
            continue
        kind = str if f.type is tuple else f.type
        group.add_argument(
            f.flag,
            type=kind,
            default=f.default if f.sep is None else None,
            choices=f.choices,
            metavar=None if f.choices else f.metavar,
            nargs=f.nargs,
            help=help_text,
        )


def add_search_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "search",
        "run a hyperparameter search with Ray Tune",
        description="Run a Ray Tune search over a space of CNN configurations.",
    )
    add_option_flags(p)
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the existing experiment of this --name (as 'tune-cifar resume')",
    )
    add_data_flags(p)
    p.set_defaults(func=cmd_search)


def cmd_search(args: argparse.Namespace) -> int:
    opts = options_from_flags(vars(args))
    opts.check()  # a bad flag is refused before torch and Ray are even imported
    from tune_cifar.tuning import run_search

    if args.resume:
        from tune_cifar.tuning import resume_search

        if args.name is not None:
            check_name(args.name)
        place = storage_place(opts.storage_path, "--storage-path").child(args.name or "")
        if args.name is None or not place.exists():
            raise UsageError(
                "--resume needs the --name (and --storage-path) of an existing experiment"
            )
        return report_outcome(resume_search(place.local if place.is_local else place.uri))
    return report_outcome(run_search(opts, data_spec_from(args), argv=sys.argv))


def add_resume_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "resume",
        "continue an interrupted search",
        description="Continue a search stopped by Ctrl-C, a killed driver or a reboot: "
        "unfinished trials continue from their last checkpoints, finished trials "
        "stay finished. Tune's experiment state is pickled, and Ray advises to "
        "restore only folders you trust: tune-cifar first checks that the folder "
        "holds its own spec file, and reads data and flags from it.",
    )
    p.add_argument("experiment", type=folder_arg, help="experiment folder (or file:// URI)")
    p.add_argument(
        "--retry-errored",
        action="store_true",
        help="also retry errored trials from their last checkpoints",
    )
    p.set_defaults(func=cmd_resume)


def cmd_resume(args: argparse.Namespace) -> int:
    from tune_cifar.tuning import resume_search

    return report_outcome(resume_search(args.experiment, args.retry_errored))


def add_spaces_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "spaces", "list the built-in search spaces")
    p.add_argument("show", nargs="?", default=None, help="a space name or file to show in full")
    p.set_defaults(func=cmd_spaces)


def cmd_spaces(args: argparse.Namespace) -> int:
    from tune_cifar.tuning import builtin_spaces, load_space

    spaces = [load_space(args.show)] if args.show else builtin_spaces()
    width = max(len(s.name) for s in spaces)
    for space in spaces:
        print(f"{space.name:<{width}}  {space.description}")
        if args.show:
            print(f"  {space.describe()}" if space.points is None else "")
            for point in space.points or []:
                print(f"  {json.dumps(point)}")
    return 0
