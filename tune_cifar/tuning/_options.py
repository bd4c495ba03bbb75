"""What a search is asked to do: ``SearchOptions``, every ``tune-cifar search`` flag besides
the data flags, described once: each field's default, help, flag form and checks are its
metadata (``option``), from which the command line builds its parser and the reference its
table (``docs/cli.md``), and which the spec file records.

    opts = SearchOptions(space="quick", num_samples=4, max_epochs=4)
    opts.check()                      # one UsageError line per bad value
    for f in option_fields(): print(f.flag, f.help)

Imports neither torch nor Ray, so that the command line builds its parser and refuses a bad
request without them.
"""

from __future__ import annotations

import base64
import importlib.util
import math
import os
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from tune_cifar.config import CUDA_GRAPH_CHOICES, check_mutable
from tune_cifar.errors import UsageError
from tune_cifar.metrics import COSTS, METRIC, POPULATION_SCHEDULERS, RUNG_SCHEDULERS, asha_rungs

SEARCHES = ("random", "grid", "optuna", "priorband")
PRIOR_CONFIDENCES = ("low", "medium", "high")
PRIOR_MODES = ("first-rung", "full-budget", "none")  # --prior-mode: where the mode is trained
SCHEDULERS = ("asha", "asha-promote", "fifo", *POPULATION_SCHEDULERS)
STOPPED_AS = ("pruned", "complete")
DEFAULT_STORAGE = "~/tune-cifar-results"
DEFAULT_SAMPLES = 8  # --num-samples of a random or Optuna search
PERTURBATION_INTERVAL = 2  # --perturbation-interval of pbt / pb2, in epochs
# Fields of SearchOptions under their former names, as older spec files record them.
RENAMED = {"mutations": "mutate", "progress_interval_s": "progress_interval"}


def option(
    default: Any,
    help: str,
    *,
    group: str,
    metavar: str | None = None,
    choices: tuple[Any, ...] | None = None,
    default_text: str | None = None,
    positive: bool = False,
    sep: str | None = None,
    nargs: str | None = None,
) -> Any:
    """A SearchOptions field and its flag: ``help`` (the default is added to it, as
    ``default_text`` where the default is computed), its ``group`` in ``--help``, and what
    the flag takes: a ``metavar``, ``choices``, a list in one argument (``sep``) or in several
    (``nargs``); ``positive``: a value given must be above 0 (and finite)."""
    return field(
        default=default,
        metadata={
            "help": help,
            "group": group,
            "metavar": metavar,
            "choices": choices,
            "default_text": default_text,
            "positive": positive,
            "sep": sep,
            "nargs": nargs,
        },
    )


@dataclass(frozen=True)
class OptionField:
    """One SearchOptions field as the command line and the reference see it."""

    name: str  # the field, and the Python keyword
    flag: str  # --the-field
    type: type  # int, float, str, bool (a switch) or tuple (a list of str)
    default: Any
    help: str
    group: str
    metavar: str | None
    choices: tuple[Any, ...] | None
    default_text: str | None
    positive: bool
    sep: str | None
    nargs: str | None

    @property
    def shown_default(self) -> str:
        """The default as a person reads it."""
        if self.default_text is not None:
            return self.default_text
        if self.type is bool:
            return "off"
        if self.type is tuple:
            return ",".join(self.default) or "none"
        return "none" if self.default is None else str(self.default)

    @property
    def form(self) -> str:
        """How the flag is written: ``--scheduler asha|fifo|...``, ``--max-epochs N``."""
        if self.type is bool:
            return self.flag
        if self.choices is not None:
            return f"{self.flag} {'|'.join(map(str, self.choices))}"
        metavar = self.metavar or self.name.upper()
        return f"{self.flag} {metavar} [{metavar} ...]" if self.nargs else f"{self.flag} {metavar}"

    def parse(self, value: Any) -> Any:
        """The value the parser gave, as the field holds it (lists as tuples; a list flag not
        given: the field's default)."""
        if value is None and (self.sep is not None or self.nargs is not None):
            return self.default
        if self.sep is not None:
            parts = tuple(part.strip() for part in (value or "").split(self.sep) if part.strip())
            if not parts:  # given, but naming nothing ("--mutate="): not the default
                raise UsageError(
                    f"{self.flag} names nothing; leave it out for its default "
                    f"({self.shown_default})"
                )
            return parts
        if self.nargs is not None:
            return tuple(value or ())
        return value


