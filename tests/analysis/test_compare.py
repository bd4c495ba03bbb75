"""``tune-cifar compare``: searches side by side per trial-epoch, from their folders."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tune_cifar.cli import main
from tune_cifar.constants import CONFIRM_DIR, SPEC_FILE
from tune_cifar.constants import CONFIRM_RUNS_FILE as RUNS_FILE
from tune_cifar.constants import CONFIRM_SUMMARY_FILE as SUMMARY_FILE
from tune_cifar.results import summarize


def _experiment(folder: Path, search: str, data: dict) -> Path:
    folder.mkdir(parents=True)
    (folder / SPEC_FILE).write_text(
        json.dumps(
            {
                "options": {"search": search, "scheduler": "asha", "max_epochs": 3},
                "data": data,
                "space": {},
            }
        )
    )
    return folder


@pytest.fixture()
def two_searches(tmp_path, write_trial):
    """A: trials a (0.2, 0.5, 0.4 at seconds 1, 3, 5) and b (0.3, 0.6 at 2, 4), confirmed;
    B: one trial, 0.7 at its third epoch, on a training subset."""
    a = _experiment(tmp_path / "a", "random", {"source": "sample"})
    write_trial(a, "a", [0.2, 0.5, 0.4], kept=[2, 3], timestamps=[1, 3, 5])
    write_trial(a, "b", [0.3, 0.6], kept=[2], finished=False, timestamps=[2, 4])
    runs = pd.DataFrame(
        {
            "rank": 1,
            "source_trial": "b",
            "search_val_acc": 0.6,
            "seed": [1, 2, 3],
            "trial_id": ["x", "y", "z"],
            "val_acc": 0.6,
            "epoch": 2,
            "test_acc": [0.55, 0.57, 0.59],
            "checkpoint": "",
        }
    )
    (a / CONFIRM_DIR).mkdir()
    runs.to_csv(a / CONFIRM_DIR / RUNS_FILE, index=False)
    summarize(runs).to_csv(a / CONFIRM_DIR / SUMMARY_FILE, index=False)
    b = _experiment(tmp_path / "b", "optuna", {"source": "sample", "train_subset": 100})
    write_trial(b, "c", [0.1, 0.1, 0.7], kept=[3])
    return a, b


def test_compare_tables_and_draws_each_search_per_trial_epoch(two_searches, tmp_path, capsys):
    from tune_cifar.analysis import anytime_curve
    from tune_cifar.results import load_trials

    a, b = two_searches
    curve = anytime_curve(load_trials(a))  # in report order: a1 b1 a2 b2 a3
    assert list(curve["trial_epochs"]) == [1, 2, 3, 4, 5]
    assert list(curve["best_val_acc"]) == pytest.approx([0.2, 0.3, 0.5, 0.6, 0.6])

    out = tmp_path / "cmp"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].split() == [
        "a",
        "random",
        "asha",
        "2",
        "5",
        "0.6000",
        "4",
        "0.5700",
        "±",
        "0.0200",
        "(3",
        "runs)",
    ]
    assert printed[2].split() == ["b", "optuna", "asha", "1", "3", "0.7000", "3", "-"]
    assert printed[3] == (
        "note: these experiments validated on different data (train_subset: "
        "None / 100): their val_acc are not comparable"
    )
    table = pd.read_csv(out / "compare.csv")
    assert list(table["best_trial"]) == ["b", "c"]
    assert list(table["trial_epochs"]) == [5, 3]
    assert (out / "compare.png").stat().st_size > 10_000


def test_compare_refuses_a_folder_that_is_not_an_experiment(two_searches, tmp_path, capsys):
    a, _ = two_searches
    (tmp_path / "notes").mkdir()
    assert main(["compare", str(a), str(tmp_path / "notes"), "--out", str(tmp_path / "o")]) == 2
    assert (
        capsys.readouterr().err.strip().endswith(f"is not a tune-cifar experiment (no {SPEC_FILE})")
    )
    assert not (tmp_path / "o").exists()  # nothing written


def test_compare_refuses_an_out_it_cannot_create_before_printing(two_searches, tmp_path, capsys):
    a, b = two_searches
    (tmp_path / "taken").write_text("a file, not a folder\n")
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "taken")]) == 2
    printed = capsys.readouterr()
    assert printed.out == ""  # no table printed before the refusal
    assert printed.err.strip().splitlines() == [
        f"tune-cifar: error: cannot create --out {tmp_path / 'taken'}: File exists"
    ]
    assert (tmp_path / "taken").read_text() == "a file, not a folder\n"


def test_compare_replaces_its_own_output_and_never_a_users_file(two_searches, tmp_path, capsys):
    """A second compare into the same --out replaces the first one's files; a compare.csv the
    user made there is refused in one line, nothing written, the file as it was."""
    a, b = two_searches
    out = tmp_path / "o"
    assert main(["compare", str(a), str(b), "--out", str(out)]) == 0
    assert main(["compare", str(b), str(a), "--out", str(out)]) == 0  # its own: replaced
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "compare.csv").write_text("my own table\n")
    capsys.readouterr()
    assert main(["compare", str(a), str(b), "--out", str(mine)]) == 2
    printed = capsys.readouterr()
    assert printed.out == "" and printed.err.strip().splitlines() == [
        f"tune-cifar: error: --out {mine} already holds compare.csv, which tune-cifar compare "
        "did not write; pick another folder (nothing was written or replaced)"
    ]
    assert (mine / "compare.csv").read_text() == "my own table\n"
    assert sorted(p.name for p in mine.iterdir()) == ["compare.csv"]


def test_analyze_and_evaluate_refuse_a_users_file_of_their_names(two_searches, tmp_path, capsys):
    """Refused before the experiment is even read: nothing written, the file as it was."""
    a, _ = two_searches
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.md").write_text("my notes\n")
    assert main(["analyze", str(a), "--out", str(mine)]) == 2
    assert "already holds report.md, which tune-cifar analyze did not write" in (
        capsys.readouterr().err
    )
    assert sorted(p.name for p in mine.iterdir()) == ["report.md"]
    assert (mine / "report.md").read_text() == "my notes\n"
    (mine / "evaluation.json").write_text("{}\n")
    assert main(["evaluate", str(a), "--out", str(mine)]) == 2
    assert "already holds evaluation.json, which tune-cifar evaluate did not write" in (
        capsys.readouterr().err
    )
    assert (mine / "evaluation.json").read_text() == "{}\n"


def test_experiments_of_one_folder_name_are_told_apart(tmp_path, write_trial, capsys):
    """Two experiments named "keep" are "a/keep" and "b/keep" in the table, the CSV and the
    legend; the same experiment twice is one line."""
    for parent, value in (("a", 0.4), ("b", 0.6)):
        folder = _experiment(tmp_path / parent / "keep", "random", {"source": "sample"})
        write_trial(folder, "t", [value], kept=[1])
    keeps = [str(tmp_path / "a" / "keep"), str(tmp_path / "b" / "keep")]
    assert main(["compare", *keeps, "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "a/keep" in out and "b/keep" in out
    table = pd.read_csv(tmp_path / "cmp" / "compare.csv")
    assert list(table["experiment"]) == ["a/keep", "b/keep"]
    assert list(table["best_val_acc"]) == pytest.approx([0.4, 0.6])
    assert main(["compare", keeps[0], keeps[0] + "/", "--out", str(tmp_path / "twice")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is given twice (as experiment 1 and 2)" in err[0]
    assert not (tmp_path / "twice").exists()
