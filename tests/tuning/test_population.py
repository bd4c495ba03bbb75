"""Population-based training: a trainer that changes its configuration mid-run, PBT's and PB2's
mutations from a space, and a real PBT search read back (lineage, schedule, replay)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from ray import tune
from ray.tune.schedulers import PopulationBasedTraining
from ray.tune.schedulers.pb2 import PB2

from tests.conftest import without_timing
from tune_cifar.config import TrialConfig
from tune_cifar.constants import MAX_EPOCHS, NICE, NODE_ID
from tune_cifar.errors import UsageError
from tune_cifar.train import Trainer, load_state, save_state
from tune_cifar.tuning import SearchOptions, SearchSpace, build_trial_scheduler
from tune_cifar.tuning._schedulers import ClipToSpace, mutations

pytestmark = pytest.mark.usefixtures("one_thread")

BASE = {
    "model": "cnn_v4",
    "width": 0.25,
    "batch_size": 50,
    "optimizer": "sgd",
    "lr": 0.02,
    "momentum": 0.9,
}


@pytest.mark.parametrize("schedule", ["constant", "cosine", "onecycle"])
def test_a_new_peak_lr_scales_the_schedule_where_it_stands(synthetic_bundle, schedule):
    """lr(step) = new peak x the schedule's factor at that step: after the change every lr is
    the unchanged run's times new / old."""
    cfg = TrialConfig.from_dict({**BASE, "lr_schedule": schedule})
    plain, changed = (Trainer(cfg, synthetic_bundle.training, 4) for _ in range(2))
    for trainer in (plain, changed):
        trainer.run_epoch()
    changed.change_config(TrialConfig.from_dict({**BASE, "lr_schedule": schedule, "lr": 0.05}))
    for _ in range(3):
        a, b = plain.run_epoch(), changed.run_epoch()
        assert b["lr"] == pytest.approx(a["lr"] * 2.5, rel=1e-9)
    if schedule == "constant":
        assert changed.optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


def test_every_mutable_key_takes_effect(synthetic_bundle):
    trainer = Trainer(TrialConfig.from_dict(BASE), synthetic_bundle.training, 2)
    new = TrialConfig.from_dict(
        {
            **BASE,
            "momentum": 0.5,
            "weight_decay": 1e-3,
            "dropout1": 0.05,
            "dropout4": 0.6,
            "label_smoothing": 0.1,
            "hflip_p": 0.0,
            "erase_p": 0.9,
        }
    )
    trainer.change_config(new)
    group = trainer.optimizer.param_groups[0]
    assert (group["momentum"], group["weight_decay"]) == (0.5, 1e-3)
    assert [getattr(trainer.model, f"dropout{i}").p for i in range(1, 5)] == [0.05, 0.3, 0.4, 0.6]
    assert trainer.augment.cfg == new and trainer.cfg == new  # label smoothing reads cfg


@pytest.mark.parametrize(
    ("key", "value"),
    [("width", 0.5), ("batch_norm", False), ("optimizer", "adam"), ("batch_size", 25)],
)
def test_keys_that_shape_the_weights_or_the_steps_cannot_change(synthetic_bundle, key, value):
    trainer = Trainer(TrialConfig.from_dict(BASE), synthetic_bundle.training, 2)
    with pytest.raises(UsageError, match=rf"^{key} cannot change while a trial trains"):
        trainer.change_config(TrialConfig.from_dict({**BASE, key: value}))
    state = trainer.state_dict()
    other = Trainer(TrialConfig.from_dict({**BASE, key: value}), synthetic_bundle.training, 2)
    with pytest.raises(UsageError, match=rf"^{key} cannot change"):
        other.load_state_dict(state)


def test_a_copied_checkpoint_under_a_mutated_config_trains_as_the_change_in_place(
    synthetic_bundle, tmp_path
):
    """What PBT does (a new trainer under the mutated config loads the donor's state) equals
    what a replay does (the donor's trainer changes its config): the same numbers."""
    donor_cfg = TrialConfig.from_dict({**BASE, "lr_schedule": "cosine"})
    mutated = TrialConfig.from_dict(
        {**BASE, "lr_schedule": "cosine", "lr": 0.01, "dropout2": 0.1, "momentum": 0.8, "seed": 7}
    )
    donor = Trainer(donor_cfg, synthetic_bundle.training, 4)
    donor.run_epoch()
    save_state(donor.state_dict(), tmp_path)  # (a state in memory shares the donor's tensors)
    copy = Trainer(mutated, synthetic_bundle.training, 4)
    copy.load_state_dict(load_state(tmp_path))
    donor.change_config(mutated)
    for _ in range(2):
        assert without_timing([copy.run_epoch()]) == without_timing([donor.run_epoch()])


