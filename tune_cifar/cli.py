"""The ``tune-cifar`` command line.

    tune-cifar search --space quick --data sample --num-samples 4 --max-epochs 4
    tune-cifar train --model cnn_v4 --epochs 10 --data sample --out runs/v4
    tune-cifar spaces          # the built-in search spaces
    tune-cifar keys            # every hyperparameter key, its range and default
    tune-cifar analyze EXP     # frames, plots and a report (also: best, evaluate, predict)

Errors are one line on stderr: exit 2 for a bad request, 1 for a runtime failure
(``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tune_cifar.cli_args import Parser, add_data_flags, bool_flag, data_spec_from, folder_arg
from tune_cifar.config import CUDA_GRAPH_CHOICES, KEYS, TrialConfig, format_keys_table
from tune_cifar.errors import TuneCifarError, UsageError
from tune_cifar.results_cli import add_result_parsers
from tune_cifar.search_options import (
    DEFAULT_SAMPLES,
    DEFAULT_STORAGE,
    SCHEDULERS,
    SEARCHES,
    SearchOptions,
    check_name,
)
from tune_cifar.storage import storage_place

if TYPE_CHECKING:
    from tune_cifar.analysis.stability import RankStability
    from tune_cifar.tuner import SearchOutcome

# torch and Ray are imported by the commands that need them, not here: the parser, --help,
# keys and a refused search flag start without them (best, analyze and dashboard import Ray:
# they read Tune's trial folders through Ray's own reader).


def add_search_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="run a hyperparameter search with Ray Tune",
                       description="Run a Ray Tune search over a space of CNN configurations.")
    d = SearchOptions()
    p.add_argument("--space", default=d.space,
                   help="built-in space name (see 'tune-cifar spaces') or path to a .py file "
                        f"(default: {d.space})")
    p.add_argument("--search", choices=SEARCHES, default=d.search,
                   help="random (Ray's variant generator), grid (every choice combined) or "
                        "optuna (seeded multivariate TPE) (default: random)")
    p.add_argument("--scheduler", choices=SCHEDULERS, default=d.scheduler,
                   help="asha stops weak trials early; asha-promote keeps a trial waiting "
                        "(paused) at each rung until it ranks in the top 1/N of the trials "
                        "there; fifo runs every trial to the end; pbt "
                        "(population-based training) and pb2 (its GP-bandit form) restart weak "
                        "trials from strong ones' checkpoints with mutated hyperparameters")
    p.add_argument("--objective", default="val_acc", metavar="val_acc[,COST]",
                   help="what the search optimises: val_acc (default), or val_acc and a cost "
                        "to minimise at once (params, epoch_time or inference_ms): Optuna's "
                        "multi-objective TPE with --search optuna, ASHA still judging by "
                        "val_acc; analyze and best show the Pareto front")
    p.add_argument("--perturbation-interval", type=int, default=d.perturbation_interval,
                   metavar="EPOCHS",
                   help=f"pbt/pb2: epochs between a trial's exploit/explore steps (default "
                        f"{d.perturbation_interval})")
    p.add_argument("--mutate", default=None, metavar="KEY[,KEY...]",
                   help="pbt/pb2: the keys that may change while a trial trains (default: "
                        "every mutable key the space varies; 'tune-cifar keys' marks them)")
    p.add_argument("--stopped-as", choices=("pruned", "complete"), default=d.stopped_as,
                   help="--search optuna with asha: tell TPE that a trial ASHA stopped was "
                        "pruned (default), or complete with its last value (Ray's "
                        "OptunaSearch default, for comparison)")
    p.add_argument("--num-samples", type=int, default=None,
                   help=f"trials to sample (default {DEFAULT_SAMPLES}; for grid and fixed "
                        "lists: repeats, 1)")
    p.add_argument("--startup-trials", type=int, default=None, metavar="N",
                   help="--search optuna: trials TPE samples at random before it models the "
                        "results (default: Optuna's 10, or half of --num-samples when that is "
                        "under 20)")
    p.add_argument("--max-epochs", type=int, default=d.max_epochs,
                   help=f"epochs per trial at most; ASHA's max_t (default {d.max_epochs})")
    p.add_argument("--grace-period", type=int, default=d.grace_period,
                   help="ASHA: epochs before a trial can be stopped (default 1)")
    p.add_argument("--reduction-factor", type=int, default=d.reduction_factor,
                   help="ASHA: keep 1/N of the trials at each rung (default 3)")
    p.add_argument("--max-concurrent", type=int, default=None,
                   help="trials running at once at most (default: as resources allow)")
    p.add_argument("--cpus-per-trial", type=int, default=d.cpus_per_trial,
                   help="CPUs (and torch threads) per trial (default 1)")
    p.add_argument("--gpus-per-trial", type=float, default=None,
                   help="GPU share per trial, e.g. 0.25 (default where there are GPUs: "
                        "measured, as many trials per GPU as fit in its memory and have a CPU "
                        "core; else 0)")
    p.add_argument("--storage-path", default=d.storage_path,
                   help=f"where experiments go: a local folder or a shared path "
                        f"(default: {DEFAULT_STORAGE})")
    p.add_argument("--name", default=None,
                   help="experiment name: one folder name inside --storage-path (default: "
                        "SPACE-YYYYmmdd-HHMMSS)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing experiment of the same name")
    p.add_argument("--resume", action="store_true",
                   help="continue the existing experiment of this --name (as 'tune-cifar "
                        "resume')")
    p.add_argument("--seed", type=int, default=d.seed,
                   help="seed of the search algorithm and of every trial (default 0)")
    p.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop starting trials and end the search after this many seconds")
    p.add_argument("--cuda-graph", choices=CUDA_GRAPH_CHOICES, default=d.cuda_graph,
                   help="train the full batches of GPU trials by CUDA graph replay: auto (on "
                        "for GPU trials; default), on, off")
    p.add_argument("--epoch-budget", type=int, default=None, metavar="TRIAL_EPOCHS",
                   help="end the search once its trials have trained this many epochs in all "
                        "(the seed study spent 340)")
    p.add_argument("--address", default=None,
                   help="join an existing Ray cluster (e.g. 'auto' or HOST:PORT; default: "
                        "RAY_ADDRESS if set, else a Ray of this search's own)")
    p.add_argument("--keep-checkpoints", type=int, default=None,
                   help="checkpoints kept per trial: the best N by val_acc, plus the latest "
                        "(default 2; pbt/pb2: 4, since trials copy each other's)")
    p.add_argument("--checkpoint-every", type=int, default=None, metavar="N",
                   help="checkpoint a trial every N epochs and at its last (default 1; more "
                        "saves disk writes when epochs take a second, as on a GPU; a resumed "
                        "trial goes back to its last checkpoint)")
    p.add_argument("--warm-start", nargs="+", default=(), metavar="EXP",
                   help="with --search optuna: tell TPE the finished trials of these earlier "
                        "experiments (folders or s3:// URIs) before it suggests, or 'seed': run "
                        "the seed study's configurations first")
    p.add_argument("--max-failures", type=int, default=d.max_failures,
                   help="retries of a crashed trial from its last checkpoint (default 2)")
    p.add_argument("--progress-interval", type=float, default=d.progress_interval_s,
                   help="seconds between progress lines when nothing changes (default 30)")
    add_data_flags(p)
    p.set_defaults(func=cmd_search)


def cmd_search(args: argparse.Namespace) -> int:
    opts = SearchOptions(
        space=args.space, search=args.search, scheduler=args.scheduler,
        num_samples=args.num_samples, max_epochs=args.max_epochs,
        grace_period=args.grace_period, reduction_factor=args.reduction_factor,
        max_concurrent=args.max_concurrent, cpus_per_trial=args.cpus_per_trial,
        gpus_per_trial=args.gpus_per_trial, storage_path=args.storage_path, name=args.name,
        seed=args.seed, time_budget=args.time_budget, address=args.address,
        keep_checkpoints=args.keep_checkpoints, max_failures=args.max_failures,
        overwrite=args.overwrite, progress_interval_s=args.progress_interval,
        stopped_as=args.stopped_as, epoch_budget=args.epoch_budget,
        cuda_graph=args.cuda_graph, checkpoint_every=args.checkpoint_every,
        warm_start=tuple(args.warm_start), startup_trials=args.startup_trials,
        perturbation_interval=args.perturbation_interval,
        mutations=tuple(k for k in (args.mutate or "").split(",") if k),
        objective=tuple(k.strip() for k in args.objective.split(",")),
    )
    opts.check()  # a bad flag is refused before torch and Ray are even imported
    from tune_cifar.tuner import run_search

    if args.resume:
        from tune_cifar.tuner import resume_search

        if args.name is not None:
            check_name(args.name)
        place = storage_place(opts.storage_path, "--storage-path").child(args.name or "")
        if args.name is None or not place.exists():
            raise UsageError("--resume needs the --name (and --storage-path) of an existing "
                             "experiment")
        return report_outcome(resume_search(place.local if place.is_local else place.uri))
    return report_outcome(run_search(opts, data_spec_from(args), argv=sys.argv))


def report_outcome(outcome: SearchOutcome) -> int:
    """Print how a search ended; 130 when it was interrupted before every trial finished."""
    from tune_cifar.tuner import raise_if_all_failed

    for error in outcome.errors:
        print(f"trial error: {error}", file=sys.stderr)
    resume = f"tune-cifar resume {outcome.experiment_path}"
    interrupted = outcome.unfinished and (outcome.interrupted or outcome.budget is None)
    if outcome.storage_full is not None:
        print(f"search stopped: the storage at {outcome.experiment_path.parent} is full "
              f"({outcome.storage_full}); {outcome.unfinished} trials unfinished, every "
              f"complete checkpoint kept. Free space there, then continue with: {resume}",
              file=sys.stderr)
        if outcome.best is not None:
            print(f"so far: {outcome.best.summary().splitlines()[0]}")
        print(f"experiment: {outcome.experiment_path}")
        return 1
    if interrupted:
        print(f"search interrupted with {outcome.unfinished} trials unfinished; nothing "
              f"computed is lost. Continue with: {resume}", file=sys.stderr)
    elif outcome.budget == "time budget":
        print(f"time budget reached with {outcome.unfinished} trials unfinished; continue "
              f"with: {resume}", file=sys.stderr)
    elif outcome.budget == "epoch budget":
        print(f"epoch budget reached: {outcome.trial_epochs} trial-epochs", file=sys.stderr)
    raise_if_all_failed(outcome)
    print(f"{outcome.num_trials} trials; " + outcome.best.summary())
    if outcome.seed_style:
        print("  seed-style: validation was the test set, so this val_acc is a test accuracy "
              "selected on the test set")
    if outcome.compute is not None:
        print(outcome.compute.summary())
    stability = rank_stability_of(outcome.experiment_path)
    if stability is not None:
        print(stability.summary())
    print(f"experiment: {outcome.experiment_path}")
    return 130 if interrupted else 0


def rank_stability_of(location: Path | str) -> RankStability | None:
    """How early the experiment's ranking settled, once enough trials ran every epoch."""
    from tune_cifar.analysis import load_experiment
    from tune_cifar.analysis.stability import rank_stability
    from tune_cifar.experiment import local_target

    return rank_stability(load_experiment(local_target(location)))


