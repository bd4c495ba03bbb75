"""Every benchmark's ``--smoke-test``, as a user runs it: the scripts keep working.

The figures themselves are measured by hand, with the hardware named (README, Results);
nothing here times anything."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]


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


def test_gpu_throughput_on_a_cpu(tmp_path, smoke_here):
    out = smoke_here("gpu_throughput.py", "--out", str(tmp_path))
    assert "2 + restore + 2 epochs == 4 straight: True" in out
    assert "2.  2 standalone trials at once" in out and "trial-epochs per CPU-minute" in out
    assert (tmp_path / "gpu_throughput.json").is_file()


def test_search_quality(tmp_path, smoke_here, shared_ray):
    out = smoke_here("search_quality.py", "--out", str(tmp_path))
    table = (tmp_path / "table.md").read_text()
    for arm in ("seed study", "search (pruned)"):  # "complete": tests/test_journal.py
        assert f"| {arm} |" in table
    assert (tmp_path / "anytime.png").read_bytes().startswith(b"\x89PNG")
    assert "wrote" in out
