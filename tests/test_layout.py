"""The layering is a rule over folders, held here: what each folder of ``tune_cifar`` may
import (imports inside functions count too), no module reaching into another folder's
private modules, every folder on the package's map, and tests/ mirroring the folders.

``python tests/test_layout.py`` prints each folder's imports against what it may import."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "tune_cifar"
SHARED = "shared"  # the modules at the package's top: constants, errors, metrics, config, ...
# Folder -> the folders it may import (besides itself). One way: shared -> data, storage ->
# train -> trial; results read what train writes; analysis reads results; tuning (the search)
# uses all of those; api everything but the command line; the command line everything.
MAY_IMPORT: dict[str, set[str]] = {
    SHARED: set(),
    "data": {SHARED},
    "storage": {SHARED},
    "search_spaces": set(),
    "train": {SHARED, "data"},
    "trial": {SHARED, "data", "train"},
    "results": {SHARED, "data", "storage", "train"},
    "analysis": {SHARED, "data", "storage", "train", "results", "search_spaces"},
    "tuning": {SHARED, "data", "storage", "train", "trial", "results", "search_spaces"},
    "api": {SHARED, "data", "storage", "train", "trial", "results", "analysis", "tuning"},
    "cli": {SHARED, "data", "storage", "train", "trial", "results", "analysis", "tuning", "api"},
}
FOLDERS = set(MAY_IMPORT) - {SHARED}


def source_files() -> list[Path]:
    """Every module of the package, analysis/ and search_spaces/ through their links."""
    files = sorted(PACKAGE.glob("*.py"))
    for folder in sorted(FOLDERS):
        files += sorted((PACKAGE / folder).rglob("*.py"))
    return files


def module_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(("tune_cifar", *(p for p in parts if p != "__init__")))


def folder_of(module: str) -> str:
    """The folder of ``tune_cifar.X...`` (a subpackage), or SHARED for a top-level module."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FOLDERS else SHARED


def imports(path: Path) -> set[str]:
    """The tune_cifar modules a file imports (``from tune_cifar import x`` as tune_cifar.x)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            if node.module == "tune_cifar":
                found |= {f"tune_cifar.{a.name}" for a in node.names}
    return {m for m in found if m.startswith("tune_cifar.")}


def private_part(module: str) -> str | None:
    """The first private part of a module path (``_trainer`` in tune_cifar.train._trainer)."""
    return next((p for p in module.split(".") if p.startswith("_")), None)


@pytest.mark.parametrize("path", source_files(), ids=lambda p: module_of(p))
def test_each_folder_imports_only_what_it_may(path):
    here = folder_of(module_of(path))
    reached = {folder_of(m) for m in imports(path)} - {here}
    assert reached <= MAY_IMPORT[here], f"{here}/ may not import {reached - MAY_IMPORT[here]}"


@pytest.mark.parametrize("path", source_files(), ids=lambda p: module_of(p))
def test_no_module_reaches_into_another_folders_private_modules(path):
    here = module_of(path)
    foreign = [m for m in imports(path) if private_part(m) and folder_of(m) != folder_of(here)]
    assert foreign == [], f"import these through their folder's __init__: {foreign}"


def test_every_folder_is_on_the_packages_map():
    text = (PACKAGE / "__init__.py").read_text()
    assert {f for f in FOLDERS if not re.search(rf"^ *{f}/", text, re.M)} == set()


def test_tests_follow_the_packages_folders():
    folders = {p.name for p in (REPO / "tests").iterdir() if p.is_dir() and p.name[0] != "_"}
    assert folders <= FOLDERS | {"benchmarks", "examples"}  # (the repository's own two)


@pytest.mark.slow  # it imports everything: torch, Ray, Optuna (their imports start processes)
def test_every_public_name_is_imported_when_first_used():
    """Each folder's __init__.pyi names what it offers; each name imports (lazy_loader)."""
    import importlib

    for stub in sorted(PACKAGE.glob("**/__init__.pyi")):
        package = importlib.import_module(module_of(stub.with_suffix(".py")))
        for node in ast.parse(stub.read_text()).body:
            for alias in getattr(node, "names", []):
                assert getattr(package, alias.name) is not None, (package.__name__, alias.name)


if __name__ == "__main__":
    for folder in sorted(MAY_IMPORT):
        paths = [p for p in source_files() if folder_of(module_of(p)) == folder]
        used = set().union(*(imports(p) for p in paths)) if paths else set()
        reached = sorted({folder_of(m) for m in used} - {folder})
        name = folder if folder == SHARED else f"{folder}/"
        print(
            f"{name:<15} imports {', '.join(reached) or '-':<60} may import "
            f"{', '.join(sorted(MAY_IMPORT[folder])) or '-'}"
        )
