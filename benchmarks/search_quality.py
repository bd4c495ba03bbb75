"""Does a search beat the hand-tuned seed study at equal cost? Every arm, one budget.

On the same data and machine, each arm may spend ``--budget`` trial-epochs (epochs trained,
summed over its runs, epochs a PBT trial trains again after a copy included; the seed study
spent 340), and each arm is run with ``--search-seeds`` seeds (a search is one sample of a
random process):

- ``seed``: the seed's six configurations (``seed_study`` space), one run at a time as the
  chapter ran them, each given the share of the budget its run had of the seed's epochs
  (50, 20, 20, 50, 50, 100 of 290; the 340 include its 50-epoch run of the shared-BatchNorm
  bug); its seeds are the runs' training seeds;
- ``random``: random search + ASHA over ``--space``;
- ``random-promote``: the same under ``--scheduler asha-promote`` (ASHA's promotions as its
  paper has them: a trial waits at a rung until it ranks in the top third of those there;
  Ray's ASHA sends the first trial at each rung on unopposed);
- ``tpe``: Optuna TPE + ASHA, ASHA-stopped trials told to TPE as pruned (the default); TPE
  samples its first 10 trials at random (Optuna's default; the search has 10,000 samples);
- ``tpe-start4``: the same, TPE modelling the results after 4 random trials
  (``--startup-trials 4``): within 100 trial-epochs a search runs about 10-20 trials;
- ``tpe-warm``: the same, the seed study's six configurations run first (``--warm-start
  seed``);
- ``pbt``, ``pb2``: a population of ``--population`` trials (random search) under Ray's PBT or
  PB2, perturbed every ``--perturbation-interval`` epochs, each trial up to budget /
  population epochs;
- ``tpe-complete``: TPE + ASHA with Ray's OptunaSearch default (stopped trials told as
  complete), for comparison;
- ``prior``: PriorBand under asha-promote (``--search priorband``), the seed study's best run
  (6) as the prior at medium confidence, its mode trained first to the full budget
  (``--prior-mode full-budget``);
- ``prior-bad``: the same with a deliberately wrong prior, the seed's run 1 (CNN_v2, plain
  SGD, no augmentation): it should do no worse than ``random-promote``;
- ``prior-rung``, ``prior-bad-rung``: the same two, the mode started at the first rung and
  judged there as every other trial (``--prior-mode first-rung``);
- ``prior-none``, ``prior-bad-none``: the same two, the mode never drawn (``--prior-mode
  none``, neps' default).

The default ``--space seed_ranges`` holds every seed configuration (so a search can find what
the hand-tuner found) and makes every mutable key a range (so PBT and PB2 move them all).

Every arm selects its best run and epoch on the holdout validation split. Its selected
configuration (for PBT and PB2: its hyperparameter schedule, replayed) is then re-trained with
``--confirm-seeds`` new seeds and each re-trained model's best-holdout-epoch is tested once on
the test set. The table reports, per arm, test accuracy as mean and sd over all its search
seeds x confirmation seeds, beside the holdout figure it selected by. With ``--val-source
test`` every arm selects on the test set instead, as the seed did (its 0.8941 is the best test
accuracy over 100 epochs): the figures are then seed-style, and labelled so.

Each arm-seed leaves ``OUT/ARM-sSEED.json`` (what it picked, its curve, its confirmation; its
search's experiment goes under ``--work``): ``--reuse`` reads those instead of running them
again, so arms can run in separate sittings (``--arms``). Writes ``table.md``, ``table.csv``,
``runs.csv`` and ``anytime.png`` (best holdout val_acc so far against trial-epochs spent, every
arm-seed).

    python benchmarks/search_quality.py --data-dir $TUNE_CIFAR_DATA --train-subset 2000 \\
        --val-size 1000 --budget 100 --max-epochs 16 --grace-period 2 --reuse  # CPU, ~2 h
    python benchmarks/search_quality.py --data-dir $TUNE_CIFAR_DATA --arms seed,pbt --reuse
    python benchmarks/search_quality.py --smoke-test          # a minute, for CI
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tune_cifar.analysis import anytime_curve
from tune_cifar.analysis._report import markdown_table
from tune_cifar.config import TrialConfig
from tune_cifar.data import DataBundle, DataSpec, load_data
from tune_cifar.hardware import describe_hardware, mean_spread
from tune_cifar.results import best_schedule, best_trial, load_trials
from tune_cifar.train import Trainer, evaluate
from tune_cifar.tuning import SearchOptions, load_space, run_search
from tune_cifar.tuning.ray import start_ray

# The seed chapter's runs 1-6; with its run 7 (the shared-BatchNorm bug, 50 epochs) they make
# its 340 epochs.
SEED_EPOCHS = (50, 20, 20, 50, 50, 100)


def seed_shares(budget: int) -> list[int]:
    """The budget split over the six runs in proportion to the seed's epochs (largest
    remainders first, so the shares sum to the budget; at least one epoch each)."""
    raw = [budget * e / sum(SEED_EPOCHS) for e in SEED_EPOCHS]
    shares = [max(1, math.floor(r)) for r in raw]
    for i in sorted(range(6), key=lambda i: raw[i] - math.floor(raw[i]), reverse=True):
        if sum(shares) >= budget:
            break
        shares[i] += 1
    return shares


def train_and_select(
    cfg: TrialConfig,
    epochs: int,
    bundle: DataBundle,
    on_epoch: Any = None,
    schedule: dict[int, TrialConfig] | None = None,
) -> dict[str, Any]:
    """Train ``cfg`` (changing to ``schedule[e]`` before epoch e: a PBT schedule replayed);
    the best validation epoch's model is tested once on the test set."""
    trainer = Trainer(cfg, bundle.training, epochs)
    best_val, best_epoch, best_state = -1.0, 0, None
    while not trainer.finished:
        trainer.follow(schedule or {})
        m = trainer.run_epoch()
        if on_epoch:
            on_epoch(m)
        if m["val_acc"] > best_val:
            best_val, best_epoch = m["val_acc"], m["epoch"]
            best_state = copy.deepcopy(trainer.model.state_dict())
        if m["diverged"]:
            break
    trainer.model.load_state_dict(best_state)
    test = evaluate(
        trainer.model,
        torch.from_numpy(bundle.test_x),
        torch.from_numpy(bundle.test_y),
        trainer.normalize,
        cfg.tta,
    )
    return {"val_acc": best_val, "epoch": best_epoch, "test_acc": test["acc"]}


