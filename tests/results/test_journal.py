"""The Optuna journal of a search: states, values, intermediate values and links back."""

import json
from datetime import datetime
from pathlib import Path

import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution
from optuna.trial import TrialState

from tune_cifar.constants import JOURNAL_FILE, SPEC_FILE
from tune_cifar.results import JournalRecorder, build_journal, open_journal
from tune_cifar.tuning import load_space, space_distributions

DISTRIBUTIONS = {
    "lr": FloatDistribution(1e-4, 1e-1, log=True),
    "optimizer": CategoricalDistribution(["sgd", "adam"]),
}


def study_of(folder: Path) -> optuna.Study:
    return optuna.load_study(study_name=folder.name, storage=open_journal(folder))


def trials_by_tune_id(folder: Path) -> dict[str, optuna.trial.FrozenTrial]:
    return {t.user_attrs["tune_trial_id"]: t for t in study_of(folder).trials}


def test_states_values_and_links(tmp_path):
    folder = tmp_path / "exp"
    folder.mkdir()
    rec = JournalRecorder(folder, DISTRIBUTIONS, attrs={"space": "x"})
    runs = {"done": [0.3, 0.6, 0.5], "pruned": [0.2, 0.25], "failed": [0.1]}
    for name, accs in runs.items():
        config = {"lr": 0.01, "optimizer": "sgd", "seed": 0, "width": 0.5}
        rec.start(name, config, folder / f"trial_{name}")
        for epoch, acc in enumerate(accs, start=1):
            rec.epoch(name, epoch, acc)
    rec.epoch("done", 4, float("nan"))  # not finite: not recorded
    running = trials_by_tune_id(folder)
    assert {t.state for t in running.values()} == {TrialState.RUNNING}  # live, before the end
    rec.end("done", "done", {"best_epoch": 2, "best_checkpoint": "/x/checkpoint_000001"})
    rec.end("pruned", "stopped early", {"best_epoch": 2})
    rec.end("failed", "errored", {"error": "ValueError: boom"})

    rec.end("done", "done", {"best_epoch": 3})  # a resume re-ran the last epoch: no change
    rec.epoch("done", 3, 0.9)
    trials = trials_by_tune_id(folder)
    done, pruned, failed = trials["done"], trials["pruned"], trials["failed"]
    assert (done.state, done.value) == (TrialState.COMPLETE, 0.6)  # the best epoch's
    assert done.intermediate_values == {1: 0.3, 2: 0.6, 3: 0.5}
    assert done.params == {"lr": 0.01, "optimizer": "sgd"}  # the searched keys only
    assert done.user_attrs["config"]["width"] == 0.5
    assert done.user_attrs["trial_dir"] == str(folder / "trial_done")
    assert done.user_attrs["best_checkpoint"] == "/x/checkpoint_000001"
    assert (pruned.state, pruned.value) == (TrialState.PRUNED, 0.25)  # Optuna: the last value
    assert failed.state == TrialState.FAIL and failed.user_attrs["error"] == "ValueError: boom"
    study = study_of(folder)
    assert study.user_attrs["space"] == "x" and study.metric_names == ["val_acc"]
    assert study.best_trial.user_attrs["tune_trial_id"] == "done"


def test_a_resumed_search_goes_on_writing_the_same_trials(tmp_path):
    folder = tmp_path / "exp"
    folder.mkdir()
    first = JournalRecorder(folder, DISTRIBUTIONS)
    first.start("a", {"lr": 0.01, "optimizer": "adam"}, folder / "trial_a")
    first.epoch("a", 1, 0.4)
    again = JournalRecorder(folder, DISTRIBUTIONS)  # a new driver process
    again.start("a", {"lr": 0.01, "optimizer": "adam"}, folder / "trial_a")
    again.epoch("a", 2, 0.5)
    again.end("a", "done", {})
    trials = study_of(folder).trials
    assert len(trials) == 1 and trials[0].intermediate_values == {1: 0.4, 2: 0.5}
    assert trials[0].state == TrialState.COMPLETE


def test_distributions_follow_the_space():
    quick = space_distributions(load_space("quick"))
    assert set(quick) == {"model", "lr", "batch_size", "erase_p"}  # optimizer is a constant
    assert quick["lr"] == FloatDistribution(3e-4, 3e-3, log=True)
    assert quick["model"] == CategoricalDistribution(["cnn_v2", "cnn_v4"])
    seed = space_distributions(load_space("seed_study"))
    assert seed["model"] == CategoricalDistribution(["cnn_v2", "cnn_v3", "cnn_v4"])
    assert seed["momentum"].choices == (0.0, 0.9, None)  # keys a point leaves at default


