"""Argument helpers shared by the ``tune-cifar`` subcommands (``cli`` and ``results_cli``).

One-line argparse errors, path arguments that take ``file://`` URIs, true/false flags, and
the data flags with the ``DataSpec`` they make.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from tune_cifar.data import DataSpec
from tune_cifar.data.datasets import DATA_DIR_ENV, SOURCES
from tune_cifar.errors import UsageError
from tune_cifar.storage import storage_place


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block), exit code 2, like our own errors."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def folder_arg(text: str) -> Path | str:
    """An experiment or checkpoint argument: a path, ``~/...`` or ``file://`` URI (a Path), or
    an ``s3://`` / ``gs://`` URI (kept as text: ``experiment.local_target`` reads it)."""
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
    group.add_argument("--data", choices=SOURCES, default=default_source,
                       help="cifar10: the full set from --data-dir; sample: the real 2,000/500 "
                            "image sample shipped with tune-cifar; synthetic: generated test "
                            f"images (default: {default_text})")
    group.add_argument("--data-dir", default=None,
                       help=f"folder holding cifar-10-batches-py, or that folder itself "
                            f"(default: ${DATA_DIR_ENV})")
    group.add_argument("--download", action="store_true",
                       help="download CIFAR-10 with torchvision (needs a network)")
    group.add_argument("--val-source", choices=("holdout", "test"), default="holdout",
                       help="holdout: a seeded class-balanced split of the training images "
                            "(default); test: the test set, as the seed study did")
    group.add_argument("--val-size", type=int, default=None,
                       help="holdout size (default 5,000 for cifar10, 10%% otherwise)")
    group.add_argument("--train-subset", type=int, default=None, metavar="N",
                       help="train on a seeded class-balanced subset of N images")


def data_spec_from(args: argparse.Namespace) -> DataSpec:
    return DataSpec(source=args.data, data_dir=args.data_dir, download=args.download,
                    val_source=args.val_source, val_size=args.val_size,
                    train_subset=args.train_subset)