def test_follow_changes_hands_at_the_scheduled_epochs_only(synthetic_bundle):
    """A replayed schedule: epoch 1's entry is the configuration built with (no change), a
    later one takes effect just before its epoch, and follow says what it left behind."""
    first = TrialConfig.from_dict(BASE)
    later = TrialConfig.from_dict({**BASE, "lr": 0.01, "dropout3": 0.1})
    schedule = {1: TrialConfig.from_dict({**BASE, "lr": 0.5}), 3: later}
    trainer = Trainer(first, synthetic_bundle.training, 4)
    left = []
    while not trainer.finished:
        left.append(trainer.follow(schedule))
        trainer.run_epoch()
    assert left == [None, None, first, None]
    assert trainer.cfg == later and trainer.history[2]["lr"] == pytest.approx(0.01)
    assert trainer.history[1]["lr"] == pytest.approx(0.02)


def test_a_trial_config_carrying_a_schedule_follows_it_and_resumes_inside_it(
    synthetic_bundle, tmp_path, monkeypatch
):
    """What ``confirm`` of a PBT search trains: the trainable changes configuration where the
    config's schedule says, as a trainer following it does, and a trial restored from a
    checkpoint before or after the change continues exactly."""
    from tune_cifar.train import SCHEDULE_KEY, encode_schedule, split_schedule
    from tune_cifar.trial import RunSettings, train_cifar
    from tune_cifar.trial import _trainable as trainable_module

    first = {**BASE, "width": 0.25, "seed": 3}
    later = {**first, "lr": 0.01, "dropout3": 0.1}
    text = encode_schedule([(1, first), (3, later)])
    assert text == '[[3, {"dropout3": 0.1, "lr": 0.01}]]'
    reports: list[dict] = []
    kept: dict[int, Path] = {}

    def fake_report(metrics, checkpoint=None):
        reports.append(dict(metrics))
        with checkpoint.as_directory() as folder:
            kept[metrics["epoch"]] = tmp_path / f"epoch{metrics['epoch']}"
            save_state(load_state(Path(folder)), kept[metrics["epoch"]])

    restore: list = [None]
    monkeypatch.setattr(trainable_module.tune, "report", fake_report)
    monkeypatch.setattr(trainable_module.tune, "get_checkpoint", lambda: restore[0])
    config = {**first, SCHEDULE_KEY: text}
    train_cifar(config, synthetic_bundle.training, RunSettings(max_epochs=4))
    straight = without_timing(reports)
    assert [m["lr"] for m in straight] == pytest.approx([0.02, 0.02, 0.01, 0.01])

    trainer = Trainer(TrialConfig.from_dict(first), synthetic_bundle.training, 4)
    schedule = split_schedule(config)[1]
    while not trainer.finished:
        trainer.follow(schedule)
        trainer.run_epoch()
    # The trainable adds where each epoch ran (node, niceness) and its epoch limit.
    assert without_timing(trainer.history) == [
        {k: v for k, v in m.items() if k not in (NODE_ID, NICE, MAX_EPOCHS)} for m in straight
    ]
    for resume_after in (2, 3):  # before the change, and after it
        reports.clear()
        restore[0] = trainable_module.tune.Checkpoint.from_directory(str(kept[resume_after]))
        train_cifar(config, synthetic_bundle.training, RunSettings(max_epochs=4))
        assert without_timing(reports) == straight[resume_after:]


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ('[[3, {"width": 0.5}]]', r"configuration 1: width cannot change while a trial trains"),
        ('[[1, {"lr": 0.1}]]', r"configuration 1: schedule epochs must rise from 2"),
        ("lr=0.1 from 3", r"configuration 1: schedule must be JSON \[\[epoch"),
    ],
)
def test_a_points_file_with_a_bad_schedule_is_one_line(tmp_path, schedule, message):
    from tune_cifar.tuning import load_space

    path = tmp_path / "points.json"
    path.write_text(json.dumps({"description": "d", "points": [{**BASE, "schedule": schedule}]}))
    with pytest.raises(UsageError, match=rf"^space 'points', {message}"):
        load_space(str(path))


def _space(**params) -> SearchSpace:
    return SearchSpace("t", "test", "t", params=params)


