"""Experiments in object storage, against a real S3-compatible server started here on
127.0.0.1 (moto's server mode; no mocks inside tune-cifar): a search to ``s3://`` killed and
resumed, the results commands from another folder, and each bad input in one line."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow.fs as pafs
import pytest
from scenarios import (
    DATA_FLAGS,
    GRID_SPACE,
    cli,
    histories,
    start,
    trained_straight,
    wait_for,
)

from tune_cifar.analysis import load_experiment
from tune_cifar.cli import main
from tune_cifar.constants import SPEC_FILE
from tune_cifar.results import local_target

pytestmark = pytest.mark.slow
BUCKET = "tune-cifar-test"
KEY_ID, SECRET = "AKIATUNECIFARTESTKEY", "tune-cifar-secret-4711"  # moto takes any
EPOCHS = 12  # per trial: 48 in all, so the kill comes with most still to train
CLUSTER_EPOCHS = 30  # long enough that the worker node dies with epochs left to train


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_s3_server(port: int, **env: str) -> subprocess.Popen:
    """moto's S3-compatible server on 127.0.0.1:port, answering once it is up."""
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("moto's server did not start")


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """The server, the AWS tools' environment pointing at it (never at another address), a
    bucket, and a cache of tune-cifar's own; yields the endpoint."""
    port = free_port()
    server = start_s3_server(port)
    endpoint = f"http://127.0.0.1:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        "AWS_CONFIG_FILE": "/nonexistent",
        "TUNE_CIFAR_CACHE": str(tmp_path_factory.mktemp("cache")),
    }
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.delenv("AWS_PROFILE", raising=False)
        s3_fs().create_dir(BUCKET)
        try:
            yield endpoint
        finally:
            server.kill()
            server.wait()


def s3_fs() -> pafs.S3FileSystem:
    return pafs.S3FileSystem(
        endpoint_override=os.environ["AWS_ENDPOINT_URL"], allow_bucket_creation=True
    )


def keys(prefix: str) -> list[str]:
    """Every object under ``prefix`` of the test bucket."""
    infos = s3_fs().get_file_info(
        pafs.FileSelector(f"{BUCKET}/{prefix}", recursive=True, allow_not_found=True)
    )
    return sorted(i.path for i in infos if i.type == pafs.FileType.File)


