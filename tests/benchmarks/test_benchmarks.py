"""Every benchmark's ``--smoke-test``, as a user runs it: the scripts keep working.

The figures themselves are measured by hand, with the hardware named (README, Results);
nothing here times anything."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture()
def smoke_here(monkeypatch, capsys):
    """``python benchmarks/SCRIPT --smoke-test ARGS`` run in this process (no second start-up
    of torch, the session's Ray); its stdout."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))

    def run(script: str, *args: str) -> str:
        monkeypatch.setattr(sys, "argv", [script, "--smoke-test", *args])
        threads = torch.get_num_threads()
        try:
            runpy.run_path(str(REPO / "benchmarks" / script), run_name="__main__")
        finally:
            torch.set_num_threads(threads)
        return capsys.readouterr().out

    return run


def test_seed_pipeline(smoke_here):
    out = smoke_here("seed_pipeline.py")
    assert "speed: tune-cifar trains" in out and "CPU:" in out


def test_threads_per_trial(smoke_here):
    assert "ratio: " in smoke_here("threads_per_trial.py")


def test_search_overhead(smoke_here):
    out = smoke_here("search_overhead.py", "--trials", "1")
    assert "the search keeps" in out


def test_device_check_on_a_cpu(tmp_path):
    """``benchmarks/device_check.sh --smoke-test``, as CI runs it: every section of
    gpu_throughput.py and packing.py runs (eagerly on a CPU) and lands in its JSON, and
    nothing failed."""
    import json
    import os
    import subprocess

    done = subprocess.run(
        ["bash", str(REPO / "benchmarks" / "device_check.sh"), "--smoke-test"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OUT": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    log = (tmp_path / "gpu_throughput.txt").read_text()
    assert "2 + restore + 2 epochs == 4 straight: True" in log
    assert "4.  2 standalone trials at once" in log and "trial-epochs per CPU-minute" in log
    figures = json.loads((tmp_path / "gpu_throughput.json").read_text())
    sections = ("one trial", "same model", "forced fallback", "standalone", "search")
    assert all(name in figures and "error" not in figures[name] for name in sections)
    assert figures["same model"]["largest_difference"] == 0.0  # both eager on a CPU
    assert (tmp_path / "gpu.txt").read_text() and not (tmp_path / "errors.txt").exists()
    packing = json.loads((tmp_path / "packing.json").read_text())
    assert packing["flops_per_training_image"] == pytest.approx(231.6e6, rel=1e-3)
    assert all(
        name in packing and "error" not in packing[name]
        for name in ("one trial", "stacked", "processes", "compiled")
    )
    assert packing["stacked"]["check"]["same"]  # each stacked model trains as it would alone
    assert packing["one trial"]["batch 100"]["trainer eager"]["images_per_s"] > 0
    assert set(packing["processes"]) == {"1", "2"}
    assert set(packing["stacked"]) == {"check", "width", "1", "2"}
    assert packing["peak_flops"] is None  # a CPU's peak is not known: no MFU is made up


def test_a_failing_section_keeps_the_figures_before_and_after_it(tmp_path, monkeypatch):
    import json

    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    from common import run_sections

    def broken():
        raise RuntimeError("CUDA error: out of memory")

    path = tmp_path / "figures.json"
    figures: dict = {}
    ok = run_sections(
        [("first", lambda: 1), ("second", broken), ("third", lambda: 3)], path, figures
    )
    saved = json.loads(path.read_text())
    assert not ok and saved["first"] == 1 and saved["third"] == 3
    assert saved["second"] == {"error": "RuntimeError: CUDA error: out of memory"}


def test_search_quality(tmp_path, smoke_here, shared_ray):
    out = smoke_here("search_quality.py", "--out", str(tmp_path))
    table = (tmp_path / "table.md").read_text()
    for arm in ("seed", "tpe", "pbt", "prior"):  # the smoke test's arms
        assert f"| {arm} | 1 |" in table  # one search seed each
        record = json.loads((tmp_path / f"{arm}-s0.json").read_text())
        assert len(record["tests"]) == 2 and record["trial_epochs"] >= 1
    pbt = json.loads((tmp_path / "pbt-s0.json").read_text())
    assert pbt["chosen"]["schedule"][0][0] == 1  # a PBT pick is confirmed as its schedule
    again = smoke_here("search_quality.py", "--out", str(tmp_path), "--reuse")
    assert again.count("read from") == 4  # a second sitting reads every arm-seed back
    (tmp_path / "table.md").unlink()
    smoke_here("search_quality.py", "--out", str(tmp_path), "--report-only")
    assert (tmp_path / "table.md").read_text() == table  # the same table from the records
    assert (tmp_path / "anytime.png").read_bytes().startswith(b"\x89PNG")
    assert "wrote" in out


def test_storage_overhead(smoke_here):
    """Against the S3-compatible server it starts on 127.0.0.1; the environment it points at
    that server is this process's, so it is put back afterwards."""
    import os

    names = (
        "AWS_ENDPOINT_URL",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_DEFAULT_REGION",
        "AWS_EC2_METADATA_DISABLED",
        "TUNE_CIFAR_CACHE",
    )
    saved = {name: os.environ.get(name) for name in names}
    for name in names:
        os.environ.pop(name, None)
    try:
        out = smoke_here("storage_overhead.py")
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    assert "of local throughput (wall)" in out and "a checkpoint upload adds" in out


def test_results_scale(tmp_path):
    """Copies of a hand-written experiment, every results command timed as a process."""
    import subprocess

    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "results_scale.py"),
            "--smoke-test",
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads((tmp_path / "results_scale.json").read_text())
    assert set(figures["sizes"]) == {"20", "40"}
    for size, commands in figures["sizes"].items():
        assert set(commands) == {"best", "analyze", "compare", "journal", "dashboard"}
        assert all(c["s"] > 0 and c["peak_mib"] > 0 for c in commands.values())
        assert commands["dashboard"]["trials_answered"] == int(size)
    assert "| best |" in done.stdout


def test_search_soak(tmp_path):
    """A real search of 20 near-free trials as a process of its own: its memory at each
    milestone, the seconds per trial between them, the journal it wrote."""
    import subprocess

    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "search_soak.py"),
            "--smoke-test",
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    figures = json.loads((tmp_path / "search_soak.json").read_text())
    assert figures["trials"] == 20
    assert set(figures["driver_rss_mib_at"]) == {"5", "10", "20"}
    assert set(figures["wall_s_per_trial_between"]) == {"5-10", "10-20"}
    assert all(v >= 0 for v in figures["wall_s_per_trial_between"].values())
    assert all(v >= 0 for v in figures["driver_cpu_s_per_trial_between"].values())
    assert figures["journal_bytes"] > 0 and figures["experiment_state_bytes"] > 0
    assert "wall seconds per trial between milestones" in done.stdout


def test_trial_niceness(tmp_path):
    """Three tiny searches (quiet; beside a spinning process at Ray's 15 and at the default):
    the trials report the niceness asked, and the ratios land in the JSON."""
    import os
    import subprocess

    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "trial_niceness.py"),
            "--smoke-test",
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    figures = json.loads((tmp_path / "trial_niceness.json").read_text())
    driver = os.getpriority(os.PRIO_PROCESS, 0)
    assert [run["nice"] for run in figures["arms"]["quiet"]] == [[driver]]
    assert [run["nice"] for run in figures["arms"]["busy, nice 15"]] == [[max(15, driver)]]
    assert [run["nice"] for run in figures["arms"]["busy, default"]] == [[driver]]
    assert all(r > 0 for ratios in figures["ratio_to_quiet"].values() for r in ratios)
    assert "x the quiet machine's" in done.stdout
