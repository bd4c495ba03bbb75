"""Does a search beat the hand-tuned seed study at equal cost? Three arms, one budget.

On the same data and machine, each arm may spend ``--budget`` trial-epochs (epochs trained,
summed over its runs; the seed study spent 340):

- ``seed study``: the seed's six configurations (``seed_study`` space), one run at a time as the
  chapter ran them, each given the share of the budget its run had of the seed's epochs
  (50, 20, 20, 50, 50, 100 of 290; the 340 include its 50-epoch run of the shared-BatchNorm
  bug);
- ``search (pruned)``: ASHA + Optuna TPE over the ``strong`` space, ASHA-stopped trials told
  to TPE as pruned (tune-cifar's default);
- ``search (complete)``: the same, with Ray's OptunaSearch default (stopped trials told to TPE
  as complete, with their last value).

Every arm selects its best run and epoch on the holdout validation split. Its selected
configuration is then re-trained with ``--confirm-seeds`` new seeds (for the epochs it had) and
each re-trained model's best-holdout-epoch is tested once on the test set: the table reports
test accuracy as mean ± sd over those seeds, beside the search's own holdout figure. With
``--val-source test`` every arm selects on the test set instead, as the seed did (its 0.8941 is
the best test accuracy over 100 epochs): the figures are then seed-style, and labelled so.

Writes ``table.md``, ``table.csv``, ``anytime.png`` (best holdout val_acc so far against
trial-epochs spent, all arms on one chart) and ``runs.csv`` into ``--out``.

    python benchmarks/search_quality.py --data-dir ../shared/data --train-subset 10000 \\
        --budget 30 --max-epochs 9 --grace-period 1 --max-width 1   # the CPU proxy
    python benchmarks/search_quality.py --data-dir $TUNE_CIFAR_DATA --budget 113 \\
        --max-epochs 30 --grace-period 3 --gpus-per-trial 0.25  # full CIFAR-10 on a GPU
    python benchmarks/search_quality.py --smoke-test          # a minute, for CI
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from tune_cifar.analysis.report import markdown_table
from tune_cifar.config import TrialConfig
from tune_cifar.data import DataBundle, DataSpec, load_data
from tune_cifar.experiment import (
    SPEC_FILE,
    SPEC_TIME_FORMAT,
    best_trial,
    load_trials,
    read_spec,
)
from tune_cifar.hardware import describe_hardware, mean_spread
from tune_cifar.ray_runtime import start_ray
from tune_cifar.search_options import SearchOptions
from tune_cifar.spaces import load_space
from tune_cifar.training import Trainer, evaluate
from tune_cifar.tuner import run_search

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


def train_and_select(cfg: TrialConfig, epochs: int, bundle: DataBundle,
                     on_epoch: Any = None) -> dict[str, Any]:
    """Train ``cfg``; the best validation epoch's model is tested once on the test set."""
    trainer = Trainer(cfg, bundle.training, epochs)
    best_val, best_epoch, best_state = -1.0, 0, None
    while not trainer.finished:
        m = trainer.run_epoch()
        if on_epoch:
            on_epoch(m)
        if m["val_acc"] > best_val:
            best_val, best_epoch = m["val_acc"], m["epoch"]
            best_state = copy.deepcopy(trainer.model.state_dict())
        if m["diverged"]:
            break
    trainer.model.load_state_dict(best_state)
    test = evaluate(trainer.model, torch.from_numpy(bundle.test_x),
                    torch.from_numpy(bundle.test_y), trainer.normalize, cfg.tta)
    return {"val_acc": best_val, "epoch": best_epoch, "test_acc": test["acc"]}


def seed_arm(budget: int, bundle: DataBundle, seed: int) -> tuple[dict, list[dict]]:
    """The six runs one after another; returns the selected run and the anytime curve."""
    curve, spent, best, chosen = [], 0, -1.0, None
    for point, epochs in zip(load_space("seed_study").points, seed_shares(budget),
                             strict=True):
        cfg = TrialConfig.from_dict({**point, "seed": seed})

        def on_epoch(m: dict) -> None:
            nonlocal spent, best
            spent += 1
            best = max(best, m["val_acc"])
            curve.append({"trial_epochs": spent, "best_val_acc": best})

        result = train_and_select(cfg, epochs, bundle, on_epoch)
        print(f"  seed study: {point} for {epochs} epochs: val_acc {result['val_acc']:.4f}",
              flush=True)
        if chosen is None or result["val_acc"] > chosen["val_acc"]:
            chosen = {**result, "config": cfg.to_dict(), "epochs": epochs}
    return chosen, curve


