"""Run a search: space + search algorithm + scheduler + resources + storage -> ``tune.Tuner``.

    opts = SearchOptions(space="quick", num_samples=4, max_epochs=4)
    outcome = run_search(opts, DataSpec(source="sample"))
    print(outcome.best.summary())

Everything a user can get wrong (space, keys, ranges, resources, storage, an existing
experiment name) is checked before the first trial starts and raised as a one-line
``UsageError``. Ray's own console output is replaced by ``LiveView``; trial errors are
summarised at the end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from ray.tune import Stopper

from tune_cifar.config import TrialConfig
from tune_cifar.data import DataBundle, DataSpec, load_data
from tune_cifar.errors import TuneCifarError, UsageError, error_line
from tune_cifar.experiment import (
    SPEC_FILE,
    BestTrial,
    best_trial,
    load_trials,
    local_folder,
    read_spec,
    trial_status,
    write_spec,
)
from tune_cifar.journal import JournalCallback, space_distributions, study_attrs
from tune_cifar.lock import LOCK_FILE, ExperimentLock, hold_experiment
from tune_cifar.progress import LiveView, live_output
from tune_cifar.ray_private import defer_checkpoint_deletion, delete_unnamed_checkpoints
from tune_cifar.search_options import SearchOptions
from tune_cifar.spaces import SearchSpace, as_grid, as_sampled, load_space
from tune_cifar.stopping import (
    INTERRUPTED,
    STORAGE_FULL,
    TIME_BUDGET,
    StopWatch,
    check_free_space,
    release_reserve,
    reset_stop,
    stop_reason,
    write_reserve,
)
from tune_cifar.tb_logger import ReadableTensorBoard
from tune_cifar.trainable import RunSettings, train_cifar

METRIC, MODE = "val_acc", "max"
@dataclass
class SearchOutcome:
    experiment_path: Path
    best: BestTrial | None
    num_trials: int
    errors: list[str]
    unfinished: int = 0  # trials neither done nor errored: interrupted, or out of budget
    budget: str | None = None  # "time budget" / "epoch budget" when one of them ended it
    trial_epochs: int = 0  # epochs reported by all trials together
    compute: Compute | None = None  # what this run of the search trained, and how fast
    seed_style: bool = False  # validated on the test set, as the seed study did
    interrupted: bool = False  # Ctrl-C or SIGTERM ended it (whatever budget it had)
    storage_full: str | None = None  # why the storage stopped it, when it filled up


@dataclass(frozen=True)
class Compute:
    """The trial-epochs one run of a search (or of its resume) trained, in what wall time, on
    how many GPUs and CPUs."""

    trial_epochs: int
    wall_s: float
    gpus: float
    cpus: float
    train_images: int  # per trial-epoch

    def summary(self) -> str:
        minutes = self.wall_s / 60
        unit, count = ("GPU", self.gpus) if self.gpus else ("CPU", self.cpus)
        per_minute = self.trial_epochs / (minutes * count) if minutes and count else 0.0
        images = self.trial_epochs * self.train_images / self.wall_s if self.wall_s else 0.0
        return (f"compute: {self.trial_epochs} trial-epochs in {self.wall_s:.0f} s on "
                f"{count:g} {unit}{'s' if count != 1 else ''}: {per_minute:.2f} trial-epochs "
                f"per {unit}-minute, {images:,.0f} training images/s together")


def experiment_folder(opts: SearchOptions, space: SearchSpace) -> Path:
    name = opts.name or f"{space.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    return local_folder(opts.storage_path, "--storage-path") / name


def claim_folder(folder: Path, overwrite: bool) -> ExperimentLock | None:
    """Check, before Ray starts, that the search may write ``folder``; changes nothing on disk
    but the storage folder itself (and an existing experiment's lock file).

    A new name needs an unused folder name in a writable storage path. ``overwrite`` replaces
    only a tune-cifar experiment (its spec file is there) or an empty folder, and only one that
    no search, resume or confirmation is running in: its lock is taken now and held (returned)
    until the search ends."""
    lock = None
    if folder.exists() or folder.is_symlink():
        if not overwrite:
            raise UsageError(f"experiment {folder} already exists; pick another --name, "
                             "resume it with 'tune-cifar resume', or pass --overwrite")
        if folder.is_symlink() or not folder.is_dir():
            raise UsageError(f"--overwrite: {folder} is not a folder of its own (a file or a "
                             "link); left untouched")
        if not (folder / SPEC_FILE).is_file() and any(folder.iterdir()):
            raise UsageError(f"--overwrite: {folder} is not a tune-cifar experiment (no "
                             f"{SPEC_FILE}); only experiments are replaced, this folder is left "
                             "untouched")
        lock = ExperimentLock(folder, "search")
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder.parent):
            pass
        check_free_space(folder if lock is not None else folder.parent)
    except (OSError, UsageError) as exc:
        if lock is not None:
            lock.release()
        if isinstance(exc, UsageError):
            raise
        raise UsageError(f"cannot write to storage path {folder.parent}: {exc.strerror}") from None
    return lock


def create_folder(folder: Path, lock: ExperimentLock | None) -> ExperimentLock:
    """The experiment folder, empty but for its lock, held by this search: a new folder, or
    (``lock`` given by ``claim_folder``) the experiment being replaced, emptied."""
    if lock is not None:
        for entry in folder.iterdir():
            if entry.name == LOCK_FILE:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        return lock
    try:
        folder.mkdir()
    except FileExistsError:  # another search took this name since claim_folder
        raise UsageError(f"experiment {folder} already exists; pick another --name") from None
    return ExperimentLock(folder, "search")


def build_search(opts: SearchOptions, space: SearchSpace) -> tuple[Any, dict[str, Any], int]:
    """(search algorithm, param space, num_samples) for the requested search."""
    from ray import tune
    from ray.tune.search import BasicVariantGenerator, ConcurrencyLimiter

    from tune_cifar.optuna_search import AshaAwareOptunaSearch

    seed = {"seed": opts.seed}
    # --max-concurrent is applied here: Tune's own max_concurrent_trials is ignored (with a
    # warning only) when the search algorithm is a BasicVariantGenerator passed in, as ours is.
    variants = {"random_state": opts.seed, "max_concurrent": opts.max_concurrent or 0}
    # For a fixed list or a grid, --num-samples K means K repeats of every configuration, the
    # r-th with seed + r (a point's own seed, else --seed), so repeats are new training runs.
    repeats = opts.num_samples or 1
    if space.points is not None:
        if opts.search == "optuna":
            raise UsageError(f"space {space.name!r} is a fixed list of configurations; "
                             "use --search random or grid")
        # Tune only fills in keys its param space has, so each point is spelled out in full
        # (presets resolved) and the param space holds every key.
        points = [TrialConfig.from_dict({**p, "seed": int(p.get("seed", opts.seed)) + r})
                  .to_dict() for r in range(repeats) for p in space.points]
        return (BasicVariantGenerator(points_to_evaluate=points, **variants),
                TrialConfig(seed=opts.seed).to_dict(), len(points))
    if opts.search == "grid":
        seeds = [opts.seed + r for r in range(repeats)]
        return (BasicVariantGenerator(**variants),
                {"seed": tune.grid_search(seeds) if repeats > 1 else opts.seed,
                 **as_grid(space)}, 1)
    num_samples = opts.num_samples or 8
    if opts.search == "random":
        return BasicVariantGenerator(**variants), {**seed, **space.params}, num_samples
    import optuna

    sampler = optuna.samplers.TPESampler(seed=opts.seed, multivariate=True)
    searcher: Any = AshaAwareOptunaSearch(metric=METRIC, mode=MODE, sampler=sampler,
                                          max_epochs=opts.max_epochs,
                                          stopped_as=opts.stopped_as)
    if opts.max_concurrent:
        searcher = ConcurrencyLimiter(searcher, max_concurrent=opts.max_concurrent)
    return searcher, {**seed, **as_sampled(space)}, num_samples


def planned_trials(param_space: dict[str, Any], num_samples: int) -> int:
    """How many trials Tune will run: every grid axis multiplies ``num_samples``."""
    return num_samples * math.prod(len(v["grid_search"]) for v in param_space.values()
                                   if isinstance(v, dict) and "grid_search" in v)


def build_scheduler(opts: SearchOptions) -> Any:
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if opts.scheduler == "fifo":
        return FIFOScheduler()
    return ASHAScheduler(time_attr="training_iteration", max_t=opts.max_epochs,
                         grace_period=opts.grace_period, reduction_factor=opts.reduction_factor)


def quiet_ray() -> None:
    """Keep Ray's informational logs off the console; real errors still show."""
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    # TUNE_MAX_PENDING_TRIALS_PG stays Ray's "auto": random and grid searches queue as many
    # trials as resources may take at once (a GPU holding 16 must not start them 4 at a time),
    # while Optuna's searcher gets one pending trial (its --max-concurrent with a limiter), so
    # that TPE suggests each trial knowing the results so far.
    # Save Tune's experiment state every 2 s (Ray's "auto" waits 10 s or more), so that a
    # killed driver loses at most one epoch per trial on resume.
    os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "2")
    for name in ("ray", "ray.tune", "ray.train", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no line per study or trial
    defer_checkpoint_deletion()  # a killed driver's saved state never names a deleted one


CONNECT_TIMEOUT_S = 5  # TCP connect to a cluster's address
JOIN_TIMEOUT_S = 15  # the whole handshake with its GCS
# A Ray handshake that gives up after one short try (Ray's defaults retry for minutes);
# Ray reads these when it is imported, hence a separate process.
_JOIN_PROBE = """
import logging, sys
import ray
ray.init(address=sys.argv[1], log_to_driver=False, logging_level=logging.ERROR,
         include_dashboard=False)
ray.shutdown()
"""
_SHORT_TRIES = {"RAY_gcs_server_port_wait_time_s": "1",
                "RAY_gcs_rpc_server_connect_timeout_s": str(CONNECT_TIMEOUT_S),
                "RAY_py_gcs_connect_timeout_s": str(CONNECT_TIMEOUT_S)}


def check_cluster(address: str, named_by: str = "") -> None:
    """Fail within JOIN_TIMEOUT_S, in one line, when no Ray cluster answers at ``address``
    (``named_by``: where the address came from, when not from --address)."""
    def refuse(reason: str) -> NoReturn:
        raise UsageError(f"cannot join the Ray cluster at {cluster_name(address, named_by)}: "
                         f"{reason}")

    host, _, port = address.rpartition(":")
    if host and port.isdigit() and "://" not in address:
        try:
            with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
                pass
        except OSError as exc:
            refuse(f"{exc.strerror or 'no answer'} (is 'ray start --head' running there?)")
    try:
        probe = subprocess.run([sys.executable, "-c", _JOIN_PROBE, address], text=True,
                               capture_output=True, timeout=JOIN_TIMEOUT_S,
                               env={**os.environ, **_SHORT_TRIES})
    except subprocess.TimeoutExpired:
        refuse(f"no Ray cluster answered within {JOIN_TIMEOUT_S} s")
    if probe.returncode != 0:
        errors = [line for line in probe.stderr.splitlines() if "Error" in line]
        refuse(errors[-1].split(": ", 1)[-1] if errors else f"exit code {probe.returncode}")


def cluster_name(address: str, named_by: str) -> str:
    return f"{address} (from {named_by})" if named_by else address


def start_ray(address: str | None, named_by: str = "") -> None:
    """Join the Ray cluster at ``address``, or start a Ray of this process's own (None),
    unless this process already has it running (a notebook, a test session)."""
    import ray

    quiet_ray()
    if address is not None:
        check_cluster(address, named_by)  # also where this process has a Ray of its own
    if ray.is_initialized():
        return
    try:
        # "local": without it, ray.init() joins whatever cluster /tmp/ray/ray_current_cluster
        # names (left by 'ray start' or ray.cluster_utils), trials and all.
        ray.init(address=address or "local", log_to_driver=False, logging_level=logging.ERROR,
                 include_dashboard=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        if address is None:
            raise UsageError(f"cannot start Ray on this machine: {exc}") from None
        raise UsageError(f"cannot join the Ray cluster at {cluster_name(address, named_by)}: "
                         f"{exc}") from None
    stop_on_sigterm()


def stop_on_sigterm() -> None:
    """SIGTERM (``kill PID``, a job scheduler's stop) stops a search as Ctrl-C does: Tune saves
    its state once more and the search ends with the resume command. ``ray.init`` installs a
    SIGTERM handler that exits at once, in the middle of whatever the driver was doing."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    signal.signal(signal.SIGTERM, _stop_as_on_sigint)


def _stop_as_on_sigint(signum: int, frame: Any) -> None:
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):  # Tune's graceful stop during a search, else Python's KeyboardInterrupt
        handler(signum, frame)
    else:  # SIGINT ignored (a background job of a shell): still stop
        raise KeyboardInterrupt


UNMEASURED_GPU_SHARE = 0.25  # when the driver has no GPU to measure a trial on


def resolve_gpus(opts: SearchOptions, cluster_gpus: float) -> float:
    """``--gpus-per-trial`` as given; by default one GPU when the cluster has GPUs, until
    ``pack_gpus`` measures how many trials share one."""
    if opts.gpus_per_trial is not None:
        return opts.gpus_per_trial
    return 1.0 if cluster_gpus > 0 else 0.0


def pack_gpus(opts: SearchOptions, nodes: list[dict[str, float]], params: dict[str, Any],
              bundle: DataBundle) -> tuple[float, str]:
    """(GPU share per trial, why): measured on this machine's GPU (``tune_cifar.gpu_share``);
    a share the user gave is checked against the same measurement."""
    import torch

    from tune_cifar.gpu_share import check_share, cpus_per_gpu, heaviest_config, measure, packing

    if not torch.cuda.is_available():
        share = opts.gpus_per_trial or UNMEASURED_GPU_SHARE
        return share, (f"{share:g} GPU per trial, not measured (no GPU on this machine to "
                       "measure a trial on)")
    probe = measure(heaviest_config(params), len(bundle.training.train_y),
                    len(bundle.training.val_y))
    if opts.gpus_per_trial is not None:
        check_share(opts.gpus_per_trial, probe)
        return opts.gpus_per_trial, (f"{opts.gpus_per_trial:g} GPU per trial as asked; one "
                                     f"trial measured {probe.trial_bytes / 2**30:.1f} GiB")
    trials, why = packing(probe, cpus_per_gpu(nodes), opts.cpus_per_trial)
    return 1 / trials, f"{1 / trials:.4g} GPU per trial, {trials} trials per GPU: {why}"


def local_resources() -> list[dict[str, float]]:
    """This machine as a local Ray will see it, known before Ray starts: the CPUs this process
    may run on and the CUDA GPUs torch sees."""
    import torch

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [{"CPU": float(cpus or 1), "GPU": float(torch.cuda.device_count())}]


def cluster_resources() -> list[dict[str, float]]:
    """Each live node's resources, as the running Ray cluster reports them."""
    import ray

    return [n["Resources"] for n in ray.nodes() if n.get("Alive")]


def check_resources(opts: SearchOptions, nodes: list[dict[str, float]],
                    where: str = "the Ray cluster") -> tuple[int, float]:
    """(cpus, gpus) per trial, refusing what no node of ``nodes`` can ever give."""
    max_cpus = max((n.get("CPU", 0) for n in nodes), default=0)
    max_gpus = max((n.get("GPU", 0) for n in nodes), default=0)
    gpus = resolve_gpus(opts, max_gpus)
    one = where if len(nodes) == 1 else f"any node of {where}"
    if opts.cpus_per_trial > max_cpus:
        raise UsageError(f"--cpus-per-trial {opts.cpus_per_trial} is more than {one} has "
                         f"({max_cpus:g} CPUs)")
    if gpus > max_gpus:
        have = "no GPUs" if max_gpus == 0 else f"at most {max_gpus:g} GPUs on a node"
        raise UsageError(f"--gpus-per-trial {gpus:g} cannot be met: {where} has {have}")
    if gpus > 1 and gpus != int(gpus):
        raise UsageError(f"--gpus-per-trial {gpus:g}: above 1, use a whole number of GPUs")
    if opts.cuda_graph == "on" and gpus == 0:
        raise UsageError("--cuda-graph on needs GPU trials, and there are none: "
                         f"{where} has no GPUs or --gpus-per-trial is 0")
    return opts.cpus_per_trial, gpus


def start_and_check(opts: SearchOptions, params: dict[str, Any] | None,
                    bundle: DataBundle) -> tuple[int, float]:
    """Check the resources asked for, start (or join) Ray, and check again with what Ray sees:
    a local run is checked against this machine before Ray starts; a cluster only once
    joined. With GPUs and a search space (``params``; a resume has its share recorded), the
    share per trial is measured (``pack_gpus``) and said."""
    address, named_by = opts.ray_address()
    if address is None:
        check_resources(opts, local_resources(), "this machine")
    start_ray(address, named_by)
    nodes = cluster_resources()
    cpus, gpus = check_resources(opts, nodes,
                                 "this machine" if address is None else "the Ray cluster")
    if params is not None and (0 < gpus < 1 or (gpus == 1 and opts.gpus_per_trial is None)):
        gpus, why = pack_gpus(opts, nodes, params, bundle)
        print(f"GPU share: {why}", flush=True)
    return cpus, gpus


def trial_dirname(trial: Any) -> str:
    """Short trial folder names (Tune's default spells out the whole config)."""
    return f"trial_{trial.trial_id}"


def make_trainable(bundle: DataBundle, opts: SearchOptions, cpus: int, gpus: float) -> Any:
    """``train_cifar`` with the data in Ray's object store (once, not per trial) and its
    resources attached."""
    from ray import tune

    settings = RunSettings(max_epochs=opts.max_epochs, threads=cpus,
                           device="cuda" if gpus > 0 else "cpu", cuda_graph=opts.cuda_graph,
                           checkpoint_every=opts.checkpoint_every)
    return tune.with_resources(
        tune.with_parameters(train_cifar, data=bundle.training, settings=settings),
        {"cpu": cpus, "gpu": gpus},
    )


def _show_data(bundle: DataBundle) -> None:
    print(bundle.describe(), flush=True)
    for note in bundle.notes:
        print(f"note: {note}", flush=True)


def run_search(opts: SearchOptions, data_spec: DataSpec, argv: list[str] | None = None,
               bundle: DataBundle | None = None) -> SearchOutcome:
    """Validate everything, start Ray, run the search and return the best trial."""
    import ray
    from ray import tune

    opts.check()
    space = load_space(opts.space)
    search_alg, param_space, num_samples = build_search(opts, space)
    scheduler = build_scheduler(opts)
    folder = experiment_folder(opts, space)
    lock = claim_folder(folder, opts.overwrite)
    ray_was_running = ray.is_initialized()  # then it stays running: a notebook's, a test's
    try:
        bundle = bundle or load_data(data_spec)
        _show_data(bundle)
        cpus, gpus = start_and_check(opts, param_space, bundle)
        opts = dataclasses.replace(opts, gpus_per_trial=gpus)  # a resume keeps the share
        lock = create_folder(folder, lock)
        write_spec(folder, opts, data_spec, space, argv)
        write_reserve(folder)
        print(f"search {folder.name}: space {space.name} ({space.describe()}), "
              f"{opts.search} search, {opts.scheduler} scheduler, "
              f"{planned_trials(param_space, num_samples)} trials x "
              f"up to {opts.max_epochs} epochs, {cpus} CPU + {gpus:g} GPU per trial", flush=True)
        print(f"watch it in a browser: tune-cifar dashboard {folder}", flush=True)
        tuner = tune.Tuner(
            make_trainable(bundle, opts, cpus, gpus),
            param_space=param_space,
            tune_config=tune.TuneConfig(
                metric=METRIC, mode=MODE, search_alg=search_alg, scheduler=scheduler,
                num_samples=num_samples, trial_dirname_creator=trial_dirname,
                reuse_actors=True,  # a new trial runs in the process of one that ended
            ),
            run_config=run_config(opts, folder, space),
        )
        results, compute = fit_and_measure(tuner, folder, bundle)
    finally:
        if not ray_was_running:
            ray.shutdown()
        if lock is not None:
            release_reserve(folder)
            lock.release()
    return outcome_of(folder, results, opts, compute)


def resume_search(folder: Path, retry_errored: bool = False,
                  bundle: DataBundle | None = None) -> SearchOutcome:
    """Continue an interrupted search from our spec file and Tune's saved state: unfinished
    trials continue from their last checkpoints, finished ones stay finished, errored ones
    are retried from their last checkpoints only with ``retry_errored``."""
    from ray import tune

    folder = Path(folder).expanduser().resolve()
    spec = read_spec(folder)  # refuses folders that are not ours before Tune unpickles anything
    if not tune.Tuner.can_restore(str(folder)):
        raise UsageError(f"{folder} has no saved Tune state to resume from")
    opts = SearchOptions(**spec["options"])
    with hold_experiment(folder, "resume"):
        check_free_space(folder)
        write_reserve(folder)
        try:
            return _resume(folder, opts, spec, retry_errored, bundle)
        finally:
            release_reserve(folder)


def _resume(folder: Path, opts: SearchOptions, spec: dict[str, Any], retry_errored: bool,
            bundle: DataBundle | None) -> SearchOutcome:
    import ray
    from ray import tune

    bundle = bundle or load_data(DataSpec(**spec["data"]))
    _show_data(bundle)
    ray_was_running = ray.is_initialized()
    try:
        cpus, gpus = start_and_check(opts, None, bundle)
        print(f"resuming {folder.name}", flush=True)
        tuner = tune.Tuner.restore(str(folder), trainable=make_trainable(bundle, opts, cpus, gpus),
                                   resume_unfinished=True, resume_errored=retry_errored)
        results, compute = fit_and_measure(tuner, folder, bundle)
    finally:
        if not ray_was_running:
            ray.shutdown()
    return outcome_of(folder, results, opts, compute)


def epochs_so_far(folder: Path) -> int:
    """Epochs reported by all trials of an experiment folder together."""
    return sum(int(t.metrics["training_iteration"].max()) for t in load_trials(folder))


def fit_and_measure(tuner: Any, folder: Path, bundle: DataBundle) -> tuple[Any, Compute]:
    """Run the Tuner with only LiveView on the console; what it trained, how fast."""
    before, start = epochs_so_far(folder), time.monotonic()
    reset_stop()
    with live_output():
        results = tuner.fit()
    delete_unnamed_checkpoints(everything=True)  # Tune's last state of this run is saved
    wall = time.monotonic() - start
    nodes = cluster_resources()
    return results, Compute(epochs_so_far(folder) - before, wall,
                            sum(n.get("GPU", 0) for n in nodes),
                            sum(n.get("CPU", 0) for n in nodes), len(bundle.training.train_y))


def outcome_of(folder: Path, results: Any, opts: SearchOptions,
               compute: Compute | None = None) -> SearchOutcome:
    errors = [f"trial {r.metrics.get('trial_id', Path(r.path).name)}: {error_line(r.error)}"
              for r in results if r.error]
    # Unfinished: trials that never reported, and trials whose own epochs say they are not
    # done (Tune's "done" flag misses a trial that finished its last epoch just before the
    # driver was killed: on resume it has nothing left to report).
    records = load_trials(folder)
    never_reported = sum(1 for r in results if not r.error and not r.metrics)
    unfinished = never_reported + sum(
        1 for t in records if trial_status(t, opts.max_epochs)[0] == "unfinished")
    epochs = sum(int(t.metrics["training_iteration"].max()) for t in records)
    reason, detail = stop_reason()
    budget = None
    if opts.epoch_budget and epochs >= opts.epoch_budget:
        budget = "epoch budget"
    elif reason == TIME_BUDGET and unfinished:
        budget = "time budget"
    seed_style = read_spec(folder)["data"].get("val_source") == "test"
    return SearchOutcome(folder, best_trial(folder, METRIC), len(results), errors, unfinished,
                         budget, epochs, compute, seed_style, reason == INTERRUPTED,
                         detail if reason == STORAGE_FULL else None)


class EpochBudget(Stopper):
    """A Tune stopper that ends the search once its trials have reported ``budget`` epochs in
    all (trial-epochs, the unit the seed study's 340 epochs are counted in). The epochs of a
    resumed search's earlier trials are read from the experiment folder first."""

    def __init__(self, budget: int, folder: Path) -> None:
        self.budget = budget
        self.folder = folder
        self.epochs: dict[str, int] | None = None  # trial id -> epochs reported

    def __call__(self, trial_id: str, result: dict[str, Any]) -> bool:
        if self.epochs is None:
            self.epochs = {t.trial_id: int(t.metrics["training_iteration"].max())
                           for t in load_trials(self.folder)}
        self.epochs[trial_id] = max(self.epochs.get(trial_id, 0),
                                    int(result.get("training_iteration", 0)))
        return False

    def stop_all(self) -> bool:
        return self.epochs is not None and sum(self.epochs.values()) >= self.budget


def run_config(opts: SearchOptions, folder: Path, space: SearchSpace) -> Any:
    """Storage, checkpoint retention, failure retries, and the callbacks: the live view on the
    console, the Optuna journal and readable TensorBoard files in the experiment folder."""
    from ray import tune

    journal = JournalCallback(space_distributions(space), opts.max_epochs,
                              study_attrs(read_spec(folder)), METRIC)
    journal.open(folder)
    callbacks = [StopWatch(folder, opts.time_budget),
                 LiveView(opts.max_epochs, METRIC, opts.progress_interval_s), journal]
    with contextlib.suppress(ImportError):  # no tensorboardX: no TensorBoard files, as Tune
        callbacks.append(ReadableTensorBoard())
    return tune.RunConfig(
        name=folder.name,
        storage_path=str(folder.parent),
        checkpoint_config=tune.CheckpointConfig(
            num_to_keep=opts.keep_checkpoints, checkpoint_score_attribute=METRIC,
            checkpoint_score_order=MODE),
        failure_config=tune.FailureConfig(max_failures=opts.max_failures),
        stop=EpochBudget(opts.epoch_budget, folder) if opts.epoch_budget else None,
        callbacks=callbacks,
        verbose=0,  # Ray's own output engine stays silent; LiveView prints instead
    )


def raise_if_all_failed(outcome: SearchOutcome) -> None:
    if outcome.best is None:
        detail = outcome.errors[0] if outcome.errors else "no trial reported a result"
        raise TuneCifarError(f"the search finished without a result: {detail}")
