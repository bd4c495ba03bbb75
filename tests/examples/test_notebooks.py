"""The example notebooks run from start to end through a real Jupyter kernel (nbclient), on
the shipped sample, as a user runs them; the committed ones carry a real run's outputs."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "examples").glob("*.ipynb"))


def images_and_errors(notebook: dict) -> tuple[int, list[str]]:
    outputs = [o for c in notebook["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    images = sum("image/png" in o.get("data", {}) for o in outputs)
    return images, [o["ename"] for o in outputs if o["output_type"] == "error"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_a_committed_notebook_shows_a_real_runs_figures(path):
    images, errors = images_and_errors(json.loads(path.read_text()))
    assert errors == [] and images >= 7, "regenerate: python examples/run_notebooks.py"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_runs_in_a_kernel_from_start_to_end(path, tmp_path):
    if importlib.util.find_spec("nbclient") is None:
        pytest.skip("nbclient is not installed (pip install -e .[dev])")
    sys.path.insert(0, str(REPO / "examples"))
    try:
        from run_notebooks import run  # the command that regenerates them
    finally:
        sys.path.pop(0)
    out = run(path, tmp_path / path.name)  # a failing cell raises with its traceback
    images, errors = images_and_errors(json.loads(out.read_text()))
    assert errors == [] and images >= 7
    assert (tmp_path / "tune-cifar-results" / "search").is_dir()  # where it said it writes