def search_arm(name: str, stopped_as: str, args: argparse.Namespace, bundle: DataBundle,
               data_spec: DataSpec, out: Path) -> tuple[dict, list[dict], float]:
    """ASHA + Optuna TPE over the strong space until the budget; the best trial, the anytime
    curve from every reported epoch in the order they were reported, and the wall seconds."""
    opts = SearchOptions(
        space=args.space, search="optuna", scheduler="asha", num_samples=10_000,
        max_epochs=args.max_epochs, grace_period=args.grace_period, reduction_factor=3,
        epoch_budget=args.budget, storage_path=str(out), name=name, overwrite=True,
        seed=args.seed, stopped_as=stopped_as, gpus_per_trial=args.gpus_per_trial,
        progress_interval_s=120)
    folder = out / name
    reused = args.reuse and (folder / SPEC_FILE).is_file()
    start = time.time()
    if not reused:
        run_search(opts, data_spec, argv=sys.argv, bundle=bundle)
    picked = best_trial(folder)
    rows = sorted((row.timestamp, row.val_acc) for t in load_trials(folder)
                  for row in t.metrics.itertuples())
    # reused: its wall time from its spec's creation to its last report
    wall = (rows[-1][0] - datetime.strptime(read_spec(folder)["created"], SPEC_TIME_FORMAT)
            .timestamp()) if reused else time.time() - start
    best, curve = -1.0, []
    for spent, (_, val) in enumerate(rows, start=1):
        best = max(best, val if math.isfinite(val) else -1.0)
        curve.append({"trial_epochs": spent, "best_val_acc": best})
    chosen = {"val_acc": picked.value, "epoch": picked.epoch, "config": picked.config,
              "epochs": args.max_epochs, "test_acc": test_checkpoint(picked.checkpoint,
                                                                     bundle)}
    return chosen, curve, wall


def test_checkpoint(checkpoint: Path, bundle: DataBundle) -> float:
    from tune_cifar.restore import load_model

    probs = load_model(checkpoint, device="auto").probabilities(torch.from_numpy(bundle.test_x))
    return float((probs.argmax(1).numpy() == bundle.test_y).mean())


def confirm(chosen: dict, bundle: DataBundle, seeds: list[int]) -> list[float]:
    """Test accuracy of the selected configuration re-trained with each new seed."""
    return [train_and_select(TrialConfig.from_dict({**chosen["config"], "seed": s}),
                             chosen["epochs"], bundle)["test_acc"] for s in seeds]


