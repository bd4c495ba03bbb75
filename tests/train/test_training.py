import math
import os
from pathlib import Path

import pytest
import torch

from tests.conftest import without_timing
from tune_cifar.config import TrialConfig
from tune_cifar.errors import UsageError
from tune_cifar.metrics import EPOCH_METRICS
from tune_cifar.train import Trainer, load_state, save_state
from tune_cifar.trial import RunSettings, train_cifar
from tune_cifar.trial import _trainable as trainable_module

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = {"model": "cnn_v4", "width": 0.25, "batch_size": 50, "crop_padding": 2}
LEARNS = {**FAST, "width": 0.5}  # learns the synthetic task in 3 epochs (0.25 does not)
# what every epoch reports: the one list of per-epoch metrics, between the epoch and two flags
METRICS = ("epoch", *EPOCH_METRICS, "diverged", "train_step")


def test_learns_the_synthetic_task_and_reports_every_metric(synthetic_bundle):
    trainer = Trainer(TrialConfig.from_dict(LEARNS), synthetic_bundle.training, max_epochs=3)
    while not trainer.finished:
        metrics = trainer.run_epoch()
    assert tuple(metrics) == METRICS
    assert metrics["val_acc"] > 0.6 and metrics["train_loss"] < trainer.history[0]["train_loss"]
    assert metrics["images_per_s"] > 0 and not metrics["diverged"]
    assert [r["epoch"] for r in trainer.history] == [1, 2, 3]


def test_same_config_and_seed_give_the_same_metrics(synthetic_bundle):
    runs = []
    for _ in range(2):
        trainer = Trainer(TrialConfig.from_dict(FAST), synthetic_bundle.training, max_epochs=2)
        while not trainer.finished:
            trainer.run_epoch()
        runs.append(without_timing(trainer.history))
    assert runs[0] == runs[1]
    other = Trainer(TrialConfig.from_dict({**FAST, "seed": 1}), synthetic_bundle.training, 2)
    other.run_epoch()
    assert without_timing(other.history)[0] != runs[0][0]


@pytest.mark.parametrize("schedule", ["constant", "onecycle"])
def test_two_plus_restore_plus_two_equals_four_straight(synthetic_bundle, tmp_path, schedule):
    cfg = TrialConfig.from_dict({**FAST, "optimizer": "sgd", "lr": 0.05, "lr_schedule": schedule})
    straight = Trainer(cfg, synthetic_bundle.training, max_epochs=4)
    while not straight.finished:
        straight.run_epoch()

    first = Trainer(cfg, synthetic_bundle.training, max_epochs=4)
    first.run_epoch()
    first.run_epoch()
    save_state(first.state_dict(), tmp_path / "ckpt")
    torch.manual_seed(999)  # a fresh process would not share the RNG state
    resumed = Trainer(cfg, synthetic_bundle.training, max_epochs=4)
    resumed.load_state_dict(load_state(tmp_path / "ckpt"))
    while not resumed.finished:
        resumed.run_epoch()

    assert without_timing(resumed.history) == without_timing(straight.history)
    for (name, a), (_, b) in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_trainable_reports_each_epoch_and_resumes_from_its_checkpoint(
    synthetic_bundle, tmp_path, monkeypatch
):
    """Runs ``train_cifar`` with Tune's report/get_checkpoint replaced by recorders."""
    reports: list[tuple[dict, Path]] = []

    def fake_report(metrics, checkpoint=None):
        with checkpoint.as_directory() as folder:
            kept = tmp_path / f"kept{len(reports)}"
            save_state(load_state(Path(folder)), kept)
        reports.append((dict(metrics), kept))

    restore_from: list = [None]
    monkeypatch.setattr(trainable_module.tune, "report", fake_report)
    monkeypatch.setattr(trainable_module.tune, "get_checkpoint", lambda: restore_from[0])
    config = {**FAST, "seed": 3}

    train_cifar(config, synthetic_bundle.training, RunSettings(max_epochs=3))
    straight = [m for m, _ in reports]
    assert [m["epoch"] for m in straight] == [1, 2, 3]
    assert {m["nice"] for m in straight} == {os.nice(0)}  # the niceness it trained at

    reports.clear()
    restore_from[0] = trainable_module.tune.Checkpoint.from_directory(str(tmp_path / "kept1"))
    train_cifar(config, synthetic_bundle.training, RunSettings(max_epochs=3))
    assert [m["epoch"] for m, _ in reports] == [3]  # continued after epoch 2, did not restart
    assert without_timing([reports[0][0]]) == without_timing([straight[2]])


def test_a_diverging_trial_reports_once_and_stops(synthetic_bundle, monkeypatch):
    reports = []
    monkeypatch.setattr(
        trainable_module.tune, "report", lambda m, checkpoint=None: reports.append(m)
    )
    monkeypatch.setattr(trainable_module.tune, "get_checkpoint", lambda: None)
    config = {
        "model": "cnn_v2",
        "width": 0.5,
        "optimizer": "sgd",
        "lr": 10.0,
        "momentum": 0.99,
        "batch_size": 8,
        "hflip_p": 0.0,
        "erase_p": 0.0,
    }
    train_cifar(config, synthetic_bundle.training, RunSettings(max_epochs=5))
    assert len(reports) == 1 and reports[0]["diverged"]
    assert not math.isfinite(reports[0]["train_loss"])


