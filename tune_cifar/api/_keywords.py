"""Keywords as ``tune-cifar search`` takes its flags: ``num_samples=8`` is ``--num-samples 8``.

The options come from the one description the command line reads (``SearchOptions`` and
its ``option_fields``), the data keywords from ``DataSpec``; a keyword is checked as
argparse checks its flag (type, choices) and then by the same ``check`` as the command's,
so a bad one raises the ``UsageError`` whose text is the command's one line.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from typing import Any

from tune_cifar.data import DataSpec
from tune_cifar.errors import UsageError
from tune_cifar.tuning import OptionField, SearchOptions, option_fields

# The data flags as keywords: ``data=`` is ``--data`` (DataSpec's ``source``); the rest are
# DataSpec's fields by their own names (``data_dir=`` is ``--data-dir``).
DATA_KEYWORDS = {"data": "source", "data_dir": "data_dir", "download": "download"} | {
    name: name for name in ("val_source", "val_size", "train_subset")
}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _typed(flag: str, kind: type, value: Any) -> Any:
    """``value`` as the flag's type, or the UsageError argparse's message would give."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise UsageError(f"argument {flag}: takes True or False (a switch), not {value!r}")
    if kind is str:
        if isinstance(value, str | os.PathLike):
            return os.fspath(value)
        raise UsageError(f"argument {flag}: takes a string, not {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UsageError(f"argument {flag}: invalid {kind.__name__} value: {value!r}")
    try:
        typed = kind(value)
    except ValueError:
        raise UsageError(f"argument {flag}: invalid {kind.__name__} value: {value!r}") from None
    if kind is int and isinstance(value, float) and typed != value:
        raise UsageError(f"argument {flag}: invalid int value: {value!r}")
    return typed


def _option_value(f: OptionField, value: Any) -> Any:
    """A keyword's value as the field holds it, checked as the parser checks the flag."""
    if value is None:
        if f.default is None or f.type is tuple:
            return f.default
        raise UsageError(f"argument {f.flag}: needs a value ({f.form})")
    if f.type is tuple:
        if isinstance(value, str | os.PathLike):
            text = os.fspath(value)
            return f.parse(text if f.sep is not None else [text])
        if not isinstance(value, list | tuple):
            raise UsageError(f"argument {f.flag}: takes a string or a list of them ({f.form})")
        return tuple(_typed(f.flag, str, v) for v in value)
    typed = _typed(f.flag, f.type, value)
    if f.choices is not None and typed not in f.choices:
        choices = ", ".join(repr(c) for c in f.choices)
        raise UsageError(f"argument {f.flag}: invalid choice: {typed!r} (choose from {choices})")
    return typed


def options_from_keywords(keywords: dict[str, Any]) -> tuple[SearchOptions, DataSpec]:
    """The search options and data of ``tune_cifar.search(**keywords)``, checked as the
    command checks its flags; an unknown keyword names the nearest ones."""
    fields = {f.name: f for f in option_fields()}
    options: dict[str, Any] = {}
    data: dict[str, Any] = {"source": "cifar10"}  # the command's default
    data_types = {f.name: f.type for f in dataclasses.fields(DataSpec)}
    for key, value in keywords.items():
        if key in fields:
            options[key] = _option_value(fields[key], value)
        elif key in DATA_KEYWORDS:
            field = DATA_KEYWORDS[key]
            kind = {"bool": bool, "str": str}.get(str(data_types[field]).split(" |")[0], int)
            data[field] = None if value is None else _typed(_flag(key), kind, value)
        else:
            near = difflib.get_close_matches(key, [*fields, *DATA_KEYWORDS], n=3)
            hint = f"; did you mean {' or '.join(near)}?" if near else ""
            raise UsageError(
                f"unknown option {key}={value!r}{hint} (the keywords are tune-cifar search's "
                "flags: --num-samples is num_samples=)"
            )
    if data.get("source") is None:
        data["source"] = "cifar10"
    opts = SearchOptions(**options)
    opts.check()
    return opts, DataSpec(**data)