def result_rows(uri_path: str) -> list[dict]:
    try:
        with s3_fs().open_input_stream(uri_path) as f:
            text = f.read().decode()
    except OSError:
        return []
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def killed_and_resumed(s3, tmp_path_factory):
    """A grid search to s3://, its driver SIGKILLed (process group) once Tune's state in S3
    holds five epochs and every result it names, then ``tune-cifar resume s3://...`` from
    another folder to the end. Yields the experiment's URI."""
    work = tmp_path_factory.mktemp("s3search")
    space = work / "grid.py"
    space.write_text(GRID_SPACE)
    uri = f"s3://{BUCKET}/runs/killed"

    def epochs() -> int:
        return sum(len(result_rows(k)) for k in keys("runs/killed") if k.endswith("result.json"))

    def saved_state() -> dict[str, int]:
        """Per trial, the epoch the newest save of Tune's state in S3 has it at."""
        names = [k for k in keys("runs/killed") if "/experiment_state-" in k]
        if not names:
            return {}
        with s3_fs().open_input_stream(max(names)) as f:
            state = json.loads(f.read())
        trials = [json.loads(runtime) for _, runtime in state["trial_data"]]
        return {
            t["last_result"]["trial_id"]: t["last_result"]["training_iteration"]
            for t in trials
            if t.get("last_result")
        }

    def consistent_after_five() -> bool:
        """The state in S3 has five epochs or more, and each trial's result.json in S3 holds
        every epoch the state has it at: no upload of Tune's files is half done."""
        at = saved_state()
        if sum(at.values()) < 5:
            return False
        uploaded = {
            k.split("/")[-2].split("_", 1)[1]: len(result_rows(k))
            for k in keys("runs/killed")
            if k.endswith("result.json")
        }
        return all(uploaded.get(trial, 0) >= epoch for trial, epoch in at.items())

    proc = start(
        cli(
            "search",
            "--space",
            str(space),
            "--search",
            "grid",
            "--scheduler",
            "fifo",
            "--max-epochs",
            str(EPOCHS),
            "--max-concurrent",
            "2",
            "--storage-path",
            f"s3://{BUCKET}/runs",
            "--name",
            "killed",
            *DATA_FLAGS,
        ),
        work / "search.log",
    )
    # Tune uploads each save of its state as many objects, the state first: a kill between
    # them leaves a state ahead of the results it names (the known limit,
    # docs/storage-and-clusters.md). So the driver is frozen (SIGSTOP: nothing more reaches
    # S3), killed once S3 holds a save with every result it names, else let go on a moment.
    deadline = time.monotonic() + 300
    while True:
        assert time.monotonic() < deadline, "no consistent save of Tune's state in S3"
        os.killpg(proc.pid, signal.SIGSTOP)
        if consistent_after_five():
            break
        os.killpg(proc.pid, signal.SIGCONT)
        time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert epochs() < 4 * EPOCHS, "the search ended before it was killed"
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    resumed = subprocess.run(
        cli("resume", uri), capture_output=True, text=True, timeout=600, cwd=elsewhere
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"experiment: {uri}" in resumed.stdout
    return uri


def test_a_killed_search_in_object_storage_resumes_to_the_same_histories(killed_and_resumed):
    rows = [result_rows(k) for k in keys("runs/killed") if k.endswith("result.json")]
    assert [r[-1]["training_iteration"] for r in rows] == [EPOCHS] * 4, [
        [x["training_iteration"] for x in r] for r in rows
    ]
    folder = local_target(killed_and_resumed)  # the results, read into the local cache
    assert histories(folder) == trained_straight(folder, EPOCHS)
    assert not any(k.endswith(".tune_cifar.lock") for k in keys("runs/killed"))  # released


def test_results_commands_read_it_from_another_folder(
    killed_and_resumed, tmp_path, monkeypatch, capsys, shared_ray
):
    """best, analyze, evaluate, confirm and the dashboard's API on the s3:// experiment, from
    a working folder of their own, with a cache of their own; only the checkpoints used come
    down, and nothing written carries a credential."""
    uri = killed_and_resumed
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUNE_CIFAR_CACHE", str(tmp_path / "cache"))
    assert main(["best", uri, "--json"]) == 0
    best = json.loads(capsys.readouterr().out)
    assert best["checkpoint"].startswith(f"{uri}/trial_") and "/checkpoint_" in best["checkpoint"]
    assert main(["analyze", uri]) == 0
    assert "results read into the local cache" in capsys.readouterr().err
    cache = tmp_path / "cache" / "s3" / BUCKET / "runs" / "killed"
    assert (cache / "analysis" / "report.html").is_file()
    assert list(cache.rglob("state.pt")) == []  # no checkpoint came down to analyze
    assert main(["evaluate", uri, "--split", "val", "--json"]) == 0
    evaluation = json.loads(capsys.readouterr().out)
    assert evaluation["checkpoint"] == best["checkpoint"]
    assert [p.parent.name for p in cache.rglob("state.pt")] == [
        best["checkpoint"].rsplit("/", 1)[-1]
    ]  # only the one evaluated
    assert main(["confirm", uri, "--top", "1", "--seeds", "1"]) == 0
    capsys.readouterr()
    assert f"{BUCKET}/runs/killed/confirm/confirm_summary.csv" in keys("runs/killed/confirm")
    for key in keys("runs/killed"):  # spec, journal, results, tables: no credential in any
        if key.endswith((".json", ".log", ".csv")):
            with s3_fs().open_input_stream(key) as f:
                text = f.read()
            assert KEY_ID.encode() not in text and SECRET.encode() not in text, key

    dashboard = subprocess.Popen(
        cli("dashboard", uri, "--port", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = dashboard.stdout.readline()
        address = line.split("http://", 1)[1].split()[0].replace("/dashboard/", "")
        with urllib.request.urlopen(f"http://{address}/api/studies", timeout=30) as answer:
            studies = json.loads(answer.read())
        assert [s["study_name"] for s in studies["study_summaries"]] == ["killed"]
    finally:
        dashboard.send_signal(signal.SIGINT)
        dashboard.communicate(timeout=30)


def test_a_spec_deleted_from_storage_is_not_vouched_for_by_the_cache(killed_and_resumed, capsys):
    """The cache keeps a copy of the spec; once the spec object is gone from the storage,
    resume refuses the experiment before Tune's state is unpickled, as a local folder
    without its spec is refused, and best says it is no experiment."""
    fs = s3_fs()
    pafs.copy_files(
        f"{BUCKET}/runs/killed",
        f"{BUCKET}/runs/nospec",
        source_filesystem=fs,
        destination_filesystem=fs,
    )
    uri = f"s3://{BUCKET}/runs/nospec"
    assert main(["best", uri]) == 0  # the cache now holds its spec
    cached = local_target(uri)
    assert (cached / SPEC_FILE).is_file()
    fs.delete_file(f"{BUCKET}/runs/nospec/{SPEC_FILE}")
    capsys.readouterr()
    assert main(["resume", uri]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"is not a tune-cifar experiment (no {SPEC_FILE}" in err[0], err
    assert not (cached / SPEC_FILE).exists()  # the stale copy is gone
    assert main(["best", uri]) == 2
    assert "is not in a tune-cifar experiment" in capsys.readouterr().err


@pytest.fixture(scope="module")
def s3_with_keys(tmp_path_factory):
    """A second server that checks credentials (moto's IAM after its first 5 requests): one
    user with full rights, a bucket; yields (endpoint, access key id, secret key)."""
    import boto3

    port = free_port()
    server = start_s3_server(port, INITIAL_NO_AUTH_ACTION_COUNT="5")
    endpoint = f"http://127.0.0.1:{port}"
    try:
        session = dict(
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="setup",
            aws_secret_access_key="setup",
        )
        iam = boto3.client("iam", **session)
        iam.create_user(UserName="tuner")
        key = iam.create_access_key(UserName="tuner")["AccessKey"]
        iam.put_user_policy(
            UserName="tuner",
            PolicyName="all",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                }
            ),
        )
        boto3.client(
            "s3",
            **{
                **session,
                "aws_access_key_id": key["AccessKeyId"],
                "aws_secret_access_key": key["SecretAccessKey"],
            },
        ).create_bucket(Bucket=BUCKET)
        yield endpoint, key["AccessKeyId"], key["SecretAccessKey"]
    finally:
        server.kill()
        server.wait()


def test_bad_object_storage_is_one_line_and_changes_nothing(
    s3, s3_with_keys, monkeypatch, capsys, tmp_path
):
    """Each bad storage, to every command that reads or writes it: the search's
    --storage-path, its --warm-start, and the results commands, before any listing."""
    import tune_cifar.tuning._resources

    monkeypatch.setattr(
        tune_cifar.tuning._resources, "start_ray", lambda *a: pytest.fail("Ray ran")
    )
    endpoint, key_id, secret = s3_with_keys
    before = keys("")
    search = ["search", "--space", "quick", "--data", "synthetic", "--name", "x"]
    cases = [  # (environment, storage path, what the line says)
        ({}, "s3://no-such-bucket/runs", "bucket 'no-such-bucket' does not exist at "),
        (
            {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"},
            f"s3://{BUCKET}/runs",
            "the storage endpoint at http://127.0.0.1:",
        ),
        (
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "AKIANOTAKEY00000000",
                "AWS_SECRET_ACCESS_KEY": "wrong",
            },
            f"s3://{BUCKET}/runs",
            "the storage refused these credentials at ",
        ),
        (
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": None,
                "AWS_SECRET_ACCESS_KEY": None,
            },
            f"s3://{BUCKET}/runs",
            "no credentials: set ",
        ),
    ]
    for env, storage, message in cases:
        with monkeypatch.context() as mp:
            for name, value in env.items():
                if value is None:
                    mp.delenv(name, raising=False)
                else:
                    mp.setenv(name, value)
            experiment = f"{storage}/exp"
            for args in (
                [*search, "--storage-path", storage],
                [*search, "--search", "optuna", "--warm-start", experiment],
                ["best", experiment],
                ["dashboard", experiment, "--port", "0"],
            ):
                start_time = time.monotonic()
                assert (
                    main(
                        [*args, "--storage-path", str(tmp_path)] if "--warm-start" in args else args
                    )
                    == 2
                ), (message, args)
                assert time.monotonic() - start_time < 20
                err = capsys.readouterr().err.strip()
                assert len(err.splitlines()) == 1 and message in err, (args, err)
                assert secret not in err and "wrong" not in err
    with monkeypatch.context() as mp:  # the right keys work
        mp.setenv("AWS_ENDPOINT_URL", endpoint)
        mp.setenv("AWS_ACCESS_KEY_ID", key_id)
        mp.setenv("AWS_SECRET_ACCESS_KEY", secret)
        from tune_cifar.storage import check_storage, storage_place

        check_storage(storage_place(f"s3://{BUCKET}/runs"))
    assert keys("") == before
    assert main(["best", f"s3://{BUCKET}/nothing/here"]) == 2
    assert "is not in a tune-cifar experiment" in capsys.readouterr().err


def ray_node(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """``ray start ... --block`` as a user starts a node, in a process group of its own (its
    raylet and workers with it), so that the node can be killed outright."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ray.scripts.scripts",
            "start",
            *args,
            "--block",
            "--disable-usage-stats",
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )


def test_a_cluster_of_ray_start_nodes_loses_a_node_and_loses_nothing(s3, tmp_path):
    """Two nodes started with ``ray start`` (head, then a worker joining it; Ray's token
    authentication on, as ``ray start`` sets it up), a search joining with ``--address`` and
    storing in s3://, the worker node SIGKILLed (raylet and trial processes) once trials run
    on both: every trial finishes from its checkpoints, and the results read back from s3://
    are the trials trained in one go, epoch for epoch."""
    import tempfile

    space = tmp_path / "grid.py"  # two trials: one on each node
    space.write_text(GRID_SPACE.replace("tune.grid_search([32, 64])", "32"))
    port = free_port()
    with tempfile.TemporaryDirectory(dir="/tmp", prefix="r") as ray_tmp:  # short socket paths
        env = {
            **os.environ,
            "RAY_AUTH_MODE": "token",
            "RAY_TMPDIR": ray_tmp,
            "PYTHONUNBUFFERED": "1",
        }
        head = ray_node(
            ["--head", "--port", str(port), "--num-cpus", "1", "--include-dashboard", "false"],
            env,
            tmp_path / "head.log",
        )
        worker = None
        try:
            wait_for(
                lambda: "Ray runtime started" in (tmp_path / "head.log").read_text(),
                60,
                "the head node",
            )
            worker = ray_node(
                ["--address", f"127.0.0.1:{port}", "--num-cpus", "1"], env, tmp_path / "worker.log"
            )
            wait_for(
                lambda: "Ray runtime started" in (tmp_path / "worker.log").read_text(),
                60,
                "the worker node",
            )
            search = subprocess.Popen(
                cli(
                    "search",
                    "--space",
                    str(space),
                    "--search",
                    "grid",
                    "--scheduler",
                    "fifo",
                    "--max-epochs",
                    str(CLUSTER_EPOCHS),
                    "--max-failures",
                    "3",
                    "--address",
                    f"127.0.0.1:{port}",
                    "--storage-path",
                    f"s3://{BUCKET}/runs",
                    "--name",
                    "cluster",
                    *DATA_FLAGS,
                ),
                stdout=(tmp_path / "search.log").open("w"),
                stderr=subprocess.STDOUT,
                env=env,
            )

            def nodes_in_use() -> set[str]:  # nodes whose trial has epochs left to train
                return {
                    rows[-1]["node_id"]
                    for k in keys("runs/cluster")
                    if k.endswith("result.json")
                    and 2 <= len(rows := result_rows(k)) <= CLUSTER_EPOCHS - 5
                }

            wait_for(lambda: len(nodes_in_use()) == 2, 300, "trials running on both nodes")
            os.killpg(worker.pid, signal.SIGKILL)  # the whole node, trials and all
            worker.wait()
            assert search.wait(timeout=500) == 0, (tmp_path / "search.log").read_text()[-3000:]
        finally:
            for node in (worker, head):
                if node is not None and node.poll() is None:
                    os.killpg(node.pid, signal.SIGKILL)
                    node.wait()
    rows = [result_rows(k) for k in keys("runs/cluster") if k.endswith("result.json")]
    assert [r[-1]["training_iteration"] for r in rows] == [CLUSTER_EPOCHS] * 2
    moved = [r for r in rows if len({x["node_id"] for x in r}) == 2]
    assert moved, "no trial lost its node"
    for trial in moved:  # continued from a checkpoint, not from epoch 1
        assert [x["training_iteration"] for x in trial].count(1) == 1
    folder = local_target(f"s3://{BUCKET}/runs/cluster")
    assert histories(folder) == trained_straight(folder, CLUSTER_EPOCHS)
    assert load_experiment(folder).trials["status"].eq("done").all()
