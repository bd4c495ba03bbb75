"""What a search is asked to do: ``SearchOptions`` (every ``tune-cifar search`` flag besides
the data flags) and their checks, one line per bad value.

Apart from ``tuner`` (which runs a search), so that the command line builds its parser and
refuses a bad request without importing torch or Ray.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from tune_cifar.config import CUDA_GRAPH_CHOICES, check_mutable
from tune_cifar.errors import UsageError
from tune_cifar.metrics import COSTS, METRIC, RUNG_SCHEDULERS, asha_rungs

SEARCHES = ("random", "grid", "optuna")
SCHEDULERS = ("asha", "asha-promote", "fifo", "pbt", "pb2")
POPULATION_SCHEDULERS = ("pbt", "pb2")  # they mutate running trials (search_setup)
DEFAULT_STORAGE = Path("~/tune-cifar-results")
DEFAULT_SAMPLES = 8  # --num-samples of a random or Optuna search


@dataclass(frozen=True)
class SearchOptions:
    """Everything ``tune-cifar search`` takes besides the data flags."""

    space: str = "full"
    search: str = "random"
    scheduler: str = "asha"
    num_samples: int | None = None
    max_epochs: int = 10
    grace_period: int = 1
    reduction_factor: int = 3
    max_concurrent: int | None = None
    cpus_per_trial: int = 1
    gpus_per_trial: float | None = None
    storage_path: str = str(DEFAULT_STORAGE)
    name: str | None = None
    seed: int = 0
    time_budget: float | None = None
    address: str | None = None
    keep_checkpoints: int | None = None  # best N by val_acc (+ the latest); see kept_checkpoints
    max_failures: int = 2
    overwrite: bool = False
    progress_interval_s: float = 30.0
    stopped_as: str = "pruned"  # how ASHA-stopped trials reach Optuna TPE (optuna_search.py)
    epoch_budget: int | None = None  # trial-epochs in all, then the search ends
    cuda_graph: str = "auto"  # full batches as CUDA graph replays (training.use_cuda_graph)
    checkpoint_every: int | None = None  # epochs between checkpoints; see checkpoint_interval
    warm_start: tuple[str, ...] = ()  # earlier experiments (or "seed") TPE starts from
    startup_trials: int | None = None  # TPE's random first trials; see tpe_startup_trials
    perturbation_interval: int = 2  # PBT / PB2: epochs between a trial's exploit/explore steps
    mutations: tuple[str, ...] = ()  # PBT / PB2: keys that change mid-training (default: the
    # space's ranges and choices of mutable keys)
    objective: tuple[str, ...] = (METRIC,)  # val_acc, then a cost to minimise (metrics.COSTS)

    @property
    def population(self) -> bool:
        """PBT or PB2: trials continue each other's checkpoints."""
        return self.scheduler in POPULATION_SCHEDULERS

    @property
    def checkpoint_interval(self) -> int:
        """Epochs between a trial's checkpoints: ``--checkpoint-every``, else 1. (Under PBT too:
        a trial paused between checkpoints trains again from its last one.)"""
        return self.checkpoint_every or 1

    @property
    def pause_epochs(self) -> tuple[int, ...]:
        """Epochs at which a trial may be paused, so each has a checkpoint to resume from:
        asha-promote's rungs."""
        if self.scheduler != "asha-promote":
            return ()
        return tuple(asha_rungs(self.grace_period, self.reduction_factor, self.max_epochs))

    @property
    def kept_checkpoints(self) -> int:
        """Checkpoints Tune keeps per trial (the best N by val_acc, plus the latest):
        ``--keep-checkpoints``, else 2, or 4 under PBT / PB2, where a trial may be told to
        continue a donor's checkpoint some epochs after the donor saved it (Ray warns that
        keeping 2 or fewer loses such checkpoints)."""
        if self.keep_checkpoints is not None:
            return self.keep_checkpoints
        return 4 if self.population else 2

    def tpe_startup_trials(self, optuna_default: int) -> int:
        """How many trials TPE samples at random before it models the results (Optuna's
        ``n_startup_trials``): ``--startup-trials``, else Optuna's default, or half the trials
        (at least 1) when ``--num-samples`` asks for fewer than twice that default, so that a
        small search is not random from start to end (8 trials with Optuna's 10 would be)."""
        if self.startup_trials is not None:
            return self.startup_trials
        samples = self.num_samples or DEFAULT_SAMPLES
        return optuna_default if samples >= 2 * optuna_default else max(1, samples // 2)

    def ray_address(self) -> tuple[str | None, str]:
        """The Ray cluster to join and what named it: ``--address`` (named ""), else
        ``RAY_ADDRESS`` (as Ray's own tools and ``ray job submit`` set it), else None: a Ray
        of this search's own, never one that happens to run on this machine."""
        if self.address:
            return self.address, ""
        return os.environ.get("RAY_ADDRESS") or None, "RAY_ADDRESS"

    def check(self) -> None:
        """Raise a one-line UsageError for any flag out of range."""
        if self.search not in SEARCHES:
            raise UsageError(f"--search must be one of {', '.join(SEARCHES)}")
        if self.cuda_graph not in CUDA_GRAPH_CHOICES:
            raise UsageError(f"--cuda-graph must be one of {', '.join(CUDA_GRAPH_CHOICES)}")
        if self.stopped_as not in ("pruned", "complete"):
            raise UsageError(f"--stopped-as must be pruned or complete, not {self.stopped_as!r}")
        if self.scheduler not in SCHEDULERS:
            raise UsageError(f"--scheduler must be one of {', '.join(SCHEDULERS)}")
        positive = {"--max-epochs": self.max_epochs, "--grace-period": self.grace_period,
                    "--cpus-per-trial": self.cpus_per_trial,
                    "--keep-checkpoints": self.keep_checkpoints,
                    "--checkpoint-every": self.checkpoint_every}
        if self.num_samples is not None:
            positive["--num-samples"] = self.num_samples
        if self.max_concurrent is not None:
            positive["--max-concurrent"] = self.max_concurrent
        if self.time_budget is not None:
            positive["--time-budget"] = self.time_budget
        if self.epoch_budget is not None:
            positive["--epoch-budget"] = self.epoch_budget
        if self.gpus_per_trial is not None:
            check_finite("--gpus-per-trial", self.gpus_per_trial)
        check_finite("--progress-interval", self.progress_interval_s)
        positive["--progress-interval"] = self.progress_interval_s
        for flag, value in positive.items():
            if value is None:  # not given: its default applies
                continue
            check_finite(flag, value)
            if value <= 0:
                raise UsageError(f"{flag} must be positive, got {value}")
        if self.scheduler in RUNG_SCHEDULERS and self.grace_period > self.max_epochs:
            raise UsageError(f"--grace-period {self.grace_period} is above --max-epochs "
                             f"{self.max_epochs}")
        if self.reduction_factor < 2:
            raise UsageError(f"--reduction-factor must be at least 2, got {self.reduction_factor}")
        if self.gpus_per_trial is not None and self.gpus_per_trial < 0:
            raise UsageError(f"--gpus-per-trial must be >= 0, got {self.gpus_per_trial}")
        if self.max_failures < 0:
            raise UsageError(f"--max-failures must be >= 0, got {self.max_failures}")
        if not 0 <= self.seed < 2**31:
            raise UsageError(f"--seed must be in [0, 2**31 - 1], got {self.seed}")
        if self.name is not None:
            check_name(self.name)
        if self.scheduler in POPULATION_SCHEDULERS:
            self.check_population()
        self.check_objective()
        if self.startup_trials is not None:
            if self.search != "optuna":
                raise UsageError("--startup-trials needs --search optuna (TPE's random first "
                                 "trials); random and grid searches are all random already")
            if self.startup_trials < 1:
                raise UsageError(f"--startup-trials must be positive, got {self.startup_trials}")
        if self.scheduler == "asha-promote":
            self.check_promotion()
        if self.warm_start and self.search != "optuna":
            raise UsageError("--warm-start needs --search optuna: random and grid searches do "
                             "not learn from earlier trials")


    @property
    def cost(self) -> str | None:
        """The cost a multi-objective search minimises beside val_acc (None: val_acc only)."""
        return self.objective[1] if len(self.objective) > 1 else None

    def check_objective(self) -> None:
        if not self.objective or self.objective[0] != METRIC or len(self.objective) > 2 or (
                len(self.objective) == 2 and self.objective[1] not in COSTS):
            raise UsageError(f"--objective must be {METRIC} or {METRIC},COST with COST one of "
                             f"{', '.join(COSTS)}; got {','.join(self.objective)!r}")
        if self.cost and any(w != "seed" for w in self.warm_start):
            raise UsageError("--warm-start EXP tells TPE earlier val_acc values only; it cannot "
                             "start a multi-objective search (--warm-start seed can)")
        if self.cost and self.population:
            raise UsageError(f"--scheduler {self.scheduler} ranks its population by {METRIC} "
                             "alone; use --objective with asha or fifo")

    def check_promotion(self) -> None:
        """asha-promote keeps trials waiting, paused, at its rungs: neither TPE (it learns from
        ended trials) nor a limit on live trials (waiting ones count) works beside that."""
        if self.search == "optuna":
            raise UsageError("--scheduler asha-promote pauses trials at its rungs, and TPE "
                             "learns only from ended trials; use --scheduler asha with "
                             "--search optuna, or asha-promote with random or grid")
        if self.max_concurrent is not None:
            raise UsageError("--max-concurrent counts the trials asha-promote keeps waiting at "
                             "its rungs, so they would fill it; limit trials at once with "
                             "--cpus-per-trial")

    def check_population(self) -> None:
        """PBT / PB2 flags: Ray's population schedulers take no search algorithm, and a
        trial copies another's checkpoint at each perturbation, so one must be there."""
        if self.search == "optuna":
            raise UsageError(f"--scheduler {self.scheduler} chooses its own configurations "
                             "(Ray refuses a search algorithm beside it); use --search random "
                             "or grid for the initial population")
        if not 1 <= self.perturbation_interval < self.max_epochs:
            raise UsageError(f"--perturbation-interval must be from 1 to --max-epochs - 1 "
                             f"({self.max_epochs - 1}), got {self.perturbation_interval}")
        if self.perturbation_interval % self.checkpoint_interval:
            raise UsageError(f"--perturbation-interval {self.perturbation_interval} must be a "
                             f"multiple of --checkpoint-every {self.checkpoint_interval}: a trial "
                             "copies another's checkpoint at each perturbation")
        check_mutable(self.mutations)


def check_finite(flag: str, value: float) -> None:
    if not math.isfinite(value):
        raise UsageError(f"{flag} must be a finite number, got {value}")


def check_name(name: str) -> None:
    """An experiment name is one folder name inside --storage-path, never a path."""
    if name in ("", ".", "..") or "/" in name or os.sep in name or "\0" in name:
        raise UsageError(f"--name {name!r} must be a single folder name (no '/', not '.' or "
                         "'..'); choose the parent folder with --storage-path")
