"""Frames, plots, report, diagnostics and restore on a real small experiment."""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from tune_cifar.analysis import (
    PLOTS,
    Experiment,
    diagnose,
    load_experiment,
    save_frames,
    write_plots,
    write_report,
)
from tune_cifar.data import load_sample
from tune_cifar.errors import UsageError
from tune_cifar.results import evaluate_checkpoint, predict_images, resolve_checkpoint

pytestmark = pytest.mark.slow

# Plots drawn only for some experiments: confirmation once 'confirm' has run, population for a
# PBT / PB2 search, pareto for a multi-objective one.
OPTIONAL_PLOTS = {"confirmation", "population", "pareto", "sampling"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def experiment(asha_experiment) -> Experiment:
    return load_experiment(asha_experiment.experiment_path)


def tune_rows(exp: Experiment) -> dict[str, list[dict]]:
    """Tune's own per-trial result files, parsed here independently of analysis/."""
    rows = {}
    for path in sorted(exp.path.glob("*/result.json")):
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        rows[lines[0]["trial_id"]] = lines
    return rows


def test_frames_agree_with_tunes_result_files(experiment):
    files = tune_rows(experiment)
    assert set(experiment.trials["trial_id"]) == set(files)
    assert len(experiment.epochs) == sum(len(v) for v in files.values())
    for _, trial in experiment.trials.iterrows():
        rows = files[trial["trial_id"]]
        assert trial["epochs_run"] == rows[-1]["training_iteration"]
        assert trial["best_val_acc"] == pytest.approx(max(r["val_acc"] for r in rows))
        assert trial["last_train_loss"] == pytest.approx(rows[-1]["train_loss"])
        for key, value in rows[0]["config"].items():
            assert trial[f"config.{key}"] == value
        if trial["status"] == "stopped early":
            assert trial["stopped_at_epoch"] == trial["epochs_run"] < 4
        else:
            assert trial["status"] == "done" and trial["epochs_run"] == 4
    per_trial = experiment.epochs.groupby("trial_id")["val_acc"].apply(list).to_dict()
    assert per_trial == {t: [r["val_acc"] for r in rows] for t, rows in files.items()}
    assert list(experiment.trials["best_val_acc"]) == sorted(
        experiment.trials["best_val_acc"], reverse=True
    )


def test_frames_round_trip_through_csv_and_parquet(experiment, tmp_path):
    save_frames(experiment, tmp_path)
    for name, frame in (("trials", experiment.trials), ("epochs", experiment.epochs)):
        parquet = pd.read_parquet(tmp_path / f"{name}.parquet")
        pd.testing.assert_frame_equal(parquet, frame, check_dtype=False)
        csv = pd.read_csv(tmp_path / f"{name}.csv")
        assert list(csv.columns) == list(frame.columns) and len(csv) == len(frame)


def test_every_plot_and_the_report_are_written(experiment, tmp_path):
    plots = write_plots(experiment, tmp_path)
    assert set(plots) == set(PLOTS) - OPTIONAL_PLOTS
    for path in plots.values():
        data = path.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 10_000
    md, page = write_report(experiment, plots, tmp_path)
    text, html = md.read_text(), page.read_text()
    best = experiment.trials.iloc[0]
    assert f"best val_acc **{best['best_val_acc']:.4f}**" in text
    assert "early stopping saved" in text and "disk used" in text
    for trial_id in experiment.trials["trial_id"]:
        assert trial_id in text and trial_id in html
    assert html.count("data:image/png;base64,") == len(plots)
    assert 'src="' not in html.replace('src="data:', "")  # self-contained


def test_analyze_fits_importance_once(asha_experiment, tmp_path, monkeypatch):
    """The Optuna study and fANOVA are computed once per analysis, not once per plot."""
    import optuna

    from tune_cifar.analysis import _study as study_module

    calls = {"study": 0, "fanova": 0}
    fanova = optuna.importance.FanovaImportanceEvaluator
    build, evaluate = study_module.as_optuna_study, fanova.evaluate

    def counted_build(exp):
        calls["study"] += 1
        return build(exp)

    def counted_evaluate(self, *args, **kwargs):
        calls["fanova"] += 1
        return evaluate(self, *args, **kwargs)

    monkeypatch.setattr(study_module, "as_optuna_study", counted_build)
    monkeypatch.setattr(fanova, "evaluate", counted_evaluate)
    exp = load_experiment(asha_experiment.experiment_path)
    plots = write_plots(exp, tmp_path)
    write_report(exp, plots, tmp_path)
    assert {"importance", "parallel"} <= set(plots)
    assert calls == {"study": 1, "fanova": 1}


def _frames(rows: list[dict]) -> Experiment:
    epochs = pd.DataFrame(rows)
    trials = pd.DataFrame({"trial_id": epochs["trial_id"].unique()})
    spec = {"options": {"max_epochs": 3}}
    return Experiment(None, spec, trials, epochs)


def test_diagnostics_flag_the_shared_batchnorm_signature_and_nan():
    rows = []
    for epoch, (tr, va) in enumerate([(0.3, 0.10), (0.6, 0.12), (0.91, 0.10)], start=1):
        rows.append(
            {
                "trial_id": "bn_bug",
                "epoch": epoch,
                "train_acc": tr,
                "val_acc": va,
                "train_loss": 1.0,
                "val_loss": 3.0,
            }
        )
        rows.append(
            {
                "trial_id": "healthy",
                "epoch": epoch,
                "train_acc": tr,
                "val_acc": tr - 0.1,
                "train_loss": 1.0,
                "val_loss": 1.1,
            }
        )
        rows.append(
            {
                "trial_id": "nan",
                "epoch": epoch,
                "train_acc": 0.1,
                "val_acc": 0.1,
                "train_loss": np.nan if epoch == 2 else 2.3,
                "val_loss": 2.3,
            }
        )
    findings = {f.trial_id: f for f in diagnose(_frames(rows))}
    assert set(findings) == {"bn_bug", "nan"}
    assert findings["bn_bug"].kind == "train up, validation at chance"
    assert "0.91" in findings["bn_bug"].explanation
    assert findings["nan"].kind == "diverged" and "epoch 2" in findings["nan"].explanation


def test_evaluate_val_reproduces_the_reported_val_acc(experiment):
    best = experiment.trials.iloc[0]
    ev = evaluate_checkpoint(experiment.path, split="val")
    assert ev.restored.epoch == best["best_epoch"]
    assert ev.accuracy == pytest.approx(best["best_val_acc"], abs=1e-6)
    assert ev.confusion.sum() == 200 and len(ev.per_class) == 10
    test = evaluate_checkpoint(experiment.path, split="test")
    assert test.confusion.sum() == 500


def test_predict_a_png_of_any_size(experiment, tmp_path):
    image = load_sample()[2][0].transpose(1, 2, 0)
    Image.fromarray(image).resize((64, 48)).save(tmp_path / "big.png")
    Image.fromarray(image).save(tmp_path / "small.png")
    rows, notes, checkpoint = predict_images(
        experiment.path, [tmp_path / "big.png", tmp_path / "small.png"]
    )
    assert notes == [f"{tmp_path / 'big.png'}: resized from 64x48 to 32x32"]
    assert checkpoint == resolve_checkpoint(experiment.path)
    for row in rows:
        assert sum(row["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert row["predicted"] == max(row["probabilities"], key=row["probabilities"].get)
    (tmp_path / "fake.png").write_text("not an image")
    with pytest.raises(UsageError, match=r"fake\.png is not an image file"):
        predict_images(experiment.path, [tmp_path / "fake.png"])


def test_restore_refuses_what_is_not_ours(tmp_path):
    torch.save({"weights": torch.zeros(1)}, tmp_path / "model.pt")
    with pytest.raises(UsageError, match="not a tune-cifar checkpoint"):
        evaluate_checkpoint(tmp_path / "model.pt")
    with pytest.raises(UsageError, match="neither a tune-cifar experiment"):
        resolve_checkpoint(tmp_path)


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "tune_cifar.cli", *args], capture_output=True, text=True, timeout=300
    )


def run_main(capsys, *args) -> tuple[int, str, str]:
    """The same commands in this process (no start-up): exit code, stdout, stderr."""
    from tune_cifar.cli import main

    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_analyze_best_and_predict(experiment, tmp_path, capsys):
    out = tmp_path / "report"
    result = run_cli("analyze", str(experiment.path), "--out", str(out))  # the installed command
    assert result.returncode == 0, result.stderr
    for name in (
        "trials.csv",
        "trials.parquet",
        "epochs.csv",
        "epochs.parquet",
        "report.md",
        "report.html",
        *(f"{p}.png" for p in set(PLOTS) - OPTIONAL_PLOTS),
    ):
        assert (out / name).is_file(), name
    code, best, _ = run_main(capsys, "best", f"file://{experiment.path}", "--json")
    parsed = json.loads(best)
    assert code == 0 and parsed["value"] == pytest.approx(experiment.trials["best_val_acc"].max())
    assert parsed["checkpoint"].endswith(f"checkpoint_{parsed['epoch'] - 1:06d}")
    last = json.loads(
        run_main(capsys, "best", str(experiment.path), "--json", "--scope", "last")[1]
    )
    assert last["epoch"] == last["epochs_run"]
    Image.fromarray(load_sample()[2][3].transpose(1, 2, 0)).save(tmp_path / "x.png")
    predicted = run_main(
        capsys, "predict", str(experiment.path), str(tmp_path / "x.png"), "--json"
    )[1]
    assert json.loads(predicted)[0]["file"] == str(tmp_path / "x.png")
    code, _, err = run_main(capsys, "analyze", str(tmp_path))
    assert code == 2
    assert err.strip() == (
        f"tune-cifar: error: {tmp_path} is not a tune-cifar experiment (no tune_cifar_spec.json)"
    )


def test_a_running_trial_caught_mid_line_keeps_its_complete_epochs(experiment, tmp_path):
    import shutil

    copy = tmp_path / "running"
    shutil.copytree(experiment.path, copy)
    result = next(copy.glob("*/result.json"))
    lines = result.read_text().splitlines()
    result.write_text("\n".join(lines) + "\n" + lines[-1][:40])  # a report being written
    running = load_experiment(copy)
    trial_id = json.loads(lines[0])["trial_id"]
    assert (running.epochs["trial_id"] == trial_id).sum() == len(lines)
    assert len(running.trials) == len(experiment.trials)


def test_importance_of_trials_that_all_scored_the_same_is_none():
    """fANOVA raises on zero variance; a search whose trials all tied has no importance."""
    import optuna

    from tune_cifar.analysis import param_importances

    study = optuna.create_study(direction="maximize")
    for lr in (1e-3, 1e-2, 1e-1, 1.0):
        study.add_trial(
            optuna.trial.create_trial(
                params={"lr": lr},
                distributions={"lr": optuna.distributions.FloatDistribution(1e-4, 1.0, log=True)},
                value=1.0,
            )
        )
    assert param_importances(study) == {}


@pytest.mark.parametrize(
    ("full_budget", "said"),
    [
        (True, "trained to the full budget (`--prior-mode full-budget`)."),
        (
            None,
            "started at the first rung and judged there as every other trial: it trained 3 of 9",
        ),
    ],
)
def test_the_priorband_section_says_where_the_mode_was_trained(full_budget, said):
    """The report tells a mode trained to the end from one judged at the rungs (the default,
    whose trials carry no FULL_BUDGET column)."""
    from types import SimpleNamespace

    from tune_cifar.analysis._report import sampling_blocks
    from tune_cifar.constants import FULL_BUDGET, SAMPLE_NUMBER, SAMPLED_FROM, SAMPLING_WEIGHTS

    trials = pd.DataFrame(
        {
            SAMPLED_FROM: ["prior mode", "uniform", "prior"],
            SAMPLING_WEIGHTS: ["prior 0.500, uniform 0.500, incumbent 0.000"] * 3,
            SAMPLE_NUMBER: [1, 2, 3],
            "best_val_acc": [0.3, 0.2, 0.25],
            "epochs_run": [3, 1, 1],
        }
    )
    if full_budget:
        trials[FULL_BUDGET] = [True, None, None]
    options = {"prior": "seed", "prior_confidence": "medium", "max_epochs": 9}
    options |= {"grace_period": 1, "reduction_factor": 3}
    blocks = sampling_blocks(SimpleNamespace(trials=trials, spec={"options": options}))
    text = blocks[1].content
    assert "Its first trial was the prior's mode" in text and said in text
