"""``tune-cifar dashboard EXP``: optuna-dashboard over an experiment's Optuna journal.

    tune-cifar dashboard ~/tune-cifar-results/quick-20261128-003233 --port 8080

The journal (``EXP/optuna_journal.log``) is written live by every search, so the dashboard
shows a running search as it goes (for an experiment in object storage, from a copy
downloaded again every ``REFRESH_S`` seconds, as the search uploads it): trials, their
per-epoch validation accuracy, the trials ASHA pruned, parameter importances. For an
experiment made before tune-cifar wrote journals, the journal is first built from Tune's
files. The server binds to 127.0.0.1 unless ``--host``
says otherwise, and stops cleanly on Ctrl-C.

It serves read-only: optuna-dashboard's API can also change a study (delete it or its trials,
add notes, tell trials), so every request other than GET and HEAD is refused with 405 unless
``--allow-writes`` is given; the journal is the search's record and stays as the search wrote
it.
"""

from __future__ import annotations

import contextlib
import ipaddress
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from tune_cifar.constants import JOURNAL_FILE
from tune_cifar.errors import UsageError
from tune_cifar.results._journal import build_journal, open_journal
from tune_cifar.results._spec import read_spec
from tune_cifar.storage import download, remote_of, storage_place

LOCAL_HOST = "127.0.0.1"


class QuietHandler(WSGIRequestHandler):
    """No line per HTTP request on the console."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def prepare_journal(folder: Path) -> tuple[Path, str | None]:
    """(journal path, why it was built now, None if it was not): the search's live journal,
    or one built from Tune's files where there is none or an empty one (a search killed
    before it wrote its study: nothing in it to lose)."""
    read_spec(folder)  # refuses folders that are not tune-cifar experiments
    journal = folder / JOURNAL_FILE
    if not journal.is_file():
        return build_journal(folder), "the experiment predates live journals"
    if journal.stat().st_size == 0:
        return build_journal(folder), "the journal there was empty"
    return journal, None


READ_METHODS = ("GET", "HEAD")


def read_only(app: Callable) -> Callable:
    """A WSGI app that passes GET and HEAD to ``app`` and answers anything else with 405."""

    def guarded(environ: dict[str, Any], start_response: Callable) -> Any:
        if environ.get("REQUEST_METHOD", "GET").upper() in READ_METHODS:
            return app(environ, start_response)
        body = (
            b"tune-cifar dashboard is read-only; start it with --allow-writes to change the study\n"
        )
        start_response(
            "405 Method Not Allowed",
            [
                ("Allow", ", ".join(READ_METHODS)),
                ("Content-Type", "text/plain"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]

    return guarded


def make_dashboard_server(
    folder: Path, host: str, port: int, allow_writes: bool = False
) -> WSGIServer:
    """An optuna-dashboard WSGI server over the experiment's journal, bound but not serving;
    read-only unless ``allow_writes``."""
    import optuna_dashboard

    app = optuna_dashboard.wsgi(open_journal(folder))
    if not allow_writes:
        app = read_only(app)
    try:
        return make_server(host, port, app, handler_class=QuietHandler)
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    except (socket.gaierror, UnicodeError) as exc:
        raise UsageError(f"--host {host}: {exc}") from None


def serve_dashboard(
    folder: Path,
    host: str = LOCAL_HOST,
    port: int = 8080,
    say: Callable[[str], None] = print,
    allow_writes: bool = False,
) -> None:
    """Serve until Ctrl-C; print where, and a warning when listening beyond this machine."""
    if not 0 <= port <= 65535:
        raise UsageError(f"--port must be in [0, 65535], got {port}")
    journal, built = prepare_journal(folder)
    if built:
        say(f"built {journal} from Tune's files ({built})")
    server = make_dashboard_server(folder, host, port, allow_writes)
    remote = remote_of(folder)  # an experiment in object storage: keep its journal fresh
    if remote is not None and not built:
        threading.Thread(
            target=_follow, args=(storage_place(remote).child(JOURNAL_FILE), journal), daemon=True
        ).start()
    # Ctrl-C, and a plain kill too, end the server the same clean way (even where the shell
    # that started it in the background made it ignore SIGINT), from the moment its address
    # is printed: the server is shut down from another thread and finishes the request it is
    # answering. (Raising KeyboardInterrupt from the handler instead was swallowed whenever the
    # signal came during a request: wsgiref reports a handler's exception and serves on.)
    stopping = threading.Event()

    def stop(signum: int, frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=server.shutdown, daemon=True).start()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    try:
        shown = f"[{host}]" if ":" in host else host
        mode = "read and write" if allow_writes else "read-only"
        if not is_loopback(host):  # said before the address, which a reader acts on
            can = "read and change (delete!)" if allow_writes else "read"
            print(
                f"note: listening on {host}, not only on this machine: anyone who can reach "
                f"port {server.server_port} can {can} this study",
                file=sys.stderr,
                flush=True,
            )
        say(
            f"optuna-dashboard for {folder.name}: http://{shown}:{server.server_port}"
            f"/dashboard/ ({mode}; Ctrl-C stops it)"
        )
        server.serve_forever()
        say("dashboard stopped")
    finally:
        server.server_close()


REFRESH_S = 15  # seconds between downloads of a journal that lives in object storage


def _follow(place: Any, journal: Path) -> None:
    """Download the search's journal again every REFRESH_S seconds (it only grows; a reader
    never sees half of it), so the dashboard follows a search running elsewhere."""
    while True:
        time.sleep(REFRESH_S)
        with contextlib.suppress(OSError):
            download(place, journal)