def seed_arm(budget: int, bundle: DataBundle, seed: int) -> tuple[dict, list[dict]]:
    """The six runs one after another; returns the selected run and the anytime curve."""
    curve, spent, best, chosen = [], 0, -1.0, None
    for point, epochs in zip(load_space("seed_study").points, seed_shares(budget), strict=True):
        cfg = TrialConfig.from_dict({**point, "seed": seed})

        def on_epoch(m: dict) -> None:
            nonlocal spent, best
            spent += 1
            best = max(best, m["val_acc"])
            curve.append({"trial_epochs": spent, "best_val_acc": best})

        result = train_and_select(cfg, epochs, bundle, on_epoch)
        print(
            f"  seed study: {point} for {epochs} epochs: val_acc {result['val_acc']:.4f}",
            flush=True,
        )
        if chosen is None or result["val_acc"] > chosen["val_acc"]:
            chosen = {**result, "config": cfg.to_dict(), "epochs": epochs}
    return chosen, curve


ARMS: dict[str, dict[str, Any]] = {
    # arm -> SearchOptions it runs (the seed arm runs no search)
    "seed": {},
    "random": {"search": "random", "scheduler": "asha"},
    "random-promote": {"search": "random", "scheduler": "asha-promote"},
    "tpe": {"search": "optuna", "scheduler": "asha", "stopped_as": "pruned"},
    "tpe-start4": {
        "search": "optuna",
        "scheduler": "asha",
        "stopped_as": "pruned",
        "startup_trials": 4,
    },
    "tpe-warm": {"search": "optuna", "scheduler": "asha", "warm_start": ("seed",)},
    "pbt": {"search": "random", "scheduler": "pbt"},
    "pb2": {"search": "random", "scheduler": "pb2"},
    "tpe-complete": {"search": "optuna", "scheduler": "asha", "stopped_as": "complete"},
    **{
        # PriorBand: a good prior (run 6) and a wrong one (run 1), the mode at each placement
        f"{name}{suffix}": {
            "search": "priorband",
            "scheduler": "asha-promote",
            "prior": prior,
            "prior_mode": prior_mode,
        }
        for name, prior in (("prior", "seed"), ("prior-bad", "seed:1"))
        for suffix, prior_mode in (("", "full-budget"), ("-rung", "first-rung"), ("-none", "none"))
    },
}
DEFAULT_ARMS = ("seed", "random", "tpe", "tpe-warm", "pbt", "pb2")