_TYPES = {"int": int, "float": float, "str": str, "bool": bool}


def _field_type(annotation: str) -> type:
    """A field's annotation (a string, under ``from __future__ import annotations``) as the
    type its flag parses: "int | None" -> int, "tuple[str, ...]" -> tuple."""
    if annotation.startswith("tuple"):
        return tuple
    return _TYPES[annotation.split(" | ")[0]]


# --tracker NAME[=WHERE]: Ray Tune's logger callback of that tracker, and what WHERE names
TRACKERS = {"mlflow": "URI", "wandb": "PROJECT"}
MLFLOW_URI_ENV = "MLFLOW_TRACKING_URI"  # MLflow's own setting of where it logs
# W&B's own settings: its mode, API key, server, project, run folder and entity
WANDB_MODE_ENV, WANDB_KEY_ENV, WANDB_URL_ENV = "WANDB_MODE", "WANDB_API_KEY", "WANDB_BASE_URL"
WANDB_PROJECT_ENV, WANDB_DIR_ENV, WANDB_ENTITY_ENV = "WANDB_PROJECT", "WANDB_DIR", "WANDB_ENTITY"
WANDB_LOCAL_MODES = ("offline", "disabled", "dryrun")  # W&B modes that need no account


def check_wandb_credentials() -> None:
    """Online W&B needs an API key ($WANDB_API_KEY, or the netrc entry 'wandb login' writes
    for its host) before any trial runs; offline W&B writes its runs to files and needs none.
    (Whether W&B accepts the key is asked of its server only when a run starts.)"""
    import netrc
    import urllib.parse

    if os.environ.get(WANDB_MODE_ENV, "") in WANDB_LOCAL_MODES or os.environ.get(WANDB_KEY_ENV):
        return
    host = urllib.parse.urlparse(os.environ.get(WANDB_URL_ENV, "https://api.wandb.ai")).hostname
    try:
        if netrc.netrc().authenticators(host or ""):
            return
    except (OSError, netrc.NetrcParseError):
        pass
    raise UsageError(
        "--tracker wandb needs W&B credentials: run 'wandb login' or set WANDB_API_KEY "
        "(or WANDB_MODE=offline to write the runs to files only)"
    )


def check_mlflow_server(uri: str) -> None:
    """An http(s) tracking server must answer, and accept the credentials MLflow would send
    ($MLFLOW_TRACKING_USERNAME / _PASSWORD, or _TOKEN), before any trial runs; a local URI
    (a folder, sqlite:) is MLflow's to create."""
    if not uri.startswith(("http://", "https://")):
        return
    request = urllib.request.Request(
        uri.rstrip("/") + "/api/2.0/mlflow/experiments/search?max_results=1"
    )
    user, password = (os.environ.get(f"MLFLOW_TRACKING_{k}") for k in ("USERNAME", "PASSWORD"))
    if user and password:
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    elif os.environ.get("MLFLOW_TRACKING_TOKEN"):
        request.add_header("Authorization", f"Bearer {os.environ['MLFLOW_TRACKING_TOKEN']}")
    try:
        with urllib.request.urlopen(request, timeout=10):
            return
    except urllib.error.HTTPError as exc:
        why = "refused the credentials" if exc.code in (401, 403) else f"answered {exc.code}"
        raise UsageError(f"--tracker mlflow={uri}: the MLflow server {why}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UsageError(
            f"--tracker mlflow={uri}: no MLflow server answers there ({reason})"
        ) from None