def cmd_resume(args: argparse.Namespace) -> int:
    from tune_cifar.tuner import resume_search

    return report_outcome(resume_search(args.experiment, args.retry_errored))


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train one configuration, without a search",
                       description="Train one configuration (the seed study's way) and write "
                                   "history.csv and a checkpoint. Key flags override --config.")
    p.add_argument("--config", type=Path, default=None, help="JSON file of config keys")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs to train (default 10; with --replay, up to the replayed epoch)")
    p.add_argument("--replay", type=folder_arg, default=None, metavar="EXP",
                   help="train again from scratch the hyperparameter schedule of a PBT/PB2 "
                        "experiment's best trial (its configuration changes at the epochs they "
                        "happened, on the experiment's data), as Ray's "
                        "PopulationBasedTrainingReplay does")
    p.add_argument("--trial", default=None, metavar="TRIAL_ID",
                   help="with --replay: this trial's schedule (to its best epoch) instead of "
                        "the best trial's")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --out")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (default: torch's, one per core)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument("--cuda-graph", choices=CUDA_GRAPH_CHOICES, default="auto",
                   help="train full batches by CUDA graph replay: auto (on for CUDA), on, off")
    keys = p.add_argument_group("hyperparameters (see 'tune-cifar keys')")
    for key in KEYS:
        kind: Callable = bool_flag if key.type is bool else key.type
        keys.add_argument(f"--{key.name.replace('_', '-')}", dest=f"key_{key.name}", type=kind,
                          default=None, choices=key.choices, metavar=key.name.upper(),
                          help=f"{key.help} ({key.describe_range()}; default {key.default})")
    add_data_flags(p)
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from tune_cifar.data import load_data
    from tune_cifar.train_one import (
        CHECKPOINT_DIR,
        check_run,
        prepare_out,
        read_config_file,
        train_one,
    )
    from tune_cifar.training import pick_device, use_cuda_graph

    check_run(args.epochs, args.threads)
    raw = read_config_file(args.config) if args.config else {}
    raw.update({k.name: getattr(args, f"key_{k.name}") for k in KEYS
                if getattr(args, f"key_{k.name}") is not None})
    schedule = None
    if args.replay is not None:
        from tune_cifar.results_cli import replay_plan

        seed = raw.pop("seed", None)
        if raw:
            raise UsageError("--replay trains the experiment's own schedule; leave out "
                             "--config and the hyperparameter flags (--seed aside)")
        schedule, data_spec, epochs = replay_plan(args.replay, args.trial, args.epochs)
        if seed is not None:  # the same schedule as a new training run
            schedule = {e: dataclasses.replace(c, seed=seed) for e, c in schedule.items()}
        cfg = schedule[min(schedule)]
    else:
        if args.trial is not None:
            raise UsageError("--trial names a trial of the experiment given with --replay")
        cfg, data_spec, epochs = TrialConfig.from_dict(raw), data_spec_from(args), args.epochs
    use_cuda_graph(args.cuda_graph, pick_device(args.device))  # refuses "on" without CUDA
    bundle = load_data(data_spec)
    prepare_out(args.out, args.overwrite)
    history, best_epoch = train_one(cfg, bundle, epochs or 10, args.out, args.threads,
                                    args.device, args.cuda_graph, schedule)
    print(f"wrote {args.out / 'history.csv'} (epochs 1-{len(history)})")
    if best_epoch is None:
        print("no epoch had a finite val_acc: no checkpoint written")
        return 1
    best = history[best_epoch - 1]
    print(f"best val_acc {best['val_acc']:.4f} at epoch {best_epoch} of {len(history)}; wrote "
          f"{args.out / CHECKPOINT_DIR} (the state after epoch {best_epoch})")
    return 0


