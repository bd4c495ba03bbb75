"""Argument helpers shared by the ``tune-cifar`` subcommands.

One-line argparse errors, path arguments that take ``file://`` and ``s3://`` URIs (and the
local folder a command then reads), true/false flags, and the data flags with the
``DataSpec`` they make.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import NoReturn

from tune_cifar.constants import OUTPUTS_FILE
from tune_cifar.data import DATA_DIR_ENV, SOURCES, DataSpec
from tune_cifar.errors import UsageError
from tune_cifar.storage import storage_place


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block), exit code 2, like our own errors; a
    subcommand's parser keeps its one-line ``summary``, the command's its ``commands``."""

    summary: str = ""
    commands: dict[str, Parser]

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_command(
    sub: argparse._SubParsersAction, name: str, summary: str, description: str | None = None
) -> Parser:
    """A subcommand: its one-line ``summary`` (the command list of ``--help`` and of
    ``docs/cli.md``) and its ``--help`` description (the summary, where none is given)."""
    parser = sub.add_parser(
        name,
        help=summary.replace("%", "%%"),
        description=description or summary[0].upper() + summary[1:] + ".",
    )
    parser.summary = summary
    return parser


def folder_arg(text: str) -> Path | str:
    """An experiment or checkpoint argument: a path, ``~/...`` or ``file://`` URI (a Path), or
    an ``s3://`` / ``gs://`` URI (kept as text: ``here`` reads it)."""
    try:
        place = storage_place(text)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return place.local if place.is_local else place.uri


def bool_flag(text: str) -> bool:
    if text.lower() in ("1", "true", "yes", "on"):
        return True
    if text.lower() in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def add_data_flags(parser: argparse.ArgumentParser, default_source: str | None = "cifar10") -> None:
    group = parser.add_argument_group("data")
    default_text = default_source or "the experiment's data"
    group.add_argument(
        "--data",
        choices=SOURCES,
        default=default_source,
        help="cifar10: the full set from --data-dir; sample: the real 2,000/500 "
        "image sample shipped with tune-cifar; synthetic: generated test "
        f"images (default: {default_text})",
    )
    group.add_argument(
        "--data-dir",
        default=None,
        help=f"folder holding cifar-10-batches-py, or that folder itself "
        f"(default: ${DATA_DIR_ENV})",
    )
    group.add_argument(
        "--download",
        action="store_true",
        help="download CIFAR-10 with torchvision (needs a network)",
    )
    group.add_argument(
        "--val-source",
        choices=("holdout", "test"),
        default="holdout",
        help="holdout: a seeded class-balanced split of the training images "
        "(default); test: the test set, as the seed study did",
    )
    group.add_argument(
        "--val-size",
        type=int,
        default=None,
        help="holdout size (default 5,000 for cifar10, 10%% otherwise)",
    )
    group.add_argument(
        "--train-subset",
        type=int,
        default=None,
        metavar="N",
        help="train on a seeded class-balanced subset of N images",
    )


def data_spec_from(args: argparse.Namespace) -> DataSpec:
    return DataSpec(
        source=args.data,
        data_dir=args.data_dir,
        download=args.download,
        val_source=args.val_source,
        val_size=args.val_size,
        train_subset=args.train_subset,
    )


def here(location: Path | str) -> Path:
    """The local folder to read: the path itself, or for a URI the local cache holding the
    experiment's results (said once, on stderr)."""
    from tune_cifar.results import local_target
    from tune_cifar.storage import cache_folder

    folder = local_target(location)
    if isinstance(location, str):
        cache = cache_folder(storage_place(location))
        print(
            f"note: {location}: results read into the local cache {cache} (checkpoints "
            "only when used)",
            file=sys.stderr,
        )
    return folder


def claim_out(out: Path, command: str, names: list[str]) -> None:
    """Refuse, in one line and before anything is written, an ``--out`` where one of the
    files ``command`` writes already stands and no earlier ``tune-cifar command`` wrote it
    (a user's own file of that name); then note the names as ``command``'s."""
    record = out / OUTPUTS_FILE
    try:
        earlier = json.loads(record.read_text()) if record.is_file() else {}
    except (OSError, ValueError):
        earlier = {}
    if not isinstance(earlier, dict):
        earlier = {}
    ours = set(earlier.get(command) or [])
    clash = sorted(n for n in names if (out / n).exists() and n not in ours)
    if clash:
        raise UsageError(
            f"--out {out} already holds {', '.join(clash)}, which tune-cifar {command} did "
            "not write; pick another folder (nothing was written or replaced)"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --out {out}: {exc.strerror}") from None
    try:
        record.write_text(json.dumps({**earlier, command: sorted(set(names))}, indent=1) + "\n")
    except OSError as exc:
        raise UsageError(f"cannot write --out {out}: {exc.strerror}") from None