def write_old_spec(folder, max_epochs: int) -> None:
    """The spec file of an experiment whose space file is gone (nothing to import)."""
    spec = {
        "options": {"max_epochs": max_epochs, "search": "random", "scheduler": "asha"},
        "data": {"source": "sample"},
        "space": {"name": "gone", "source": "/no/such.py"},
        "created": "now",
    }
    (folder / SPEC_FILE).write_text(json.dumps(spec))


def test_an_older_experiment_gets_its_journal_from_tunes_files(tmp_path, write_trial):
    write_old_spec(tmp_path, max_epochs=3)
    write_trial(tmp_path, "a", [0.2, 0.5, 0.4], kept=[2, 3])
    write_trial(tmp_path, "b", [0.1], kept=[1])  # stopped at the first rung
    write_trial(tmp_path, "c", [0.3], kept=[1], finished=False)  # interrupted: resumable
    assert build_journal(tmp_path) == tmp_path / JOURNAL_FILE
    trials = trials_by_tune_id(tmp_path)
    assert trials["a"].state == TrialState.COMPLETE and trials["a"].value == 0.5
    assert trials["a"].user_attrs["best_checkpoint"] == str(
        tmp_path / "trial_a" / "checkpoint_000001"
    )
    assert trials["b"].state == TrialState.PRUNED
    assert trials["c"].state == TrialState.RUNNING
    build_journal(tmp_path)  # again: nothing doubled
    assert len(study_of(tmp_path).trials) == 3


def test_a_rebuilt_journal_keeps_when_each_trial_ran(tmp_path, write_trial):
    """From Tune's clock (each report's timestamp, less the first epoch's seconds), not the
    time of the rebuild: the dashboard shows each trial's real start and duration."""
    write_old_spec(tmp_path, max_epochs=2)
    trial = write_trial(
        tmp_path, "a", [0.2, 0.5], kept=[2], timestamps=[1_700_000_010, 1_700_000_030]
    )
    rows = [json.loads(line) for line in (trial / "result.json").read_text().splitlines()]
    rows[0]["time_this_iter_s"] = 8.0
    (trial / "result.json").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    write_trial(tmp_path, "b", [0.3], kept=[1], finished=False, timestamps=[1_700_000_020])
    build_journal(tmp_path)
    trials = trials_by_tune_id(tmp_path)
    assert trials["a"].datetime_start == datetime.fromtimestamp(1_700_000_002)
    assert trials["a"].datetime_complete == datetime.fromtimestamp(1_700_000_030)
    assert trials["a"].duration.total_seconds() == 28
    assert trials["b"].datetime_start == datetime.fromtimestamp(1_700_000_020)  # (no seconds)
    assert trials["b"].datetime_complete is None  # still running


def test_a_resume_fills_in_what_a_killed_driver_had_not_written(tmp_path, write_trial):
    """The live journal is written every second: a driver killed between two writes leaves
    a trial running with its last epochs missing, or missing whole; the resume fills both
    in from Tune's files and leaves what was written alone."""
    spec = {
        "options": {"max_epochs": 3, "search": "random", "scheduler": "asha"},
        "data": {"source": "sample"},
        "space": {"name": "quick", "source": "quick"},
        "created": "now",
    }
    (tmp_path / SPEC_FILE).write_text(json.dumps(spec))
    write_trial(tmp_path, "a", [0.2, 0.5, 0.4], kept=[2, 3])  # done: its end line was lost
    write_trial(tmp_path, "b", [0.1, 0.3], kept=[2], finished=False)  # running on
    write_trial(tmp_path, "c", [0.3], kept=[1])  # its start was lost too: stopped at rung 1
    live = JournalRecorder(tmp_path, DISTRIBUTIONS, batched=True)
    for name in ("a", "b"):
        live.start(name, {"lr": 0.01, "optimizer": "sgd"}, tmp_path / f"trial_{name}")
        live.epoch(name, 1, 9.0 if name == "a" else 0.1)  # (9.0: the journal's value stays)
    live.flush()  # the last write before the kill
    build_journal(tmp_path)
    trials = trials_by_tune_id(tmp_path)
    assert len(trials) == 3
    assert trials["a"].state == TrialState.COMPLETE
    assert trials["a"].intermediate_values == {1: 9.0, 2: 0.5, 3: 0.4}
    assert trials["b"].state == TrialState.RUNNING
    assert trials["b"].intermediate_values == {1: 0.1, 2: 0.3}
    assert trials["c"].state == TrialState.PRUNED
    lines = (tmp_path / JOURNAL_FILE).read_text().count("\n")
    build_journal(tmp_path)  # nothing more to fill in: not a line more
    assert (tmp_path / JOURNAL_FILE).read_text().count("\n") == lines


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
    ],
)
def test_which_hosts_stay_on_this_machine(host, loopback):
    from tune_cifar.results._dashboard import is_loopback

    assert is_loopback(host) is loopback