def test_checkpoint_loader_refuses_foreign_and_planted_files(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(UsageError, match="not a tune-cifar checkpoint"):
        load_state(tmp_path / "foreign.pt")

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    torch.save({"format": "tune-cifar-checkpoint", "x": Exploit()}, tmp_path / "evil.pt")
    with pytest.raises(UsageError, match="not a tune-cifar checkpoint"):
        load_state(tmp_path / "evil.pt")
    assert not marker.exists()
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(UsageError, match=r"text\.pt is not a tune-cifar checkpoint"):
        load_state(tmp_path / "text.pt")


def test_checkpoints_every_k_epochs_and_at_the_last(synthetic_bundle, monkeypatch):
    reports = []
    monkeypatch.setattr(
        trainable_module.tune,
        "report",
        lambda m, checkpoint=None: reports.append((m["epoch"], checkpoint is not None)),
    )
    monkeypatch.setattr(trainable_module.tune, "get_checkpoint", lambda: None)
    train_cifar(
        {**FAST, "width": 0.25},
        synthetic_bundle.training,
        RunSettings(max_epochs=5, checkpoint_every=2),
    )
    assert reports == [(1, False), (2, True), (3, False), (4, True), (5, True)]


def test_two_trainers_in_one_process_leave_each_other_exact(synthetic_bundle, tmp_path):
    """A trainer draws only from its own generators: building and training another trainer
    between an epoch and the next (as a reused trial process, or a notebook, does) changes
    nothing in the first one's run, nor in a resume of it from its checkpoint."""
    cfg = TrialConfig.from_dict({**FAST, "dropout1": 0.3, "dropout4": 0.5})
    straight = Trainer(cfg, synthetic_bundle.training, max_epochs=3)
    while not straight.finished:
        straight.run_epoch()

    first = Trainer(cfg, synthetic_bundle.training, max_epochs=3)
    first.run_epoch()
    save_state(first.state_dict(), tmp_path)
    other = Trainer(TrialConfig.from_dict({**FAST, "seed": 7}), synthetic_bundle.training, 1)
    other.run_epoch()  # draws dropout masks and augmentation of its own
    first.run_epoch()
    resumed = Trainer(cfg, synthetic_bundle.training, max_epochs=3)
    resumed.load_state_dict(load_state(tmp_path))
    Trainer(TrialConfig.from_dict({**FAST, "seed": 8}), synthetic_bundle.training, 1)
    while not resumed.finished:
        resumed.run_epoch()
    first.run_epoch()
    assert without_timing(first.history) == without_timing(straight.history)
    assert without_timing(resumed.history) == without_timing(straight.history)


@pytest.mark.parametrize(("optimizer", "momentum"), [("sgd", 0.0), ("sgd", 0.9), ("adam", 0.9)])
def test_onecycle_schedules_the_learning_rate_only(synthetic_bundle, optimizer, momentum):
    """Plain SGD stays plain (OneCycle's default would cycle momentum 0.85-0.95 into it), SGD's
    momentum and Adam's betas stay as configured, while the learning rate follows the cycle."""
    cfg = TrialConfig.from_dict(
        {
            **FAST,
            "optimizer": optimizer,
            "momentum": momentum,
            "lr_schedule": "onecycle",
            "lr": 0.01,
        }
    )
    trainer = Trainer(cfg, synthetic_bundle.training, max_epochs=2)
    lrs = []
    for _ in range(2):
        trainer.run_epoch()
        group = trainer.optimizer.param_groups[0]
        lrs.append(group["lr"])
        if optimizer == "sgd":
            assert group["momentum"] == momentum
        else:
            assert group["betas"] == (0.9, 0.999)
    assert lrs[0] != lrs[1]
    if momentum == 0.0:
        assert all(
            "momentum_buffer" not in s or s["momentum_buffer"] is None
            for s in trainer.optimizer.state.values()
        )


def test_train_keeps_the_best_epochs_checkpoint(tmp_path, capsys, monkeypatch):
    """``tune-cifar train`` keeps the checkpoint of its best validation epoch (here epoch 2 of
    3, by a scripted val_acc) and says which epoch it holds."""
    from tune_cifar.cli import main
    from tune_cifar.train import _trainer as training

    scripted = iter([0.3, 0.5, 0.4])
    real_epoch = training.Trainer.run_epoch

    def run_epoch(self):
        metrics = real_epoch(self)
        metrics["val_acc"] = next(scripted)  # the same dict is the history's row
        return metrics

    monkeypatch.setattr(training.Trainer, "run_epoch", run_epoch)
    out = tmp_path / "run"
    args = [
        "train",
        "--data",
        "synthetic",
        "--train-subset",
        "200",
        "--epochs",
        "3",
        "--width",
        "0.5",
        "--out",
        str(out),
        "--threads",
        "1",
    ]
    assert main(args) == 0
    stdout = capsys.readouterr().out
    assert (
        f"best val_acc 0.5000 at epoch 2 of 3; wrote {out / 'checkpoint'} (the state after "
        "epoch 2)" in stdout
    )
    state = load_state(out / "checkpoint")
    assert state["epoch"] == 2 and [r["val_acc"] for r in state["history"]] == [0.3, 0.5]
    # --overwrite replaces a train output: its old files go, and the new run writes its own.
    scripted = iter([0.6, 0.2, 0.1])
    assert main([*args, "--overwrite"]) == 0
    assert load_state(out / "checkpoint")["epoch"] == 1