def search_arm(
    arm: str,
    seed: int,
    args: argparse.Namespace,
    bundle: DataBundle,
    data_spec: DataSpec,
    folder: Path,
) -> tuple[dict, list[dict]]:
    """One search of ``arm`` until the budget; what it picked (configuration, or a PBT
    trial's schedule) and the anytime curve from every reported epoch in report order."""
    population = ARMS[arm]["scheduler"] in ("pbt", "pb2")
    opts = SearchOptions(
        space=args.space,
        num_samples=args.population if population else 10_000,
        max_epochs=max(2, args.budget // args.population) if population else args.max_epochs,
        grace_period=args.grace_period,
        reduction_factor=3,
        perturbation_interval=args.perturbation_interval if population else None,
        epoch_budget=args.budget,
        storage_path=str(folder.parent),
        name=folder.name,
        overwrite=True,
        seed=seed,
        gpus_per_trial=args.gpus_per_trial,
        progress_interval=120,
        **ARMS[arm],
    )
    run_search(opts, data_spec, argv=sys.argv, bundle=bundle)
    picked = best_trial(folder)
    trials = load_trials(folder)
    curve = anytime_curve(trials).fillna(-1.0).to_dict("records")  # (-1: no val_acc yet)
    chosen = {
        "val_acc": picked.value,
        "epoch": picked.epoch,
        "config": picked.config,
        "epochs": opts.max_epochs,
        "test_acc": test_checkpoint(picked.checkpoint, bundle),
    }
    found = best_schedule(trials, picked.trial_id, picked.epoch)
    if found is not None:  # PBT / PB2: the schedule to the picked epoch is what is confirmed
        chosen["schedule"] = [[epoch, config] for epoch, config in found[1]]
        chosen["epochs"] = picked.epoch
    return chosen, curve


def test_checkpoint(checkpoint: Path, bundle: DataBundle) -> float:
    from tune_cifar.results import load_model

    probs = load_model(checkpoint, device="auto").probabilities(torch.from_numpy(bundle.test_x))
    return float((probs.argmax(1).numpy() == bundle.test_y).mean())


def confirm(chosen: dict, bundle: DataBundle, seeds: list[int]) -> list[float]:
    """Test accuracy of the selected configuration (or schedule) re-trained with each seed."""
    tests = []
    for s in seeds:
        steps = chosen.get("schedule") or [[1, chosen["config"]]]
        schedule = {int(e): TrialConfig.from_dict({**c, "seed": s}) for e, c in steps}
        tests.append(
            train_and_select(schedule[min(schedule)], chosen["epochs"], bundle, schedule=schedule)[
                "test_acc"
            ]
        )
    return tests


def best_so_far(curve: list[dict], budget: int) -> np.ndarray:
    """A best-so-far step curve at every trial-epoch 1..budget (NaN before its first epoch;
    the record's -1 means no val_acc yet)."""
    frame = pd.DataFrame(curve)
    grid = np.arange(1, budget + 1)
    if frame.empty:
        return np.full(len(grid), np.nan)
    at = np.searchsorted(frame["trial_epochs"].to_numpy(), grid, side="right") - 1
    values = np.where(at >= 0, frame["best_val_acc"].to_numpy()[np.maximum(at, 0)], np.nan)
    return np.where(values < 0, np.nan, values)


def plot_anytime(
    curves: dict[tuple[str, int], list[dict]],
    tests: dict[str, list[float]],
    budget: int,
    label: str,
    path: Path,
) -> None:
    """Each arm's mean best-so-far curve over its search seeds with the band from the lowest
    to the highest seed (one colour per arm), and each arm's confirmed test accuracy (mean and
    sd over its seeds x confirmation seeds) beside the budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(dict.fromkeys(arm for arm, _ in curves))
    palette = plt.get_cmap("tab10" if len(arms) <= 10 else "tab20").colors  # (10 repeat)
    colors = {arm: palette[i % len(palette)] for i, arm in enumerate(arms)}
    grid = np.arange(1, budget + 1)
    fig, ax = plt.subplots(figsize=(9.5, 6), layout="constrained")
    for arm in arms:
        stack = np.array([best_so_far(c, budget) for (a, _), c in curves.items() if a == arm])
        if not np.isfinite(stack).any():
            continue
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # (columns before any epoch)
            mean, low, high = (np.nanmean(stack, 0), np.nanmin(stack, 0), np.nanmax(stack, 0))
        ax.step(
            grid,
            mean,
            where="post",
            color=colors[arm],
            lw=1.6,
            label=f"{arm}: best {label} so far, mean of {len(stack)} search seeds",
        )
        ax.fill_between(grid, low, high, step="post", color=colors[arm], alpha=0.15)
    for i, arm in enumerate(arms):
        values = tests.get(arm) or []
        if values:
            ax.errorbar(
                budget * (1.02 + 0.015 * i),
                np.mean(values),
                yerr=np.std(values, ddof=1) if len(values) > 1 else 0,
                fmt="o",
                color=colors[arm],
                capsize=4,
                label=f"{arm}: test accuracy of its picks, {mean_spread(values, 3)}",
            )
    ax.set(
        xlabel="trial-epochs spent",
        ylabel="accuracy (fraction correct)",
        title=f"Best {label} so far, mean and range over search seeds ({budget} trial-epochs "
        "per search)",
    )
    ax.grid(alpha=0.3)
    fig.legend(fontsize=8, loc="outside lower center", ncols=2)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def confirmation_key(chosen: dict[str, Any]) -> str:
    """What a pick's re-trained runs depend on: its configuration (or schedule) and epochs
    (training is deterministic per configuration, epochs and seed; ``confirm`` sets the
    seeds, so the trial's own is left out)."""
    steps = chosen.get("schedule") or [[1, chosen["config"]]]
    unseeded = [[epoch, {k: v for k, v in c.items() if k != "seed"}] for epoch, c in steps]
    return json.dumps([unseeded, chosen["epochs"]], sort_keys=True)


def run_arm_seed(
    arm: str,
    seed: int,
    args: argparse.Namespace,
    bundle: DataBundle,
    data_spec: DataSpec,
    confirm_seeds: list[int],
    confirmed: dict[str, list[float]],
) -> dict[str, Any]:
    """One arm with one seed, or (``--reuse``) its record from an earlier sitting."""
    folder = args.work / f"{arm}-s{seed}"  # the search's experiment (checkpoints: large)
    record_file = args.out / f"{arm}-s{seed}.json"  # what it picked and measured (small)
    if args.reuse and record_file.is_file():
        print(f"{arm} (seed {seed}): read from {record_file}", flush=True)
        record = json.loads(record_file.read_text())
        confirmed.setdefault(confirmation_key(record["chosen"]), record["tests"])
        return record
    start = time.time()
    if arm == "seed":
        chosen, curve = seed_arm(args.budget, bundle, seed)
    else:
        chosen, curve = search_arm(arm, seed, args, bundle, data_spec, folder)
    wall = time.time() - start
    # Training is deterministic per (configuration or schedule, epochs, seed): a pick another
    # arm-seed made too gets the same re-trained runs, so they are trained once.
    key = confirmation_key(chosen)
    tests = confirmed[key] = confirmed.get(key) or confirm(chosen, bundle, confirm_seeds)
    record = {
        "arm": arm,
        "seed": seed,
        "budget": args.budget,
        "chosen": chosen,
        "curve": curve,
        "tests": tests,
        "wall_s": wall,
        "trial_epochs": curve[-1]["trial_epochs"] if curve else 0,
        "data": bundle.describe(),
        "hardware": describe_hardware(),
    }
    record_file.write_text(json.dumps(record, indent=1) + "\n")
    print(
        f"{arm} (seed {seed}): picked val {chosen['val_acc']:.4f}, its checkpoint tests "
        f"{chosen['test_acc']:.4f}; re-trained x{len(tests)}: {mean_spread(tests)}",
        flush=True,
    )
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=36, help="trial-epochs per arm-seed")
    parser.add_argument(
        "--arms",
        default=",".join(DEFAULT_ARMS),
        help=f"comma-separated, of {', '.join(ARMS)} (default: {','.join(DEFAULT_ARMS)})",
    )
    parser.add_argument(
        "--search-seeds",
        type=int,
        default=3,
        help="runs of each arm, with seeds --seed, --seed + 1, ...",
    )
    parser.add_argument("--space", default="seed_ranges")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--train-subset", type=int, default=None)
    parser.add_argument("--val-size", type=int, default=None)
    parser.add_argument("--val-source", choices=("holdout", "test"), default="holdout")
    parser.add_argument("--max-epochs", type=int, default=12, help="per ASHA search trial")
    parser.add_argument("--grace-period", type=int, default=2)
    parser.add_argument("--population", type=int, default=6, help="PBT / PB2 trials")
    parser.add_argument("--perturbation-interval", type=int, default=4, metavar="EPOCHS")
    parser.add_argument("--gpus-per-trial", type=float, default=None)
    parser.add_argument("--confirm-seeds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of the in-process runs (default: every core)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-out/search_quality"))
    parser.add_argument(
        "--work",
        type=Path,
        default=None,
        help="where the searches' experiments go (default: OUT/experiments)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="read each arm-seed already finished (OUT/ARM-sSEED.json) instead of running it again",
    )
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="run nothing: the table and plot of the arm-seeds already "
        "recorded under --out (a sitting cut short)",
    )
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="100 images of the shipped sample, budget 6, 2 epochs, seed / tpe "
        "/ pbt / prior arms, 1 search seed, 2 confirm seeds",
    )
    args = parser.parse_args()
    arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in arms if a not in ARMS]
    if unknown:
        parser.error(f"--arms: unknown {', '.join(unknown)}; known: {', '.join(ARMS)}")
    if args.smoke_test:
        args.budget, args.max_epochs, args.grace_period, args.confirm_seeds = 6, 2, 1, 2
        args.search_seeds, args.population, args.perturbation_interval = 1, 2, 1
        arms = ["seed", "tpe", "pbt", "prior"]
        data_spec = DataSpec(source="sample", train_subset=100)
    else:
        data_spec = DataSpec(
            source="cifar10",
            data_dir=str(args.data_dir) if args.data_dir else None,
            train_subset=args.train_subset,
            val_size=args.val_size,
            val_source=args.val_source,
        )
    label = (
        "test accuracy (seed-style: selected on test)"
        if args.val_source == "test"
        else "holdout val_acc"
    )
    if args.report_only:
        records = [
            json.loads((args.out / f"{arm}-s{seed}.json").read_text())
            for seed in range(args.seed, args.seed + args.search_seeds)
            for arm in arms
            if (args.out / f"{arm}-s{seed}.json").is_file()
        ]
        if not records:
            parser.error(f"--report-only: no arm-seed recorded under {args.out}")
        write_results(records, args, label)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    args.work = args.work or args.out / "experiments"
    args.out.mkdir(parents=True, exist_ok=True)
    bundle = load_data(data_spec)
    print(
        f"{bundle.describe()}; budget {args.budget} trial-epochs per arm-seed\n"
        f"{describe_hardware()}",
        flush=True,
    )
    start_ray(None)  # one Ray for every search (each would start and stop its own)
    confirm_seeds = [args.seed + 100 + i for i in range(args.confirm_seeds)]
    seeds = [args.seed + i for i in range(args.search_seeds)]
    confirmed: dict[str, list[float]] = {}
    # every arm's first seed before any arm's second: a sitting cut short has every arm
    records = [
        run_arm_seed(arm, seed, args, bundle, data_spec, confirm_seeds, confirmed)
        for seed in seeds
        for arm in arms
    ]
    write_results(records, args, label)