def plot_anytime(curves: dict[str, list[dict]], finals: dict[str, dict], budget: int,
                 label: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5), layout="constrained")
    for (name, curve), color in zip(curves.items(), ("tab:gray", "tab:blue", "tab:orange"),
                                    strict=False):
        frame = pd.DataFrame(curve)
        ax.step(frame["trial_epochs"], frame["best_val_acc"], where="post", color=color,
                label=f"{name}: best {label} so far")
        tests = finals[name]["tests"]
        ax.errorbar(budget * 1.02, np.mean(tests), yerr=np.std(tests, ddof=1) if len(tests) > 1
                    else 0, fmt="o", color=color, capsize=4,
                    label=f"{name}: test accuracy of its pick, {mean_spread(tests, 3)}")
    ax.set(xlabel="trial-epochs spent", ylabel="accuracy (fraction correct)",
           title=f"Best {label} so far against compute, budget {budget} trial-epochs per arm")
    ax.grid(alpha=0.3)
    fig.legend(fontsize=8, loc="outside lower center", ncols=2)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=36, help="trial-epochs per arm")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--train-subset", type=int, default=None)
    parser.add_argument("--val-size", type=int, default=None)
    parser.add_argument("--val-source", choices=("holdout", "test"), default="holdout")
    parser.add_argument("--max-epochs", type=int, default=12, help="per search trial")
    parser.add_argument("--grace-period", type=int, default=2)
    parser.add_argument("--gpus-per-trial", type=float, default=None)
    parser.add_argument("--confirm-seeds", type=int, default=3)
    parser.add_argument("--max-width", type=float, default=None,
                        help="search the strong space with widths up to this only (a cheaper "
                             "CPU proxy; the GPU study searches it whole)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads of the in-process runs (default: every core)")
    parser.add_argument("--out", type=Path, default=Path("bench-out/search_quality"))
    parser.add_argument("--reuse", action="store_true",
                        help="read a search arm already finished under --out instead of "
                             "running it again (its confirm runs are re-trained)")
    parser.add_argument("--smoke-test", action="store_true",
                        help="100 images of the shipped sample, budget 6, 2 epochs, width 1, "
                             "2 confirm seeds, no 'complete' arm")
    args = parser.parse_args()
    if args.smoke_test:
        args.budget, args.max_epochs, args.grace_period, args.confirm_seeds = 6, 2, 1, 2
        args.max_width = 1.0
        data_spec = DataSpec(source="sample", train_subset=100)
    else:
        data_spec = DataSpec(source="cifar10", data_dir=str(args.data_dir) if args.data_dir
                             else None, train_subset=args.train_subset,
                             val_size=args.val_size, val_source=args.val_source)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    args.space = "strong"
    if args.max_width is not None:  # the strong space, its width choices capped
        args.space = str(args.out / "strong_capped.py")
        Path(args.space).write_text(
            "from ray import tune\n\nfrom tune_cifar.search_spaces.strong import SPACE as STRONG"
            f"\n\nDESCRIPTION = 'the strong space with width at most {args.max_width:g}'\n"
            f"WIDTHS = [w for w in STRONG['width'].categories if w <= {args.max_width!r}]\n"
            "SPACE = {**STRONG, 'width': tune.choice(WIDTHS) if len(WIDTHS) > 1 else WIDTHS[0]}\n")
    bundle = load_data(data_spec)
    label = "test accuracy (seed-style: selected on test)" if args.val_source == "test" \
        else "holdout val_acc"
    print(f"{bundle.describe()}; budget {args.budget} trial-epochs per arm\n"
          f"{describe_hardware()}", flush=True)
    start_ray(None)  # one Ray for both searches (each would start and stop its own)
    seeds = [args.seed + 100 + i for i in range(args.confirm_seeds)]
    curves, finals, confirmed = {}, {}, {}
    arms = [("seed study", None), ("search (pruned)", "pruned"),
            ("search (complete)", "complete")][: 2 if args.smoke_test else 3]
    for name, stopped_as in arms:
        if stopped_as is None:
            start = time.monotonic()
            chosen, curve = seed_arm(args.budget, bundle, args.seed)
            wall = time.monotonic() - start
        else:
            chosen, curve, wall = search_arm(f"search-{stopped_as}", stopped_as, args, bundle,
                                             data_spec, args.out)
        # Training is deterministic per (configuration, epochs, seed): an arm that picked what
        # another arm picked gets the same re-trained runs, so they are trained once.
        key = json.dumps([chosen["config"], chosen["epochs"]], sort_keys=True)
        tests = confirmed[key] = confirmed.get(key) or confirm(chosen, bundle, seeds)
        curves[name] = curve
        finals[name] = {"chosen": chosen, "tests": tests, "wall_s": wall,
                        "trial_epochs": curve[-1]["trial_epochs"] if curve else 0}
        print(f"{name}: picked {label} {chosen['val_acc']:.4f}, its checkpoint tests "
              f"{chosen['test_acc']:.4f}; re-trained x{len(tests)}: {mean_spread(tests)}",
              flush=True)
    rows = [{"arm": name, "trial-epochs": f["trial_epochs"], "wall (min)": f["wall_s"] / 60,
             f"selected: {label}": f["chosen"]["val_acc"],
             "selected checkpoint: test": f["chosen"]["test_acc"],
             f"re-trained x{len(seeds)}: test mean": float(np.mean(f["tests"])),
             "test sd": float(np.std(f["tests"], ddof=1)) if len(seeds) > 1 else math.nan,
             "epochs": f["chosen"]["epochs"],
             "configuration": TrialConfig.from_dict(f["chosen"]["config"])}
            for name, f in finals.items()]
    table = pd.DataFrame(rows)
    table.drop(columns="configuration").to_csv(args.out / "table.csv", index=False)
    pd.DataFrame([{"arm": n, **r} for n, c in curves.items() for r in c]).to_csv(
        args.out / "runs.csv", index=False)
    lines = [describe_hardware(), "", bundle.describe(), ""]
    lines.append(markdown_table(table.drop(columns="configuration")))
    for row in rows:
        cfg = row["configuration"].to_dict()
        lines += ["", f"{row['arm']} picked: " + ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in cfg.items())]
    (args.out / "table.md").write_text("\n".join(lines) + "\n")
    plot_anytime(curves, finals, args.budget, label, args.out / "anytime.png")
    print("\n".join(lines))
    print(f"wrote {args.out / 'table.md'}, table.csv, runs.csv, anytime.png")


if __name__ == "__main__":
    main()