@dataclass(frozen=True)
class SearchOptions:
    """Everything ``tune-cifar search`` takes besides the data flags, each field its flag
    (``num_samples`` is ``--num-samples``): the one description the parser, the reference
    and the checks read."""

    # -- what to search
    space: str = option(
        "full",
        "a built-in space (see 'tune-cifar spaces'), a .py file, or a .json file of "
        'fixed configurations ({"description": ..., "points": [{...}, ...]})',
        group="search",
        metavar="NAME|PATH",
    )
    search: str = option(
        "random",
        "random or grid: Ray's variant generator (grid combines every choice); "
        "optuna: seeded multivariate Optuna TPE; priorband: PriorBand, the --prior's mode "
        "first (see --prior-mode), then from the prior, uniformly or around the best so far, "
        "weighted by the evidence",
        group="search",
        choices=SEARCHES,
    )
    scheduler: str = option(
        None,  # (resolved at once: see __post_init__)
        "asha: Ray's ASHAScheduler stops weak trials at its rungs; asha-promote: a "
        "trial waits, paused, at each rung until it ranks in the top 1/N there (ASHA's "
        "paper); fifo: every trial to the end; pbt / pb2: population-based training, weak "
        "trials restart from strong ones' checkpoints with mutated hyperparameters (PB2: a "
        "GP bandit picks the new values)",
        group="search",
        choices=SCHEDULERS,
        default_text="asha-promote, measured best (docs/benchmarks.md); asha with --search "
        "optuna or --max-concurrent",
    )
    objective: tuple[str, ...] = option(
        (METRIC,),
        "what the search optimises: val_acc, or val_acc and a cost to minimise at "
        f"once ({', '.join(COSTS)}): Optuna's multi-objective TPE with --search optuna, ASHA "
        "still judging by val_acc; analyze and best show the Pareto front",
        group="search",
        metavar="val_acc[,COST]",
        sep=",",
    )
    num_samples: int | None = option(
        None,
        "trials to run; for a grid or a fixed list: repeats of every configuration, "
        "the r-th with seed + r (a new training run each)",
        group="search",
        metavar="N",
        default_text=f"{DEFAULT_SAMPLES}; grid and fixed lists: 1",
        positive=True,
    )
    max_epochs: int = option(
        10, "epochs per trial at most (ASHA's max_t)", group="search", metavar="N", positive=True
    )
    seed: int = option(
        0, "seed of the search algorithm and of every trial", group="search", metavar="N"
    )
    startup_trials: int | None = option(
        None,
        "--search optuna: trials TPE samples at random before it models the results "
        "(Optuna's n_startup_trials)",
        group="search",
        metavar="N",
        default_text="Optuna's 10, or half of --num-samples under 20",
    )
    stopped_as: str = option(
        "pruned",
        "--search optuna with asha: tell TPE that a trial ASHA stopped was pruned, "
        "or complete with its last value (Ray's OptunaSearch, for comparison)",
        group="search",
        choices=STOPPED_AS,
    )
    warm_start: tuple[str, ...] = option(
        (),
        "--search optuna: tell TPE the finished trials of these earlier experiments "
        "(folders or s3:// URIs) before it suggests, or 'seed': run the seed study's "
        "configurations first",
        group="search",
        metavar="EXP",
        nargs="+",
    )
    prior: str | None = option(
        None,
        "--search priorband: where good configurations are believed to lie: 'seed' (the "
        "seed study's best run, 6), 'seed:N' (its run N), an earlier experiment (its best "
        'trial), or a .json file of {KEY: {"value": V, "confidence": '
        '"low|medium|high"}}',
        group="search",
        metavar="seed|EXP|FILE",
    )
    prior_confidence: str = option(
        "medium",
        "--prior seed or EXP: how surely every searched key is believed (a file gives its "
        "own per key): the spread of the prior around each value",
        group="search",
        choices=PRIOR_CONFIDENCES,
    )
    prior_mode: str = option(
        "first-rung",
        "--search priorband: the prior's mode (the believed configuration itself) as the "
        "first trial: started at the first rung and judged there as every other trial "
        "(neps: sample_prior_first), trained to --max-epochs whatever its rank (neps' first "
        "PriorBand: sample_default_at_target), or never drawn (neps' priorband default)",
        group="search",
        choices=PRIOR_MODES,
        default_text="first-rung, measured best of the three (docs/benchmarks.md)",
    )
    # -- early stopping and population-based training
    grace_period: int = option(
        1,
        "asha, asha-promote: epochs before a trial may be stopped",
        group="scheduler",
        metavar="N",
        positive=True,
    )
    reduction_factor: int = option(
        3, "asha, asha-promote: keep 1/N of the trials at each rung", group="scheduler", metavar="N"
    )
    perturbation_interval: int | None = option(
        None,  # (2 under pbt / pb2: see __post_init__; None elsewhere, where it means nothing)
        "pbt, pb2: epochs between a trial's exploit/explore steps",
        group="scheduler",
        metavar="EPOCHS",
        default_text=str(PERTURBATION_INTERVAL),
    )
    mutate: tuple[str, ...] = option(
        (),
        "pbt, pb2: the keys that may change while a trial trains ('tune-cifar keys' marks them)",
        group="scheduler",
        metavar="KEY[,KEY...]",
        sep=",",
        default_text="every mutable key the space varies",
    )
    # -- budgets
    time_budget: float | None = option(
        None,
        "end the search in order after this long (unfinished trials stay resumable)",
        group="budget",
        metavar="SECONDS",
        positive=True,
    )
    epoch_budget: int | None = option(
        None,
        "end the search once its trials have trained this many epochs in all (the "
        "seed study spent 340)",
        group="budget",
        metavar="TRIAL_EPOCHS",
        positive=True,
    )
    # -- resources
    max_concurrent: int | None = option(
        None,
        "trials running at once at most",
        group="resources",
        metavar="N",
        default_text="as resources allow",
        positive=True,
    )
    cpus_per_trial: int = option(
        1, "CPUs (and torch threads) per trial", group="resources", metavar="N", positive=True
    )
    gpus_per_trial: float | None = option(
        None,
        "GPU share per trial, e.g. 0.25 (fractional below 1)",
        group="resources",
        metavar="F",
        default_text="with GPUs: measured, as many trials per GPU as fit in its "
        "memory and have a CPU core; else 0",
    )
    cuda_graph: str = option(
        "auto",
        "train the full batches of GPU trials by CUDA graph replay (auto: on for GPU trials)",
        group="resources",
        choices=CUDA_GRAPH_CHOICES,
    )
    nice: int | None = option(
        None,
        "niceness of the trial processes, -20 (first) to 19 (only what is idle); a "
        "cluster's workers start at its own (RAY_worker_niceness) and may only go higher",
        group="resources",
        metavar="N",
        default_text="the driver's; Ray's own, 15, lets other work starve the trials",
    )
    address: str | None = option(
        None,
        "join an existing Ray cluster ('auto', or HOST:PORT)",
        group="resources",
        metavar="ADDRESS",
        default_text="RAY_ADDRESS if set, else a Ray of the search's own",
    )
    # -- where results go
    storage_path: str = option(
        DEFAULT_STORAGE,
        "where experiments go: a local folder, a shared path, a file:// URI "
        "or object storage (s3://BUCKET/PREFIX, gs://...)",
        group="storage",
        metavar="PATH",
    )
    name: str | None = option(
        None,
        "experiment name: one folder name inside --storage-path",
        group="storage",
        metavar="NAME",
        default_text="SPACE-YYYYmmdd-HHMMSS",
    )
    overwrite: bool = option(
        False,
        "replace an existing experiment of that name (only a tune-cifar experiment, "
        "and only when no search, resume or confirmation runs in it)",
        group="storage",
    )
    keep_checkpoints: int | None = option(
        None,
        "checkpoints kept per trial: the best N by val_acc, plus the latest",
        group="storage",
        metavar="N",
        default_text="2; pbt, pb2: 4",
        positive=True,
    )
    checkpoint_every: int | None = option(
        None,
        "checkpoint a trial every N epochs and at its last (a resumed trial goes back to "
        "its last checkpoint)",
        group="storage",
        metavar="N",
        default_text="1",
        positive=True,
    )
    max_failures: int = option(
        2, "retries of a crashed trial from its last checkpoint", group="storage", metavar="N"
    )
    # -- output
    tracker: tuple[str, ...] = option(
        (),
        "log every trial to an experiment tracker as it trains, a run per trial with its "
        "hyperparameters, every epoch's metrics and its status, the search as the "
        "tracker's experiment (W&B: its group): mlflow (MLflow's tracking URI, "
        "$MLFLOW_TRACKING_URI) or mlflow=URI; wandb (project $WANDB_PROJECT, else "
        "tune-cifar) or wandb=PROJECT; needs pip install 'tune-cifar[mlflow]' or "
        "'tune-cifar[wandb]'",
        group="output",
        metavar="NAME[=WHERE]",
        nargs="+",
    )
    progress_interval: float = option(
        30.0,
        "seconds between progress lines when nothing changes",
        group="output",
        metavar="SECONDS",
        positive=True,
    )

    def __post_init__(self) -> None:
        # The default scheduler is the one the search-quality benchmark measured best:
        # random search with asha-promote beat the seed study on each of 5 search seeds
        # (test 0.603, standard error 0.006 over the seeds, against 0.582; random search with
        # Ray's ASHA 0.585, standard error 0.017 over 5). TPE learns
        # only from ended trials and a limit on live trials would fill with waiting ones:
        # beside those, Ray's ASHA.
        if self.scheduler is None:
            promote = self.search != "optuna" and self.max_concurrent is None
            object.__setattr__(self, "scheduler", "asha-promote" if promote else "asha")
        if self.population and self.perturbation_interval is None:
            object.__setattr__(self, "perturbation_interval", PERTURBATION_INTERVAL)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SearchOptions:
        """The options as a spec file recorded them (lists as lists; fields of older
        releases under their former names); a field this release does not know is one
        UsageError line."""
        values = {RENAMED.get(k, k): v for k, v in record.items()}
        if values.get("scheduler") not in POPULATION_SCHEDULERS:  # (older releases recorded
            values["perturbation_interval"] = None  # its default 2 for every search)
        known = {f.name: f for f in option_fields()}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise UsageError(
                f"the spec file records options this release does not know: {', '.join(unknown)}"
            )
        kwargs: dict[str, Any] = {
            k: tuple(v) if known[k].type is tuple and v is not None else v
            for k, v in values.items()
        }
        return cls(**kwargs)

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

    def trial_niceness(self) -> int:
        """The niceness trial processes run at: ``nice``, else the driver's own."""
        return self.nice if self.nice is not None else os.getpriority(os.PRIO_PROCESS, 0)

    def ray_address(self) -> tuple[str | None, str]:
        """The Ray cluster to join and what named it: ``--address`` (named ""), else
        ``RAY_ADDRESS`` (as Ray's own tools and ``ray job submit`` set it), else None: a Ray
        of this search's own, never one that happens to run on this machine."""
        if self.address:
            return self.address, ""
        return os.environ.get("RAY_ADDRESS") or None, "RAY_ADDRESS"

    def check(self) -> None:
        """Raise a one-line UsageError for any flag out of range: first what each field's
        description says (its choices, finite, positive), then how the flags go together."""
        for f in option_fields():
            value = getattr(self, f.name)
            if f.choices is not None and value not in f.choices:
                raise UsageError(
                    f"{f.flag} must be one of {', '.join(map(str, f.choices))}, not {value!r}"
                )
            if f.type in (int, float) and value is not None:
                check_finite(f.flag, value)
                if f.positive and value <= 0:
                    raise UsageError(f"{f.flag} must be positive, got {value}")
        if self.scheduler in RUNG_SCHEDULERS and self.grace_period > self.max_epochs:
            raise UsageError(
                f"--grace-period {self.grace_period} is above --max-epochs {self.max_epochs}"
            )
        if self.reduction_factor < 2:
            raise UsageError(f"--reduction-factor must be at least 2, got {self.reduction_factor}")
        if self.gpus_per_trial is not None and self.gpus_per_trial < 0:
            raise UsageError(f"--gpus-per-trial must be >= 0, got {self.gpus_per_trial}")
        if self.nice is not None and not -20 <= self.nice <= 19:
            raise UsageError(f"--nice must be in -20..19 (Unix niceness), got {self.nice}")
        if self.max_failures < 0:
            raise UsageError(f"--max-failures must be >= 0, got {self.max_failures}")
        if not 0 <= self.seed < 2**31:
            raise UsageError(f"--seed must be in [0, 2**31 - 1], got {self.seed}")
        if self.name is not None:
            check_name(self.name)
        if self.scheduler in POPULATION_SCHEDULERS:
            self.check_population()
        else:
            given = [
                flag
                for flag, value in (
                    ("--perturbation-interval", self.perturbation_interval),
                    ("--mutate", self.mutate or None),
                )
                if value is not None
            ]
            if given:
                raise UsageError(
                    f"{' and '.join(given)} "
                    f"{'steer' if len(given) > 1 else 'steers'} population-based training: "
                    f"give {'them' if len(given) > 1 else 'it'} with --scheduler pbt or pb2, "
                    f"not {self.scheduler}"
                )
        self.check_objective()
        if self.startup_trials is not None:
            if self.search != "optuna":
                raise UsageError(
                    "--startup-trials needs --search optuna (TPE's random first "
                    "trials); random and grid searches are all random already"
                )
            if self.startup_trials < 1:
                raise UsageError(f"--startup-trials must be positive, got {self.startup_trials}")
        if self.scheduler == "asha-promote":
            self.check_promotion()
        self.check_prior()
        self.check_trackers()
        if self.warm_start and self.search != "optuna":
            raise UsageError(
                "--warm-start needs --search optuna: random and grid searches do "
                "not learn from earlier trials"
            )

    @property
    def cost(self) -> str | None:
        """The cost a multi-objective search minimises beside val_acc (None: val_acc only)."""
        return self.objective[1] if len(self.objective) > 1 else None

    def check_objective(self) -> None:
        if (
            not self.objective
            or self.objective[0] != METRIC
            or len(self.objective) > 2
            or (len(self.objective) == 2 and self.objective[1] not in COSTS)
        ):
            raise UsageError(
                f"--objective must be {METRIC} or {METRIC},COST with COST one of "
                f"{', '.join(COSTS)}; got {','.join(self.objective)!r}"
            )
        if self.cost and any(w != "seed" for w in self.warm_start):
            raise UsageError(
                "--warm-start EXP tells TPE earlier val_acc values only; it cannot "
                "start a multi-objective search (--warm-start seed can)"
            )
        if self.cost and self.population:
            raise UsageError(
                f"--scheduler {self.scheduler} ranks its population by {METRIC} "
                "alone; use --objective with asha or fifo"
            )

    def check_prior(self) -> None:
        """PriorBand needs a prior, draws its configurations itself (no warm start, no
        population scheduler) and learns at the rungs of successive halving."""
        if self.search == "priorband":
            if self.prior is None:
                raise UsageError(
                    "--search priorband needs --prior: seed (the seed study's "
                    "best run), seed:N, an earlier experiment, or a .json file"
                )
            if self.scheduler not in RUNG_SCHEDULERS:
                raise UsageError(
                    f"--search priorband learns at successive halving's rungs; "
                    f"use --scheduler {' or '.join(RUNG_SCHEDULERS)}, not "
                    f"{self.scheduler}"
                )
            if self.cost:
                raise UsageError(
                    "--search priorband ranks by val_acc alone; use --objective "
                    "with --search optuna or random"
                )
        elif self.prior is not None:
            raise UsageError("--prior is PriorBand's belief: give it with --search priorband")

    def check_trackers(self) -> None:
        """Each --tracker known, its package installed and its server answering, before
        Ray starts (a tracker that refused the search's first trial would fail them all)."""
        names = [t.partition("=")[0] for t in self.tracker]
        for entry, name in zip(self.tracker, names, strict=True):
            if name not in TRACKERS:
                raise UsageError(
                    f"--tracker {entry}: unknown tracker {name!r}; use "
                    + " or ".join(f"{t}[={where}]" for t, where in TRACKERS.items())
                )
            if names.count(name) > 1:
                raise UsageError(f"--tracker {name} is given twice; give it once")
            if importlib.util.find_spec(name) is None:
                raise UsageError(
                    f"--tracker {name} needs the {name} package: pip install 'tune-cifar[{name}]'"
                )
            if name == "mlflow":
                check_mlflow_server(entry.partition("=")[2] or os.environ.get(MLFLOW_URI_ENV, ""))
            else:
                check_wandb_credentials()

    def check_promotion(self) -> None:
        """asha-promote keeps trials waiting, paused, at its rungs: neither TPE (it learns from
        ended trials) nor a limit on live trials (waiting ones count) works beside that."""
        if self.search == "optuna":
            raise UsageError(
                "--scheduler asha-promote pauses trials at its rungs, and TPE "
                "learns only from ended trials; use --scheduler asha with "
                "--search optuna, or asha-promote with random, grid or priorband"
            )
        if self.max_concurrent is not None:
            raise UsageError(
                "--max-concurrent counts the trials asha-promote keeps waiting at "
                "its rungs, so they would fill it; limit trials at once with "
                "--cpus-per-trial"
            )

    def check_population(self) -> None:
        """PBT / PB2 flags: Ray's population schedulers take no search algorithm, and a
        trial copies another's checkpoint at each perturbation, so one must be there."""
        if self.search == "optuna":
            raise UsageError(
                f"--scheduler {self.scheduler} chooses its own configurations "
                "(Ray refuses a search algorithm beside it); use --search random "
                "or grid for the initial population"
            )
        assert self.perturbation_interval is not None  # (set by __post_init__)
        if not 1 <= self.perturbation_interval < self.max_epochs:
            raise UsageError(
                f"--perturbation-interval must be from 1 to --max-epochs - 1 "
                f"({self.max_epochs - 1}), got {self.perturbation_interval}"
            )
        if self.perturbation_interval % self.checkpoint_interval:
            raise UsageError(
                f"--perturbation-interval {self.perturbation_interval} must be a "
                f"multiple of --checkpoint-every {self.checkpoint_interval}: a trial "
                "copies another's checkpoint at each perturbation"
            )
        check_mutable(self.mutate)


def check_finite(flag: str, value: float) -> None:
    if not math.isfinite(value):
        raise UsageError(f"{flag} must be a finite number, got {value}")


def check_name(name: str) -> None:
    """An experiment name is one folder name inside --storage-path, never a path."""
    if name in ("", ".", "..") or "/" in name or os.sep in name or "\0" in name:
        raise UsageError(
            f"--name {name!r} must be a single folder name (no '/', not '.' or "
            "'..'); choose the parent folder with --storage-path"
        )


def option_fields() -> list[OptionField]:
    """Every SearchOptions field with its flag, in the order ``--help`` shows them."""
    return [
        OptionField(
            name=f.name,
            flag="--" + f.name.replace("_", "-"),
            type=_field_type(str(f.type)),
            default=f.default,
            **f.metadata,
        )
        for f in fields(SearchOptions)
    ]


def options_from_flags(values: Mapping[str, Any]) -> SearchOptions:
    """SearchOptions from parsed flags (``vars(args)``: one value per field, as the parser
    built by the command line gives them; lists still in their flag's text)."""
    return SearchOptions(**{f.name: f.parse(values[f.name]) for f in option_fields()})