def test_mutations_come_from_the_space():
    space = _space(
        model="cnn_v4",
        lr=tune.loguniform(1e-4, 1e-1),
        erase_p=tune.choice([0.0, 0.5]),
        dropout1=tune.grid_search([0.1, 0.2]),
        batch_size=tune.choice([32, 64]),
    )
    found = mutations(SearchOptions(scheduler="pbt"), space)
    assert list(found) == ["lr", "erase_p", "dropout1"]  # batch_size is not mutable
    assert found["lr"] is space.params["lr"] and found["erase_p"] == [0.0, 0.5]
    assert found["dropout1"] == [0.1, 0.2]
    only = mutations(SearchOptions(scheduler="pbt", mutate=("lr",)), space)
    assert list(only) == ["lr"]
    scheduler = build_trial_scheduler(
        SearchOptions(scheduler="pbt", max_epochs=8, perturbation_interval=3), space
    )
    assert isinstance(scheduler, PopulationBasedTraining)
    assert scheduler._perturbation_interval == 3
    ranges = _space(lr=tune.loguniform(1e-4, 1e-1), dropout1=tune.uniform(0.0, 0.5))
    pb2 = build_trial_scheduler(SearchOptions(scheduler="pb2"), ranges)
    assert isinstance(pb2, PB2)
    assert mutations(SearchOptions(scheduler="pb2"), ranges) == {
        "lr": [1e-4, 1e-1],
        "dropout1": [0.0, 0.5],
    }


def test_perturbed_values_are_clipped_into_the_space():
    clip = ClipToSpace({"lr": (1e-4, 1e-1), "dropout1": (0.0, 0.5)})
    assert clip({"lr": 0.12, "dropout1": 0.3, "model": "cnn_v4"}) == {
        "lr": 0.1,
        "dropout1": 0.3,
        "model": "cnn_v4",
    }
    assert clip({"lr": 5e-5, "dropout1": 0.6})["dropout1"] == 0.5


def test_a_space_without_mutable_keys_is_refused():
    with pytest.raises(UsageError, match=r"varies none of the keys that can change"):
        mutations(SearchOptions(scheduler="pbt"), _space(batch_size=tune.choice([32, 64])))


PBT_SPACE = """
from ray import tune

DESCRIPTION = "PBT test: a learning rate too small to learn, and one that learns"
SPACE = {"model": "cnn_v2", "width": 0.25, "optimizer": "adam", "batch_size": 50,
         "hflip_p": 0.0, "erase_p": 0.0, "lr": tune.grid_search([1e-6, 3e-3])}
"""


@pytest.fixture(scope="module")
def pbt_experiment(tmp_path_factory):
    """A real PBT search: 4 trials (2 learning rates x 2 seeds), 8 epochs, a perturbation every
    2; the two trials that cannot learn sit in the bottom quarter, so copies happen."""
    from tests.conftest import SYNTHETIC
    from tune_cifar.data import load_data
    from tune_cifar.tuning import run_search

    folder = tmp_path_factory.mktemp("pbt")
    (folder / "pbt_space.py").write_text(PBT_SPACE)
    opts = SearchOptions(
        space=str(folder / "pbt_space.py"),
        search="grid",
        scheduler="pbt",
        num_samples=2,
        max_epochs=8,
        perturbation_interval=2,
        keep_checkpoints=4,
        progress_interval=60,
        storage_path=str(folder),
        name="pbt",
    )
    run_search(opts, SYNTHETIC, argv=["test"], bundle=load_data(SYNTHETIC))
    return folder / "pbt"


@pytest.mark.slow
def test_a_pbt_search_copies_weights_and_reports_its_lineage(pbt_experiment):
    from tune_cifar.results import copies, load_trials
    from tune_cifar.results._population import path

    trials = load_trials(pbt_experiment)
    table = copies(trials)
    assert len(table) >= 1, "no trial copied another"
    by_id = {t.trial_id: t for t in trials}
    for _, copy in table.iterrows():
        assert copy["epoch"] > 1 and copy["donor"] != copy["trial_id"]
        after = by_id[copy["trial_id"]].reports
        first = after[after["lineage"].str.endswith(f"{copy['trial_id']}@{copy['epoch']}")]
        assert int(first["training_iteration"].iloc[0]) == copy["epoch"]
        assert first["config/lr"].iloc[0] in (1e-6, 3e-3)  # a step in the grid's list
    for trial in trials:  # each trial's path is one report per epoch, 1..8
        assert list(path(trial, trials)["training_iteration"]) == list(range(1, 9))


