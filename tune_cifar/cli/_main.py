"""The ``tune-cifar`` command line.

    tune-cifar search --space quick --data sample --num-samples 4 --max-epochs 4
    tune-cifar train --model cnn_v4 --epochs 10 --data sample --out runs/v4
    tune-cifar spaces          # the built-in search spaces
    tune-cifar keys            # every hyperparameter key, its range and default
    tune-cifar analyze EXP     # frames, plots and a report (also: best, evaluate, predict)

Errors are one line on stderr: exit 2 for a bad request, 1 for a runtime failure
(``--debug`` shows the traceback). torch and Ray are imported by the commands that need them,
not here: the parser, ``--help``, ``keys`` and a refused search flag start without them.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

from tune_cifar.cli._args import Parser
from tune_cifar.cli._results import add_result_parsers
from tune_cifar.cli._search import add_resume_parser, add_search_parser, add_spaces_parser
from tune_cifar.cli._train import add_keys_parser, add_train_parser
from tune_cifar.errors import TuneCifarError


def build_parser() -> Parser:
    parser = Parser(
        prog="tune-cifar",
        description="Hyperparameter search for the seed study's CIFAR-10 CNNs on Ray Tune.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parser.commands = sub.choices  # name -> its parser, in the order added (the reference's)
    add_search_parser(sub)
    add_train_parser(sub)
    add_spaces_parser(sub)
    add_keys_parser(sub)
    add_resume_parser(sub)
    add_result_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except TuneCifarError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"tune-cifar: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tune-cifar: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head and the like
        sys.stderr.close()
        return 0
    except RuntimeError as exc:  # Path.resolve() of a symbolic link loop (Python 3.11, 3.12)
        if not str(exc).startswith("Symlink loop from"):
            return internal_error(exc, args.debug)
        print(
            f"tune-cifar: error: {exc.args[0].removeprefix('Symlink loop from ')}: a loop "
            "of symbolic links",
            file=sys.stderr,
        )
        return 2
    except Exception as exc:  # a bug or an unforeseen failure: still one line unless --debug
        return internal_error(exc, args.debug)


def internal_error(exc: Exception, debug: bool) -> int:
    """A bug or an unforeseen failure: one line (the traceback with --debug), exit 1."""
    if debug:
        raise exc
    print(
        f"tune-cifar: internal error: {type(exc).__name__}: {exc} (run with --debug "
        "for the traceback)",
        file=sys.stderr,
    )
    return 1
