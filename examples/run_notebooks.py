"""Execute the example notebooks through a real Jupyter kernel (nbclient) and keep their
outputs: in place, so the committed notebooks show a real run's figures, or in ``--out``.

    python examples/run_notebooks.py                 # regenerate examples/*.ipynb
    python examples/run_notebooks.py --out /tmp/nb   # run them, write the results there

A cell that fails stops the run with its error and a non-zero exit; the notebook is then
not written. Each runs in the folder it is written to (its experiments go there).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 1800  # per cell


def run(notebook: Path, out: Path) -> Path:
    """``notebook`` executed (every cell, in order) and written to ``out``."""
    nb = nbformat.read(notebook, as_version=4)
    out.parent.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(
        nb, timeout=TIMEOUT_S, kernel_name="python3", resources={"metadata": {"path": out.parent}}
    )
    client.execute()
    nbformat.write(nb, out)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: examples/*.ipynb")
    parser.add_argument("--out", type=Path, default=None, help="default: in place")
    args = parser.parse_args()
    for notebook in args.notebooks or sorted(HERE.glob("*.ipynb")):
        target = notebook if args.out is None else args.out / notebook.name
        start = time.monotonic()
        try:
            run(notebook, target)
        except CellExecutionError as exc:
            print(f"{notebook}: a cell failed:\n{exc}", file=sys.stderr)
            return 1
        print(f"{notebook.name}: ran in {time.monotonic() - start:.0f} s, wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