@pytest.mark.slow
def test_best_shows_the_schedule_and_replay_retrains_it_exactly(pbt_experiment, tmp_path, capsys):
    from tune_cifar.cli import main
    from tune_cifar.results import best_row, copies, load_trials, schedule
    from tune_cifar.results._population import path

    trials = load_trials(pbt_experiment)
    table = copies(trials)
    changed = table[table["changed"].map(bool)]  # a copy that mutated lr, if there is one
    trial_id = (changed if not changed.empty else table)["trial_id"].iloc[-1]
    trial = next(t for t in trials if t.trial_id == trial_id)
    best_epoch = int(best_row(trial)[0]["training_iteration"])  # what --replay trains to
    expected = path(trial, trials, best_epoch)
    assert (
        main(
            [
                "train",
                "--replay",
                str(pbt_experiment),
                "--trial",
                trial_id,
                "--threads",
                "1",
                "--out",
                str(tmp_path / "replay"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert f"replaying trial {trial_id}" in out
    history = (tmp_path / "replay" / "history.csv").read_text().splitlines()
    columns = history[0].split(",")
    replayed = [float(line.split(",")[columns.index("val_acc")]) for line in history[1:]]
    assert replayed == pytest.approx(list(expected["val_acc"]), abs=1e-6)
    lrs = [float(line.split(",")[columns.index("lr")]) for line in history[1:]]
    assert lrs == pytest.approx(list(expected["config/lr"]))
    steps = [epoch for epoch, _ in schedule(expected)]
    written = tmp_path / "replay" / "schedule.json"
    if len(steps) > 1:  # a schedule with a change is written beside config.json
        assert [s["from_epoch"] for s in json.loads(written.read_text())] == steps
    else:
        assert not written.exists()
    assert main(["best", str(pbt_experiment)]) == 0
    best = capsys.readouterr().out
    assert "  lineage: " in best and "  schedule:\n    from epoch 1: lr=" in best
    assert f"tune-cifar confirm {pbt_experiment}" in best


@pytest.mark.slow
def test_analyze_draws_the_population_and_reports_the_copies(pbt_experiment, capsys):
    from tune_cifar.cli import main

    assert main(["analyze", str(pbt_experiment)]) == 0
    analysis = Path(pbt_experiment) / "analysis"
    assert (analysis / "population.png").stat().st_size > 10_000
    report = (analysis / "report.md").read_text()
    assert "## Population-based training" in report
    assert "| trial | from epoch | copied from | mutation |" in report
    assert "When could early stopping be trusted?" not in report  # trials share weights


@pytest.mark.slow
def test_confirm_retrains_the_top_schedules_with_new_seeds(pbt_experiment, tmp_path, capsys):
    """Each confirmation run of a PBT search trains its source trial's schedule: the learning
    rate per epoch is the one the weights of the source's best epoch were trained with."""
    import shutil

    import pandas as pd

    from tune_cifar.cli import main
    from tune_cifar.results import best_row, best_schedule, load_trial, load_trials
    from tune_cifar.results._population import path
    from tune_cifar.train import SCHEDULE_KEY, encode_schedule
    from tune_cifar.tuning._confirm import top_configs

    folder = tmp_path / "pbt"
    shutil.copytree(pbt_experiment, folder)  # (confirm writes into the experiment)
    # Two trials whose best weights came from the same schedule (seed aside) are one schedule:
    # as the perturbations fall, this search has one or two distinct ones.
    distinct = len(top_configs(folder, 2))
    assert main(["confirm", str(folder), "--top", "2", "--seeds", "1"]) == 0
    out = capsys.readouterr().out
    assert f"test accuracy of the top {distinct} schedules, 1 new seeds each" in out
    runs = pd.read_csv(folder / "confirm" / "confirm_runs.csv")
    trials = load_trials(folder)
    assert len(runs) == distinct and set(runs["seed"]) == {1}  # the search's seed was 0
    for run in runs.itertuples():
        source = next(t for t in trials if t.trial_id == run.source_trial)
        epoch = int(best_row(source)[0]["training_iteration"])
        steps = best_schedule(trials, source.trial_id, epoch)[1]
        confirmed = load_trial(Path(run.checkpoint).parent)
        assert (confirmed.config.get(SCHEDULE_KEY) or "") == encode_schedule(steps)
        trained = list(confirmed.reports["lr"])
        assert len(trained) == 8  # the search's epochs
        assert trained[:epoch] == pytest.approx(list(path(source, trials, epoch)["config/lr"]))
        assert set(trained[epoch:]) <= {steps[-1][1]["lr"]}  # the last configuration goes on
    assert main(["analyze", str(folder / "confirm")]) == 0  # the confirmation, as a search
    assert "| key | value | searched |" in (folder / "confirm/analysis/report.md").read_text()


PB2_SPACE = """
from ray import tune

DESCRIPTION = "PB2 test: two ranges"
SPACE = {"model": "cnn_v2", "width": 0.25, "optimizer": "adam", "batch_size": 50,
         "hflip_p": 0.0, "erase_p": 0.0, "lr": tune.loguniform(1e-6, 3e-3),
         "dropout1": tune.uniform(0.0, 0.3)}
"""


@pytest.mark.slow
def test_a_pb2_search_keeps_its_mutations_in_the_space(tmp_path, capsys):
    """PB2's GP bandit picks new values inside the space's ranges; no warning floods stderr."""
    from tests.conftest import SYNTHETIC
    from tune_cifar.data import load_data
    from tune_cifar.results import load_trials
    from tune_cifar.tuning import run_search

    (tmp_path / "pb2_space.py").write_text(PB2_SPACE)
    opts = SearchOptions(
        space=str(tmp_path / "pb2_space.py"),
        scheduler="pb2",
        num_samples=4,
        max_epochs=6,
        perturbation_interval=2,
        progress_interval=60,
        storage_path=str(tmp_path),
        name="pb2",
    )
    run_search(opts, SYNTHETIC, argv=["test"], bundle=load_data(SYNTHETIC))
    reports = [t.reports for t in load_trials(tmp_path / "pb2")]
    assert all("lineage" in r for r in reports) and len(reports) == 4
    for r in reports:
        assert r["config/lr"].between(1e-6, 3e-3).all()
        assert r["config/dropout1"].between(0.0, 0.3).all()
    assert "ConvergenceWarning" not in capsys.readouterr().err


@pytest.mark.slow
def test_replay_checks_its_seed_and_refuses_data_flags_it_would_ignore(
    pbt_experiment, tmp_path, capsys
):
    from tune_cifar.cli import main

    for flags, message in (
        (["--seed", "-1"], r"config key 'seed': -1 is outside \[0, 2147483647\]$"),
        (
            ["--val-size", "50"],
            r"--replay trains on the experiment's own data; leave out --val-size",
        ),
        (["--data", "sample"], r"leave out --data \(--data-dir and --download may say where"),
    ):
        out = tmp_path / "replayed"
        assert main(["train", "--replay", str(pbt_experiment), "--out", str(out), *flags]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and re.search(message, lines[0]), lines
        assert not out.exists()  # refused before anything is written


@pytest.mark.slow
def test_a_warm_start_from_pbt_tells_only_trials_that_trained_as_configured(pbt_experiment):
    """A trial that copied weights or mutated reached its value by a schedule: its final
    configuration never produced that value, so TPE is not told it."""
    from tune_cifar.results import best_row, load_trials, trained_as_configured
    from tune_cifar.tuning import load_space
    from tune_cifar.tuning._warm_start import plan_warm_start

    trials = load_trials(pbt_experiment)
    alone = [t for t in trials if trained_as_configured(t)]
    assert 0 < len(alone) < len(trials)  # some copied (the fixture's bottom quarter)
    space = load_space(str(pbt_experiment.parent / "pbt_space.py"))
    opts = SearchOptions(search="optuna", max_epochs=8, warm_start=(str(pbt_experiment),) * 2)
    warm = plan_warm_start(opts, space, read_data(pbt_experiment))
    assert sorted(v for _, v in warm.evaluated) == sorted(
        float(best_row(t)[0]["val_acc"]) for t in alone
    )  # each once: the experiment given twice is told once
    assert f"{len(trials) - len(alone)} skipped (population-based training" in warm.lines[0]
    assert warm.lines[1].endswith("again: told once")


@pytest.mark.slow
def test_a_malformed_lineage_is_one_line_naming_the_trial_and_file(
    pbt_experiment, tmp_path, capsys
):
    import shutil

    from tune_cifar.cli import main

    folder = tmp_path / "pbt"
    shutil.copytree(pbt_experiment, folder)
    shutil.rmtree(folder / "analysis", ignore_errors=True)  # (another test's analyze wrote it)
    result = sorted(folder.glob("trial_*/result.json"))[0]
    rows = [json.loads(line) for line in result.read_text().splitlines()]
    rows[1]["lineage"] = "x@y"
    result.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for command in ("analyze", "best"):
        assert main([command, str(folder)]) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1, lines
        assert re.search(
            rf"trial {rows[0]['trial_id']}: .*{result.parent.name}/result\.json has a malformed "
            r"lineage at epoch 2: 'x@y'",
            lines[0],
        ), lines[0]
    assert not (folder / "analysis").exists()  # nothing written from a damaged history


def read_data(folder: Path) -> dict:
    from tune_cifar.results import read_spec

    return read_spec(folder)["data"]
