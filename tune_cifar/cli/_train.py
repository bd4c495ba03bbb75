"""``tune-cifar train`` (one configuration, or a PBT schedule replayed, without a search)
and ``tune-cifar keys`` (every hyperparameter a configuration may set)."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from pathlib import Path

from tune_cifar.cli._args import (
    add_command,
    add_data_flags,
    bool_flag,
    data_spec_from,
    folder_arg,
    here,
)
from tune_cifar.config import CUDA_GRAPH_CHOICES, KEYS, TrialConfig, format_keys_table
from tune_cifar.constants import TRAIN_CHECKPOINT_DIR, TRAIN_HISTORY_FILE
from tune_cifar.data import FIDELITY_KEYS, DataSpec
from tune_cifar.errors import UsageError

DATA_DEFAULT = "cifar10"  # train's --data without --replay


def add_train_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "train",
        "train one configuration, without a search",
        description="Train one configuration (the seed study's way) and write "
        "history.csv and a checkpoint. Key flags override --config.",
    )
    p.add_argument("--config", type=Path, default=None, help="JSON file of config keys")
    p.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="epochs to train (default 10; with --replay, up to the replayed epoch)",
    )
    p.add_argument(
        "--replay",
        type=folder_arg,
        default=None,
        metavar="EXP",
        help="train again from scratch the hyperparameter schedule of a PBT/PB2 "
        "experiment's best trial (its configuration changes at the epochs they "
        "happened, on the experiment's data), as Ray's "
        "PopulationBasedTrainingReplay does",
    )
    p.add_argument(
        "--trial",
        default=None,
        metavar="TRIAL_ID",
        help="with --replay: this trial's schedule (to its best epoch) instead of the best trial's",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty --out")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's, one per core)",
    )
    p.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    p.add_argument(
        "--cuda-graph",
        choices=CUDA_GRAPH_CHOICES,
        default="auto",
        help="train full batches by CUDA graph replay: auto (on for CUDA), on, off",
    )
    keys = p.add_argument_group("hyperparameters (see 'tune-cifar keys')")
    for key in KEYS:
        kind: Callable = bool_flag if key.type is bool else key.type
        keys.add_argument(
            f"--{key.name.replace('_', '-')}",
            dest=f"key_{key.name}",
            type=kind,
            default=None,
            choices=key.choices,
            metavar=key.name.upper(),
            help=f"{key.help} ({key.describe_range()}; default {key.default})",
        )
    add_data_flags(p, DATA_DEFAULT)
    p.set_defaults(func=cmd_train)


def cmd_train(args: argparse.Namespace) -> int:
    from tune_cifar.data import load_data
    from tune_cifar.train import (
        check_run,
        pick_device,
        prepare_out,
        read_config_file,
        train_one,
        use_cuda_graph,
    )

    check_run(args.epochs, args.threads)
    raw = read_config_file(args.config) if args.config else {}
    raw.update(
        {
            k.name: getattr(args, f"key_{k.name}")
            for k in KEYS
            if getattr(args, f"key_{k.name}") is not None
        }
    )
    schedule = None
    if args.replay is not None:
        from tune_cifar.results import replay_plan

        seed = raw.pop("seed", None)
        if raw:
            raise UsageError(
                "--replay trains the experiment's own schedule; leave out "
                "--config and the hyperparameter flags (--seed aside)"
            )
        plan = replay_plan(here(args.replay), args.trial, args.epochs)
        print(
            f"replaying trial {plan.trial_id} to its epoch {plan.epoch} (lineage "
            f"{plan.lineage}): {len(plan.schedule) - 1} configuration change(s)",
            flush=True,
        )
        schedule, data_spec, epochs = plan.schedule, replay_data(args, plan.data), plan.epochs
        if seed is not None:  # the same schedule as a new training run, its seed checked
            schedule = {
                e: TrialConfig.from_dict({**c.to_dict(), "seed": seed}) for e, c in schedule.items()
            }
        cfg = schedule[min(schedule)]
    else:
        if args.trial is not None:
            raise UsageError("--trial names a trial of the experiment given with --replay")
        cfg, data_spec, epochs = TrialConfig.from_dict(raw), data_spec_from(args), args.epochs
    use_cuda_graph(args.cuda_graph, pick_device(args.device))  # refuses "on" without CUDA
    bundle = load_data(data_spec)
    prepare_out(args.out, args.overwrite)
    history, best_epoch = train_one(
        cfg, bundle, epochs or 10, args.out, args.threads, args.device, args.cuda_graph, schedule
    )
    print(f"wrote {args.out / TRAIN_HISTORY_FILE} (epochs 1-{len(history)})")
    if best_epoch is None:
        print("no epoch had a finite val_acc: no checkpoint written")
        return 1
    best = history[best_epoch - 1]
    print(
        f"best val_acc {best['val_acc']:.4f} at epoch {best_epoch} of {len(history)}; wrote "
        f"{args.out / TRAIN_CHECKPOINT_DIR} (the state after epoch {best_epoch})"
    )
    return 0


def replay_data(args: argparse.Namespace, data: DataSpec) -> DataSpec:
    """The replayed experiment's data, read from where ``--data-dir`` / ``--download`` say
    if given; a flag that would change which images it is (``--data``, ``--val-size`` ...)
    is one UsageError line: the schedule is replayed on the data it was found on."""
    asked, default = data_spec_from(args), DataSpec(source=DATA_DEFAULT)
    changed = [
        "--data" if key == "source" else f"--{key.replace('_', '-')}"
        for key in FIDELITY_KEYS
        if getattr(asked, key) != getattr(default, key)
    ]
    if changed:
        raise UsageError(
            f"--replay trains on the experiment's own data; leave out {', '.join(changed)} "
            "(--data-dir and --download may say where to read it)"
        )
    return dataclasses.replace(
        data,
        data_dir=asked.data_dir or data.data_dir,
        download=asked.download or data.download,
    )


def add_keys_parser(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "keys", "list every hyperparameter key with its range and default")
    p.set_defaults(func=cmd_keys)


def cmd_keys(args: argparse.Namespace) -> int:
    print(format_keys_table())
    return 0
