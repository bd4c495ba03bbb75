"""``tune-cifar dashboard`` in a real browser: headless Chromium (Debian's ``chromium``)
driven by Playwright through the system browser, over the journal a real search wrote.

Skips, saying why, where Playwright or the browser is missing; ``.ci/run`` installs both.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import optuna
import pytest

from tune_cifar.constants import JOURNAL_FILE
from tune_cifar.results import open_journal

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Flags for a closed network: no background connections, no first-run or sync traffic.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture()
def browser():
    playwright = pytest.importorskip(
        "playwright.sync_api", reason="Playwright is not installed (pip install -e .[dev])"
    )
    if CHROMIUM is None:
        pytest.skip("no Chromium on this machine (Debian: apt-get install chromium)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def start_dashboard(folder: Path, *extra: str) -> tuple[subprocess.Popen, str, str]:
    """``tune-cifar dashboard`` on a free port; returns the process, its address and the line
    that gave it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tune_cifar.cli", "dashboard", str(folder), "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    line = proc.stdout.readline()
    match = re.search(r"(http://127\.0\.0\.1:\d+/dashboard/)", line)
    assert match, line + proc.stderr.read() if proc.poll() is not None else line
    return proc, match.group(1), line


def delete_study(address: str) -> int:
    """The HTTP status of optuna-dashboard's DELETE /api/studies/0 (the experiment's study)."""
    url = address.replace("/dashboard/", "/api/studies/0")
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, method="DELETE"), timeout=30
        ) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


def stop(proc: subprocess.Popen) -> tuple[int, str, str]:
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def test_the_dashboard_shows_the_study_its_trials_and_the_pruned_ones(
    asha_experiment, browser, tmp_path
):
    folder = asha_experiment.experiment_path
    study = optuna.load_study(study_name=folder.name, storage=open_journal(folder))
    states = [t.state.name for t in study.trials]
    assert len(states) == 6 and "PRUNED" in states  # written live by the search itself

    proc, address, _ = start_dashboard(folder)
    try:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(address)
        page.get_by_text(folder.name).first.wait_for(timeout=30_000)  # the study list
        page.goto(address + "studies/0/trials")
        page.get_by_text("6 Trials").wait_for(timeout=30_000)
        body = page.inner_text("body")
        assert body.count("Pruned") >= states.count("PRUNED")
        assert "Complete" in body
        page.screenshot(path=str(tmp_path / "trials.png"))
    finally:
        code, out, err = stop(proc)
    assert code == 0 and "dashboard stopped" in out
    assert "Traceback" not in err


def test_an_older_experiment_gets_its_journal_and_a_wide_host_is_said(asha_experiment, tmp_path):
    folder = tmp_path / "old"
    shutil.copytree(asha_experiment.experiment_path, folder)
    (folder / JOURNAL_FILE).unlink()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tune_cifar.cli",
            "dashboard",
            str(folder),
            "--port",
            "0",
            "--host",
            "0.0.0.0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    first = proc.stdout.readline()
    address = proc.stdout.readline()
    code, _, err = stop(proc)
    assert first.startswith(f"built {folder / JOURNAL_FILE} from Tune's files")
    assert "http://0.0.0.0:" in address
    assert "note: listening on 0.0.0.0, not only on this machine" in err
    assert code == 0
    study = optuna.load_study(study_name="old", storage=open_journal(folder))
    assert len(study.trials) == 6


def test_the_dashboard_is_read_only_unless_writes_are_allowed(asha_experiment, tmp_path):
    """optuna-dashboard's API can delete a study: through the real server, that request is
    refused (405) and the journal stays byte for byte; with --allow-writes the same request
    deletes the study (on a copy), so the refusal is the read-only guard's."""
    folder = asha_experiment.experiment_path
    journal_before = (folder / JOURNAL_FILE).read_bytes()
    proc, address, line = start_dashboard(folder)
    try:
        assert delete_study(address) == 405
    finally:
        code, _, _ = stop(proc)
    assert code == 0 and "(read-only; Ctrl-C stops it)" in line
    assert (folder / JOURNAL_FILE).read_bytes() == journal_before

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    proc, address, line = start_dashboard(copy, "--allow-writes")
    try:
        assert delete_study(address) in (200, 204)
    finally:
        code, _, _ = stop(proc)
    assert code == 0 and "(read and write; Ctrl-C stops it)" in line
    assert optuna.get_all_study_names(storage=open_journal(copy)) == []