def cmd_spaces(args: argparse.Namespace) -> int:
    from tune_cifar.spaces import builtin_spaces, load_space

    spaces = [load_space(args.show)] if args.show else builtin_spaces()
    width = max(len(s.name) for s in spaces)
    for space in spaces:
        print(f"{space.name:<{width}}  {space.description}")
        if args.show:
            print(f"  {space.describe()}" if space.points is None else "")
            for point in space.points or []:
                print(f"  {json.dumps(point)}")
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    print(format_keys_table())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tune-cifar",
        description="Hyperparameter search for the seed study's CIFAR-10 CNNs on Ray Tune.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_search_parser(sub)
    add_train_parser(sub)
    p = sub.add_parser("spaces", help="list the built-in search spaces")
    p.add_argument("show", nargs="?", default=None, help="a space name or file to show in full")
    p.set_defaults(func=cmd_spaces)
    p = sub.add_parser("keys", help="list every hyperparameter key with its range and default")
    p.set_defaults(func=cmd_keys)
    p = sub.add_parser(
        "resume", help="continue an interrupted search",
        description="Continue a search stopped by Ctrl-C, a killed driver or a reboot: "
                    "unfinished trials continue from their last checkpoints, finished trials "
                    "stay finished. Tune's experiment state is pickled, and Ray advises to "
                    "restore only folders you trust: tune-cifar first checks that the folder "
                    "holds its own spec file, and reads data and flags from it.")
    p.add_argument("experiment", type=folder_arg, help="experiment folder (or file:// URI)")
    p.add_argument("--retry-errored", action="store_true",
                   help="also retry errored trials from their last checkpoints")
    p.set_defaults(func=cmd_resume)
    add_result_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except TuneCifarError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"tune-cifar: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tune-cifar: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head and the like
        sys.stderr.close()
        return 0
    except Exception as exc:  # a bug or an unforeseen failure: still one line unless --debug
        if args.debug:
            raise
        print(f"tune-cifar: internal error: {type(exc).__name__}: {exc} (run with --debug "
              "for the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
