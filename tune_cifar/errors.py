"""Errors the CLI turns into one clear line on stderr and an exit code.

``UsageError`` (exit 2) is a bad request: a flag, key, value or path the user can fix.
``TuneCifarError`` (exit 1) is a runtime failure: unreadable data, a failed search.
"""

import errno


class TuneCifarError(Exception):
    """A runtime failure, reported as one line; the CLI exits with 1."""

    exit_code = 1


class UsageError(TuneCifarError):
    """A bad request (flag, key, value, path), reported as one line; the CLI exits with 2."""

    exit_code = 2


def error_line(error: BaseException | str) -> str:
    """The one line a user reads of an error: its last line (a trial's error is a traceback
    that Tune wraps, ending in the exception's own line), or its type when it has no text."""
    text = str(error).strip()
    if text:
        return text.splitlines()[-1].strip()
    return type(error).__name__ if isinstance(error, BaseException) else ""


def is_storage_full(error: BaseException) -> bool:
    """Whether ``error`` says the storage has no space left (ENOSPC, or its message where an
    object store or a wrapped error carries no errno)."""
    return (isinstance(error, OSError) and error.errno == errno.ENOSPC) or (
        "No space left on device" in str(error)
    )