def seed_means(records: list[dict[str, Any]], arm: str) -> list[float]:
    """Each of the arm's search seeds: the mean test accuracy of its pick's re-trained runs."""
    return [float(np.mean(r["tests"])) for r in records if r["arm"] == arm]


def arm_rows(records: list[dict[str, Any]], label: str) -> pd.DataFrame:
    """One row per arm: its runs, and over its search seeds the mean re-trained test accuracy
    with its standard error (sd of the seeds' means / sqrt(seeds)), the worst seed, and how
    many seeds' picks beat the seed study's mean."""
    arms = list(dict.fromkeys(r["arm"] for r in records))
    reference = float(np.mean(seed_means(records, "seed"))) if "seed" in arms else math.nan
    rows = []
    for arm in arms:
        mine = [r for r in records if r["arm"] == arm]
        values = [t for r in mine for t in r["tests"]]
        means = seed_means(records, arm)
        se = float(np.std(means, ddof=1) / math.sqrt(len(means))) if len(means) > 1 else math.nan
        rows.append(
            {
                "arm": arm,
                "search seeds": len(mine),
                "trial-epochs (mean)": float(np.mean([r["trial_epochs"] for r in mine])),
                "wall (min, mean)": float(np.mean([r["wall_s"] for r in mine])) / 60,
                f"selected {label} (mean)": float(np.mean([r["chosen"]["val_acc"] for r in mine])),
                "re-trained runs": len(values),
                "test mean": float(np.mean(values)),
                "test sd": float(np.std(values, ddof=1)) if len(values) > 1 else math.nan,
                "test se (over seeds)": se,
                "worst seed": min(means),
                "seeds above the seed study": (
                    f"{sum(m > reference for m in means)} of {len(means)}"
                    if arm != "seed" and math.isfinite(reference)
                    else ""
                ),
                "(mean - seed study) / se": (
                    (float(np.mean(means)) - reference) / se
                    if arm != "seed" and math.isfinite(reference) and se > 0
                    else math.nan
                ),
            }
        )
    return pd.DataFrame(rows)


