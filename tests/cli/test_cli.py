"""The ``tune-cifar`` command end to end, in subprocesses, as a user runs it."""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tune_cifar.cli import main
from tune_cifar.constants import SPEC_FILE
from tune_cifar.train import load_state


def run_cli(
    *args: str, cwd: Path | None = None, timeout: int = 300, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    env.pop("TUNE_CIFAR_DATA", None)
    env.pop("RAY_ADDRESS", None)
    return subprocess.run(
        [sys.executable, "-m", "tune_cifar.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture()
def existing_experiment(tmp_path: Path) -> Path:
    folder = tmp_path / "results" / "taken"
    folder.mkdir(parents=True)
    (folder / SPEC_FILE).write_text(
        json.dumps({"options": {"max_epochs": 2}, "data": {}, "space": {"name": "quick"}})
    )
    return folder


@pytest.fixture()
def corrupt_data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in (
        "data_batch_1",
        "data_batch_2",
        "data_batch_3",
        "data_batch_4",
        "data_batch_5",
        "test_batch",
    ):
        (folder / name).write_bytes(b"\x80\x02}q\x00(X\x04\x00\x00\x00data")  # truncated
    return folder.parent


BAD_INPUTS = [
    # (args, exit code, stderr pattern)
    (["search", "--space", "nope"], 2, r"unknown space 'nope'; built-in: "),
    (["search", "--num-samples", "0"], 2, r"--num-samples must be positive, got 0"),
    (["search", "--max-epochs", "-1"], 2, r"--max-epochs must be positive, got -1"),
    (
        ["search", "--max-epochs", "2", "--grace-period", "3"],
        2,
        r"--grace-period 3 is above --max-epochs 2",
    ),
    (
        ["search", "--space", "optimizers", "--search", "grid"],
        2,
        r"--search grid needs discrete values",
    ),
    (["search", "--space", "seed_study", "--search", "optuna"], 2, r"fixed list of configurations"),
    (
        ["search", "--data", "cifar10", "--data-dir", "/no/such/dir"],
        2,
        r"--data-dir /no/such/dir is not a folder",
    ),
    (["search", "--data", "cifar10"], 2, r"--data cifar10 needs --data-dir"),
    (
        ["search", "--data", "cifar10", "--data-dir", "{corrupt}"],
        1,
        r"CIFAR-10 file .*data_batch_1 is truncated or corrupt",
    ),
    (
        ["search", "--data", "sample", "--storage-path", "{experiment_parent}", "--name", "taken"],
        2,
        r"experiment .*taken already exists",
    ),
    (
        ["search", "--data", "sample", "--storage-path", "{a_file}/sub"],
        2,
        r"cannot write to storage path .*: Not a directory",
    ),
    (["search", "--data", "sample", "--train-subset", "0"], 2, r"--train-subset must be positive"),
    (
        ["search", "--data", "sample", "--storage-path", "ftp://host/results"],
        2,
        r"--storage-path ftp://host/results: only local paths, file://, s3:// and gs:// URIs",
    ),
    (["train", "--out", "{out}", "--lr", "50"], 2, r"config key 'lr': 50.0 is outside"),
    (["train", "--out", "{out}", "--config", "/no/such.json"], 2, r"cannot read --config"),
    (["train", "--out", "{experiment_parent}", "--data", "synthetic"], 2, r"is not empty"),
    (["train", "--out", "{out}", "--epochs", "0"], 2, r"--epochs must be positive"),
    (
        ["search", "--space", "{broken_space}"],
        2,
        r"space '.*broken\.py' failed to import: ZeroDivisionError",
    ),
    (
        ["search", "--space", "{invalid_space}"],
        2,
        r"space 'invalid', key 'lrate': unknown config key 'lrate'",
    ),
    (
        [
            "search",
            "--data",
            "sample",
            "--gpus-per-trial",
            "{too_many_gpus}",
            "--storage-path",
            "{experiment_parent}",
        ],
        2,
        r"--gpus-per-trial \d+ cannot be met: this machine has (no GPUs|at most \d+ GPUs)",
    ),
    (
        [
            "search",
            "--data",
            "sample",
            "--cpus-per-trial",
            "4096",
            "--storage-path",
            "{experiment_parent}",
        ],
        2,
        r"--cpus-per-trial 4096 is more than this machine has \(\d+ CPUs\)",
    ),
    (
        ["search", "--data", "sample", "--storage-path", "{experiment_parent}", "--name", "../x"],
        2,
        r"--name '\.\./x' must be a single folder name",
    ),
    (
        ["search", "--data", "sample", "--storage-path", "{experiment_parent}", "--name", "a/b"],
        2,
        r"--name 'a/b' must be a single folder name",
    ),
    (
        ["search", "--storage-path", "{experiment_parent}", "--name", "..", "--resume"],
        2,
        r"--name '\.\.' must be a single folder name",
    ),
    (
        ["search", "--data", "sample", "--time-budget", "nan"],
        2,
        r"--time-budget must be a finite number, got nan",
    ),
    (
        ["search", "--data", "sample", "--gpus-per-trial", "inf"],
        2,
        r"--gpus-per-trial must be a finite number, got inf",
    ),
    (
        ["search", "--data", "sample", "--progress-interval", "-1"],
        2,
        r"--progress-interval must be positive, got -1",
    ),
    (["search", "--data", "sample", "--seed", "-1"], 2, r"--seed must be in \[0, 2\*\*31 - 1\]"),
    (["search", "--data", "sample", "--nice", "20"], 2, r"--nice must be in -20..19 .*got 20"),
    (
        [
            "search",
            "--data",
            "sample",
            "--cuda-graph",
            "on",
            "--gpus-per-trial",
            "0",
            "--storage-path",
            "{experiment_parent}",
        ],
        2,
        r"--cuda-graph on needs GPU trials, and there are none",
    ),
    (
        ["train", "--out", "{out}", "--data", "synthetic", "--device", "cpu", "--cuda-graph", "on"],
        2,
        r"--cuda-graph on needs a CUDA device",
    ),
    (
        ["train", "--out", "{out}", "--data", "synthetic", "--threads", "0"],
        2,
        r"--threads must be positive, got 0",
    ),
    (
        [
            "search",
            "--data",
            "sample",
            "--storage-path",
            "{tmp}",
            "--name",
            "documents",
            "--overwrite",
        ],
        2,
        r"--overwrite: .*documents is not a tune-cifar experiment \(no "
        r"tune_cifar_spec\.json\); only experiments are replaced, this folder is left untouched",
    ),
    (
        ["train", "--out", "{tmp}/documents", "--data", "synthetic", "--overwrite"],
        2,
        r"--overwrite: .*documents is not the output of 'tune-cifar train'",
    ),
    (
        ["evaluate", "{future_checkpoint}"],
        2,
        r"future\.pt is a tune-cifar checkpoint of format "
        r"version 99; this release reads versions 1, 2$",
    ),
    (
        ["search", "--data", "sample", "--epoch-budget", "0"],
        2,
        r"--epoch-budget must be positive, got 0",
    ),
    (["confirm", "{a_dir}"], 2, r"is not a tune-cifar experiment"),
    (["confirm", "{experiment}", "--top", "0"], 2, r"--top must be positive, got 0"),
    (["dashboard", "{a_dir}"], 2, r"is not a tune-cifar experiment"),
    (["dashboard", "{experiment}", "--port", "70000"], 2, r"--port must be in \[0, 65535\]"),
    (
        ["train", "--out", "{out}", "--config", "{nan_config}"],
        2,
        r"config key 'batch_size': nan is outside \[8, 4096\]",
    ),
    (
        [
            "search",
            "--data",
            "sample",
            "--storage-path",
            "{experiment_parent}",
            "--name",
            "nope",
            "--resume",
        ],
        2,
        r"--resume needs the --name .* of an existing experiment",
    ),
    (["analyze", "{a_dir}"], 2, r"is not a tune-cifar experiment \(no tune_cifar_spec\.json\)"),
    (["best", "{a_dir}"], 2, r"is not a tune-cifar experiment"),
    (["resume", "{a_dir}"], 2, r"is not a tune-cifar experiment"),
    (["resume", "{experiment}"], 2, r"has no saved Tune state to resume from"),
    (["resume", "{fake_experiment}"], 2, r"is not a tune-cifar spec file \(no options, data"),
    (["evaluate", "{foreign_checkpoint}"], 2, r"foreign\.pt is not a tune-cifar checkpoint"),
    (["predict", "{experiment}", "{a_file}"], 2, r"a_file is not an image file"),
    (["predict", "{experiment}", "{a_dir}/missing.png"], 2, r"missing\.png does not exist"),
    (
        ["analyze", "ftp://host/exp"],
        2,
        r"^tune-cifar analyze: error: argument experiment: path ftp://host/exp: only local",
    ),
    (
        ["search", "--scheduler", "pbt", "--search", "optuna"],
        2,
        r"--scheduler pbt chooses its own configurations \(Ray refuses a search algorithm",
    ),
    (
        ["search", "--scheduler", "pbt", "--max-epochs", "4", "--perturbation-interval", "4"],
        2,
        r"--perturbation-interval must be from 1 to --max-epochs - 1 \(3\), got 4",
    ),
    (
        ["search", "--scheduler", "pbt", "--mutate", "lr,width"],
        2,
        r"^tune-cifar: error: width cannot change while a trial trains",
    ),
    (
        ["search", "--scheduler", "pbt", "--perturbation-interval", "3", "--checkpoint-every", "2"],
        2,
        r"--perturbation-interval 3 must be a multiple of --checkpoint-every 2",
    ),
    (
        [
            "search",
            "--scheduler",
            "pb2",
            "--data",
            "sample",
            "--space",
            "quick",
            "--storage-path",
            "{experiment_parent}",
        ],
        2,
        r"--scheduler pb2 mutates ranges only; space 'quick' key 'erase_p' is a choice",
    ),
    (
        [
            "search",
            "--scheduler",
            "pbt",
            "--data",
            "sample",
            "--space",
            "seed_study",
            "--storage-path",
            "{experiment_parent}",
        ],
        2,
        r"--scheduler pbt needs a space of ranges and choices to mutate; space 'seed_study' is a "
        r"fixed list",
    ),
    (
        [
            "search",
            "--scheduler",
            "pbt",
            "--data",
            "sample",
            "--space",
            "quick",
            "--mutate",
            "momentum",
            "--storage-path",
            "{experiment_parent}",
        ],
        2,
        r"--mutate momentum: space 'quick' has no range or choice for it to mutate within",
    ),
    (
        ["train", "--out", "{out}", "--replay", "{experiment}"],
        2,
        r"experiment .*taken has no trial with a result yet",
    ),
    (
        ["train", "--out", "{out}", "--trial", "x"],
        2,
        r"--trial names a trial of the experiment given with --replay",
    ),
    (
        [
            "search",
            "--search",
            "optuna",
            "--objective",
            "val_acc,params",
            "--warm-start",
            "{experiment}",
        ],
        2,
        r"--warm-start EXP tells TPE earlier val_acc values only; it cannot start a multi-obj",
    ),
    (
        ["search", "--startup-trials", "4"],
        2,
        r"^tune-cifar: error: --startup-trials needs --search optuna \(TPE's random first trials",
    ),
    (
        ["search", "--search", "optuna", "--startup-trials", "0"],
        2,
        r"^tune-cifar: error: --startup-trials must be positive, got 0$",
    ),
    (
        ["search", "--objective", "val_acc,size"],
        2,
        r"--objective must be val_acc or val_acc,COST with COST one of params, epoch_time, "
        r"inference_ms; got 'val_acc,size'",
    ),
    (
        ["search", "--max-epochs", "x"],
        2,
        r"^tune-cifar search: error: argument --max-epochs: invalid int value: 'x'$",
    ),
    (
        ["best", "{loop}/exp"],
        2,
        r"argument experiment: path .*loop_a/exp: a loop of symbolic links$",
    ),
    (["analyze", "{loop}"], 2, r"argument experiment: path .*loop_a: a loop of symbolic links$"),
    (
        ["search", "--data", "sample", "--storage-path", "{loop}/runs"],
        2,
        r"^tune-cifar: error: --storage-path .*loop_a/runs: a loop of symbolic links$",
    ),
    (
        ["analyze", "{experiment}", "--out", "{loop}/a"],
        2,
        r"cannot create --out .*loop_a/a: Too many levels of symbolic links",
    ),
    (
        ["search", "--data", "sample", "--storage-path", "s3://bucket/runs/../elsewhere"],
        2,
        r"s3://bucket/runs/\.\./elsewhere: a '\.\.' segment is not allowed in an object storage",
    ),
    (
        ["best", "s3://bucket/runs/./exp"],
        2,
        r"path s3://bucket/runs/\./exp: a '\.' segment is not allowed in an object storage URI",
    ),
    (
        ["best", "s3://bucket//runs/exp"],
        2,
        r"an empty segment \('//'\) is not allowed in an object storage URI",
    ),
    (
        ["search", "--mutate", "lr"],
        2,
        r"--mutate steers population-based training: give it with --scheduler pbt or pb2, not "
        r"asha-promote$",
    ),
    (
        ["search", "--scheduler", "asha", "--perturbation-interval", "3", "--mutate", "lr"],
        2,
        r"--perturbation-interval and --mutate steer population-based training: give them",
    ),
    (
        ["search", "--scheduler", "pbt", "--mutate="],
        2,
        r"--mutate names nothing; leave it out for its default \(every mutable key the space",
    ),
    (
        ["search", "--scheduler", "pbt", "--mutate", "lr,bogus"],
        2,
        r"^tune-cifar: error: unknown config key 'bogus'; mutable keys: lr, momentum",
    ),
    (
        [
            "search",
            "--scheduler",
            "pbt",
            "--num-samples",
            "1",
            "--data",
            "sample",
            "--space",
            "quick",
            "--storage-path",
            "{experiment_parent}",
        ],
        2,
        r"--scheduler pbt needs a population: 1 trial has no other to copy; give --num-samples 2",
    ),
    (
        ["search", "--data", "sample", "--space", "{empty_points}"],
        2,
        r"space 'empty' lists no configurations: its points are an empty list$",
    ),
    (
        ["search", "--data", "sample", "--space", "{late_points}", "--max-epochs", "10"],
        2,
        r"space 'late', configuration 1: its schedule changes at epoch 20, past --max-epochs 10",
    ),
    (
        ["search", "--data", "sample", "--space", "{fractional_points}"],
        2,
        r"space 'fractional', configuration 1: schedule must be JSON .*epoch 2\.7 is not a whole",
    ),
]


@pytest.mark.parametrize(
    ("args", "code", "pattern"), BAD_INPUTS, ids=[" ".join(a[:3]) for a, _, _ in BAD_INPUTS]
)
def test_bad_input_is_one_line_and_changes_nothing(
    tmp_path, existing_experiment, corrupt_data_dir, args, code, pattern, capsys, monkeypatch
):
    """In-process through ``main`` (the subprocess tests below cover the real entry point)."""
    monkeypatch.delenv("TUNE_CIFAR_DATA", raising=False)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    (tmp_path / "a_dir").mkdir()
    (tmp_path / "broken.py").write_text("DESCRIPTION = 'x'\nSPACE = {'lr': 1 / 0}\n")
    (tmp_path / "invalid.py").write_text("DESCRIPTION = 'x'\nSPACE = {'lrate': 0.1}\n")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    torch.save({"format": "tune-cifar-checkpoint", "version": 99}, tmp_path / "future.pt")
    (tmp_path / "documents").mkdir()
    (tmp_path / "documents" / "notes.txt").write_text("a user's own file")
    (tmp_path / "nan.json").write_text('{"batch_size": NaN}')
    points = {
        "empty": [],
        "late": [{"lr": 0.01, "schedule": '[[20, {"lr": 0.001}]]'}],
        "fractional": [{"lr": 0.01, "schedule": '[[2.7, {"lr": 0.001}]]'}],
    }
    for name, listed in points.items():
        (tmp_path / f"{name}.json").write_text(json.dumps({"description": name, "points": listed}))
    (tmp_path / "loop_a").symlink_to(tmp_path / "loop_b")
    (tmp_path / "loop_b").symlink_to(tmp_path / "loop_a")
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / SPEC_FILE).write_text('{"old": true}')
    values = {
        "corrupt": str(corrupt_data_dir),
        "a_file": str(a_file),
        "a_dir": str(tmp_path / "a_dir"),
        "experiment": str(existing_experiment),
        "broken_space": str(tmp_path / "broken.py"),
        "invalid_space": str(tmp_path / "invalid.py"),
        "foreign_checkpoint": str(tmp_path / "foreign.pt"),
        "fake_experiment": str(tmp_path / "fake"),
        "nan_config": str(tmp_path / "nan.json"),
        "experiment_parent": str(existing_experiment.parent),
        "out": str(tmp_path / "out"),
        "future_checkpoint": str(tmp_path / "future.pt"),
        "tmp": str(tmp_path),
        "loop": str(tmp_path / "loop_a"),
        **{f"{name}_points": str(tmp_path / f"{name}.json") for name in points},
        "too_many_gpus": str(torch.cuda.device_count() + 1),
    }
    import tune_cifar.tuning._resources

    started = []  # start_ray, not only ray.init: it joins a Ray this process already runs
    monkeypatch.setattr(tune_cifar.tuning._resources, "start_ray", started.append)
    before = snapshot(tmp_path)
    try:
        returncode = main([a.format(**values) for a in args])
    except SystemExit as exit_:  # argparse's own errors
        returncode = exit_.code
    stderr = capsys.readouterr().err
    assert returncode == code, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tune-cifar"), stderr
    assert ": error: " in lines[0]
    assert re.search(pattern, lines[0]), lines[0]
    assert snapshot(tmp_path) == before
    assert started == []  # every bad request is refused before Ray starts


def test_train_writes_history_and_a_checkpoint(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "train",
            "--data",
            "synthetic",
            "--train-subset",
            "300",
            "--epochs",
            "2",
            "--model",
            "cnn_v3",
            "--width",
            "0.5",
            "--optimizer",
            "sgd",
            "--lr",
            "0.05",
            "--out",
            str(out),
            "--threads",
            "1",
        ]
    )
    stdout = capsys.readouterr().out
    assert code == 0
    assert "epoch [2/2]" in stdout and "best val_acc" in stdout
    with (out / "history.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert set(rows[0]) >= {
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "lr",
        "epoch_time_s",
        "images_per_s",
    }
    state = load_state(out / "checkpoint")
    assert state["epoch"] == 2 and state["config"]["model"] == "cnn_v3"
    assert state["config"]["batch_norm"] is False and state["config"]["lr"] == 0.05


def test_spaces_and_keys_list_what_exists(capsys):
    assert main(["spaces"]) == 0
    spaces = capsys.readouterr().out
    for name in ("seed_study", "optimizers", "regularization", "augmentation", "full", "quick"):
        assert re.search(rf"^{name}\s+\S", spaces, re.M)
    assert main(["keys"]) == 0
    assert "| `erase_p` | float | 0.5 | [0, 1] |" in capsys.readouterr().out


@pytest.mark.slow
def test_search_end_to_end_prints_the_best_trial(tmp_path, free_port):
    """Also: a cluster named in Ray's ray_current_cluster file (left by ``ray start`` or another
    program's test cluster; here an address where nothing answers) is not joined without
    ``--address``, where a plain ``ray.init()`` would try to."""
    import tempfile

    nobody = f"127.0.0.1:{free_port}"
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="r") as ray_tmp:  # short socket paths
        (Path(ray_tmp) / "ray").mkdir()
        (Path(ray_tmp) / "ray" / "ray_current_cluster").write_text(nobody)
        result = run_cli(
            "search",
            "--space",
            "quick",
            "--data",
            "sample",
            "--train-subset",
            "200",
            "--num-samples",
            "2",
            "--max-epochs",
            "2",
            "--storage-path",
            str(tmp_path),
            "--name",
            "e2e",
            env={"RAY_TMPDIR": ray_tmp},
        )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert re.search(r"2 trials; best trial \w+: val_acc 0\.\d{4} at epoch \d of \d", out)
    assert re.search(r"\[00:00:\d\d\] .*running.*done", out)
    assert f"experiment: {tmp_path / 'e2e'}" in out
    checkpoint = re.search(r"checkpoint: (\S+)", out).group(1)
    assert (Path(checkpoint) / "state.pt").is_file()
    assert "Traceback" not in result.stderr and "WARNING" not in result.stderr