def test_asha_stopped_trials_reach_tpe_as_pruned():
    """The searcher driven as Tune drives it: suggest, a result per epoch, completion."""
    from ray import tune

    from tune_cifar.tuning._optuna import AshaAwareOptunaSearch
    from tune_cifar.tuning.ray import optuna_study

    def run(stopped_as: str) -> dict[str, optuna.trial.FrozenTrial]:
        searcher = AshaAwareOptunaSearch(
            metric="val_acc", mode="max", max_epochs=4, stopped_as=stopped_as, seed=0
        )
        searcher.set_search_properties("val_acc", "max", {"lr": tune.loguniform(1e-4, 1e-1)})
        runs = {"stopped": [0.3, 0.5], "full": [0.2, 0.6, 0.7, 0.65], "nan": [0.1]}
        for name, accs in runs.items():
            searcher.suggest(name)
            for epoch, acc in enumerate(accs, start=1):
                result = {"val_acc": acc, "training_iteration": epoch}
                searcher.on_trial_result(name, result)
            searcher.on_trial_complete(name, {**result, "diverged": name == "nan"})
        trials = optuna_study(searcher).trials
        return dict(zip(runs, trials, strict=True))

    ours = run("pruned")
    assert ours["stopped"].state == TrialState.PRUNED
    assert ours["stopped"].intermediate_values == {1: 0.3, 2: 0.5}
    assert (ours["full"].state, ours["full"].value) == (TrialState.COMPLETE, 0.7)  # best epoch
    assert ours["nan"].state == TrialState.FAIL
    rays = run("complete")  # Ray's OptunaSearch: complete, with the last epoch's value
    assert (rays["stopped"].state, rays["stopped"].value) == (TrialState.COMPLETE, 0.5)
    assert (rays["full"].state, rays["full"].value) == (TrialState.COMPLETE, 0.65)


def test_a_search_writes_its_study_before_any_trial_starts(tmp_path):
    """So a dashboard opened at once reads the live journal, not one built from Tune's files."""
    from tune_cifar.tuning.callbacks import JournalCallback

    folder = tmp_path / "exp"
    folder.mkdir()
    JournalCallback(DISTRIBUTIONS, max_epochs=3, attrs={"space": "x"}).open(folder)
    study = study_of(folder)
    assert study.trials == [] and study.metric_names == ["val_acc"]
    assert study.user_attrs == {"space": "x"}
    assert (folder / JOURNAL_FILE).is_file()  # what the dashboard looks for


def test_an_empty_journal_is_rebuilt_and_a_damaged_one_is_one_line(tmp_path, write_trial, capsys):
    """An empty journal (a search killed before it wrote its study) holds nothing to lose:
    the dashboard builds it from Tune's files. A damaged line is one line naming the journal,
    and the journal stays as it was (it may hold what Tune's files do not)."""
    from tune_cifar.cli import main
    from tune_cifar.results._dashboard import prepare_journal

    write_old_spec(tmp_path, max_epochs=3)
    write_trial(tmp_path, "a", [0.2, 0.5, 0.4], kept=[2, 3])
    journal = tmp_path / JOURNAL_FILE
    journal.write_bytes(b"")
    assert prepare_journal(tmp_path) == (journal, "the journal there was empty")
    assert trials_by_tune_id(tmp_path)["a"].value == 0.5
    lines = journal.read_text().splitlines()
    damaged = "\n".join([lines[0], lines[1][:-5], *lines[2:]]) + "\n"
    journal.write_text(damaged)
    assert main(["dashboard", str(tmp_path), "--port", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert f"journal {journal} is damaged (JSONDecodeError" in err[0]
    assert "move it aside and 'tune-cifar dashboard' builds a new one" in err[0]
    assert journal.read_text() == damaged