def write_results(records: list[dict[str, Any]], args: argparse.Namespace, label: str) -> None:
    """table.md / table.csv (one row per arm), runs.csv (every arm-seed's curve), anytime.png."""
    tests = {
        arm: [t for r in records if r["arm"] == arm for t in r["tests"]]
        for arm in dict.fromkeys(r["arm"] for r in records)
    }
    table = arm_rows(records, label)
    table.to_csv(args.out / "table.csv", index=False)
    pd.DataFrame(
        [{"arm": r["arm"], "seed": r["seed"], **c} for r in records for c in r["curve"]]
    ).to_csv(args.out / "runs.csv", index=False)
    lines = [records[0]["hardware"], "", records[0]["data"], "", markdown_table(table), ""]
    for r in records:
        chosen = r["chosen"]
        what = (
            f"schedule of {len(chosen['schedule'])} step(s) to epoch {chosen['epochs']}"
            if chosen.get("schedule")
            else f"{chosen['epochs']} epochs"
        )
        cfg = TrialConfig.from_dict(chosen["config"]).to_dict()
        lines.append(
            f"- {r['arm']} seed {r['seed']}: val {chosen['val_acc']:.4f}, re-trained "
            f"{mean_spread(r['tests'])} ({what}): "
            + ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in cfg.items()
                if k != "seed"
            )
        )
    (args.out / "table.md").write_text("\n".join(lines) + "\n")
    budget = max(r.get("budget", r["trial_epochs"]) for r in records)  # as the runs had it
    plot_anytime(
        {(r["arm"], r["seed"]): r["curve"] for r in records},
        tests,
        budget,
        label,
        args.out / "anytime.png",
    )
    print("\n".join(lines))
    print(f"wrote {args.out / 'table.md'}, table.csv, runs.csv, anytime.png")


if __name__ == "__main__":
    main()