def test_an_unexpected_error_is_one_line_unless_debug(monkeypatch, capsys):
    import tune_cifar.cli._train as cli

    def broken(args):
        raise RuntimeError("something nobody foresaw")

    monkeypatch.setattr(cli, "cmd_keys", broken)
    assert main(["keys"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == (
        "tune-cifar: internal error: RuntimeError: something nobody foresaw (run "
        "with --debug for the traceback)"
    )
    with pytest.raises(RuntimeError):
        main(["--debug", "keys"])


@pytest.mark.slow
def test_the_command_line_starts_without_torch_or_ray():
    """--help, keys and a refused request import neither (seconds each); train needs no Ray."""
    code = (
        "import sys\nfrom tune_cifar.cli import main\nmain(['keys'])\n"
        "main(['search', '--name', '../x'])\nloaded = [m for m in ('torch', 'ray') if m in "
        "sys.modules]\nfrom tune_cifar.cli._train import cmd_train\n"
        "import tune_cifar.train._one\n"
        "print('loaded:', loaded, 'ray' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-1] == "loaded: [] False"
    assert "must be a single folder name" in done.stderr


def test_ray_that_cannot_start_is_one_line_naming_this_machine(monkeypatch):
    import ray

    from tune_cifar.errors import UsageError
    from tune_cifar.tuning.ray import start_ray

    def fail(**kwargs):
        assert kwargs["address"] == "local"  # never a cluster that happens to run here
        raise RuntimeError("the raylet did not start")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", fail)
    with pytest.raises(
        UsageError,
        match=r"^cannot start Ray on this machine: the raylet did "
        r"not start$",
    ):
        start_ray(None)


def test_a_ray_of_its_own_starts_its_workers_at_the_niceness_asked(monkeypatch):
    """Ray starts trial processes at nice 15 (RAY_worker_niceness); a Ray the search starts
    gets the niceness asked, a cluster joined keeps its own, and the environment is left as
    it was."""
    import os

    import ray

    from tune_cifar.tuning.ray import _runtime, start_ray

    seen = []
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(
        ray, "init", lambda **kw: seen.append(os.environ.get(_runtime.RAY_WORKER_NICENESS))
    )
    monkeypatch.setattr(_runtime, "stop_on_sigterm", lambda: None)
    monkeypatch.setattr(_runtime, "check_cluster", lambda *a: None)
    monkeypatch.delenv(_runtime.RAY_WORKER_NICENESS, raising=False)
    start_ray(None, nice=7)
    start_ray("10.0.0.5:6379", nice=7)
    start_ray(None)
    assert seen == ["7", None, None]
    assert _runtime.RAY_WORKER_NICENESS not in os.environ
