"""``tune_cifar.search``, ``resume``, ``confirm`` and ``load_experiment``: the commands of the
same names, called from Python, each returning what a notebook works with (an
``Experiment``, a ``Confirmation``) instead of printing and exiting.

A search prints what ``tune-cifar search`` prints (its first lines, the live view, how it
ended). Ctrl-C (in a notebook: interrupt the kernel) stops it in order, as in the shell: the
experiment comes back with its unfinished trials, ``tune_cifar.resume`` continues it, and
the kernel stays usable. A Ray already running (a notebook's, a cluster's) stays running.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tune_cifar.analysis import Experiment
from tune_cifar.api._keywords import DATA_KEYWORDS, options_from_keywords
from tune_cifar.api._report import report_outcome, storage_full_line
from tune_cifar.errors import TuneCifarError
from tune_cifar.results import Confirmation, local_target
from tune_cifar.tuning import option_fields

if TYPE_CHECKING:
    from tune_cifar.tuning import SearchOutcome


def search(**options: Any) -> Experiment:
    """Run a hyperparameter search with Ray Tune, as ``tune-cifar search`` does, and return
    its experiment. Each keyword is the command's flag of that name (``num_samples=8`` is
    ``--num-samples 8``), with the same default and the same checks; a flag that takes a
    list takes a list or the flag's text. A bad keyword raises ``tune_cifar.UsageError``
    with the command's one line, before Ray starts.

    >>> exp = tune_cifar.search(space="quick", data="sample", num_samples=8, max_epochs=4)
    >>> exp.best.value, exp.trials.head()

    The keywords (``tune-cifar search --help`` says the same):
    """
    from tune_cifar.tuning import run_search

    opts, data = options_from_keywords(options)
    call = ", ".join(f"{key}={value!r}" for key, value in options.items())
    return _ended(run_search(opts, data, argv=[f"tune_cifar.search({call})"]))


def resume(experiment: str | Path, retry_errored: bool = False) -> Experiment:
    """Continue an interrupted search, as ``tune-cifar resume`` does: unfinished trials go
    on from their last checkpoints, finished ones stay finished, errored ones are retried
    only with ``retry_errored``. ``experiment``: its folder or its ``s3://`` / ``gs://`` URI."""
    from tune_cifar.tuning import resume_search

    return _ended(resume_search(experiment, retry_errored))


def confirm(
    experiment: str | Path, top: int = 3, seeds: int = 3, overwrite: bool = False
) -> Confirmation:
    """Re-train the experiment's top ``top`` configurations with ``seeds`` new seeds each and
    test every selected checkpoint once, as ``tune-cifar confirm`` does; the confirmation's
    ``summary`` frame holds each one's test accuracy as mean, sd and 95% interval."""
    from tune_cifar.tuning import run_confirmation

    call = f"tune_cifar.confirm({str(experiment)!r}, top={top}, seeds={seeds})"
    return run_confirmation(experiment, top, seeds, overwrite, argv=[call])


def load_experiment(experiment: str | Path) -> Experiment:
    """An experiment read back from its folder (or its ``s3://`` / ``gs://`` URI, through the
    local cache): ``.trials`` and ``.epochs`` frames, ``.best``, ``.plot(name)``,
    ``.load_model()``. Reads the files only; a search may still be writing them."""
    from tune_cifar.analysis import load_experiment as load

    return load(local_target(experiment))


def _ended(outcome: SearchOutcome) -> Experiment:
    """Say how the search ended, as the command does, and return its experiment; the
    command's one line as a TuneCifarError when the storage filled up or no trial reported
    a result."""
    full = storage_full_line(outcome)
    if full is not None:
        raise TuneCifarError(full)
    report_outcome(outcome)
    return load_experiment(outcome.experiment_path)


def _keyword_reference() -> str:
    lines = [f"    {f.name}: {f.help} (default: {f.shown_default})" for f in option_fields()]
    lines.append(
        f"    {', '.join(DATA_KEYWORDS)}: the data flags "
        f"({', '.join('--' + k.replace('_', '-') for k in DATA_KEYWORDS)}); data= "
        "cifar10 (default), sample or synthetic"
    )
    return "\n".join(lines)


if search.__doc__ is not None:  # (None under python -OO)
    search.__doc__ += "\n" + _keyword_reference() + "\n"
