"""Errors the CLI turns into one clear line on stderr and an exit code.

``UsageError`` (exit 2) is a bad request: a flag, key, value or path the user can fix.
``TuneCifarError`` (exit 1) is a runtime failure: unreadable data, a failed search.
"""


class TuneCifarError(Exception):
    """A runtime failure, reported as one line; the CLI exits with 1."""

    exit_code = 1


class UsageError(TuneCifarError):
    """A bad request (flag, key, value, path), reported as one line; the CLI exits with 2."""

    exit_code = 2
