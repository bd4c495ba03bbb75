"""The module map of ``tune_cifar/__init__.py`` holds: the results side (and the analysis)
imports nothing of the search side, and the shared modules import neither."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tune_cifar"
SHARED = ("errors", "metrics", "config", "hardware", "storage")
SEARCH = {"search_options", "optuna_search", "ray_private", "ray_runtime", "resources", "lock",
          "workspace", "progress", "journal_callback", "tb_logger", "search_setup", "tuner",
          "confirm", "trainable", "stopping", "warm_start", "result_files"}
RESULTS = ("experiment", "confirmation", "restore", "dashboard", "journal", "population")


def tune_cifar_imports(path: Path) -> set[str]:
    """The tune_cifar modules a file imports (first component after ``tune_cifar.``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module else
                 [a.name for a in node.names] if isinstance(node, ast.Import) else [])
        found |= {n.split(".")[1] for n in names if n.startswith("tune_cifar.")}
    return found


@pytest.mark.parametrize("path", [PACKAGE / f"{m}.py" for m in RESULTS]
                         + sorted((PACKAGE / "analysis").glob("*.py")), ids=lambda p: p.stem)
def test_the_results_side_reads_the_folder_not_the_search(path):
    assert not tune_cifar_imports(path) & SEARCH


@pytest.mark.parametrize("name", SHARED)
def test_shared_modules_import_neither_side(name):
    assert not tune_cifar_imports(PACKAGE / f"{name}.py") & (SEARCH | set(RESULTS))


def test_every_module_is_on_the_map():
    text = (PACKAGE / "__init__.py").read_text()
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__"}
    assert {m for m in modules if not re.search(rf"^  (\S+, )*{m}[ ,]", text, re.M)} == set()
