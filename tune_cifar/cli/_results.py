"""The result commands of ``tune-cifar``: analyze, best, evaluate, predict, compare, ...

tune-cifar analyze EXP [--out DIR]          frames, plots, report.md / report.html
tune-cifar best EXP [--json] [--scope last] the best trial and its checkpoint
tune-cifar evaluate EXP|CHECKPOINT [--split test|val]
tune-cifar predict EXP|CHECKPOINT IMAGE... [--json]
tune-cifar dashboard EXP [--host H] [--port P]  optuna-dashboard, live or later
tune-cifar confirm EXP [--top K] [--seeds N]    re-train the best with new seeds, test
tune-cifar compare EXP EXP ... [--out DIR]      searches side by side per trial-epoch
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tune_cifar.cli._args import (
    add_command,
    add_data_flags,
    claim_out,
    data_spec_from,
    folder_arg,
    here,
)
from tune_cifar.constants import (
    ANALYSIS_DIR,
    COMPARE_PLOT_FILE,
    COMPARE_TABLE_FILE,
    CONFIRM_RUNS_FILE,
    CONFIRM_SUMMARY_FILE,
    EVALUATION_FILE,
    EVALUATION_PLOT_FILES,
)
from tune_cifar.data import CLASSES
from tune_cifar.errors import UsageError
from tune_cifar.metrics import METRIC
from tune_cifar.storage import shown


def add_result_parsers(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub,
        "analyze",
        "tables, plots and a report of an experiment",
        description="Write trials/epochs frames (CSV, Parquet), plots (PNG) and "
        "report.md + report.html for an experiment folder.",
    )
    p.add_argument("experiment", type=folder_arg, help="experiment folder (or file:// URI)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default EXP/analysis)")
    p.set_defaults(func=cmd_analyze)

    p = add_command(
        sub,
        "dashboard",
        "optuna-dashboard over an experiment, live or later",
        description="Serve optuna-dashboard over the experiment's Optuna journal "
        "(written live by every search; built from Tune's files for "
        "older experiments). Ctrl-C stops it.",
    )
    p.add_argument("experiment", type=folder_arg, help="experiment folder (or file:// URI)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 "
        "lets other machines read the study)",
    )
    p.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any free)")
    p.add_argument(
        "--allow-writes",
        action="store_true",
        help="let the dashboard change the study (notes, deleting trials or the "
        "study); by default it is read-only: anything but GET/HEAD gets 405",
    )
    p.set_defaults(func=cmd_dashboard)

    p = add_command(
        sub,
        "compare",
        "searches side by side: best val_acc against trial-epochs spent",
        description="Compare experiments: per experiment its search, trials, "
        "trial-epochs, best holdout val_acc and when it was first "
        "reached, and the confirmed test accuracy where confirm "
        "ran; a plot of each search's best val_acc so far against "
        "trial-epochs spent.",
    )
    p.add_argument(
        "experiments",
        type=folder_arg,
        nargs="+",
        metavar="EXP",
        help="experiment folders (or file:// / s3:// URIs)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=Path("compare"),
        metavar="DIR",
        help="folder for compare.csv and compare.png (default ./compare)",
    )
    p.set_defaults(func=cmd_compare)

    p = add_command(
        sub,
        "confirm",
        "re-train the top configurations with new seeds; test "
        "accuracy as mean, sd and 95% interval",
        description="Re-train the top K configurations of a search (by holdout "
        "val_acc) with N new seeds each, in EXP/confirm/, and test "
        "each run's best-holdout-epoch checkpoint once. Of a PBT / "
        "PB2 search: the top K schedules (the hyperparameters that "
        "made each trial's best weights, changed at the same "
        "epochs).",
    )
    p.add_argument("experiment", type=folder_arg, help="experiment folder (or file:// URI)")
    p.add_argument("--top", type=int, default=3, help="configurations to confirm (default 3)")
    p.add_argument("--seeds", type=int, default=3, help="new seeds per configuration (default 3)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier confirmation")
    p.set_defaults(func=cmd_confirm)

    p = add_command(sub, "best", "the best trial of an experiment and its checkpoint")
    p.add_argument("experiment", type=folder_arg, help="experiment folder (or file:// URI)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--scope",
        choices=("best", "last"),
        default="best",
        help="best: each trial's best epoch (default); last: each trial's last epoch",
    )
    p.set_defaults(func=cmd_best)

    p = add_command(
        sub,
        "evaluate",
        "evaluate a checkpoint: accuracy, per class, plots",
        description="Rebuild the model from a checkpoint (an experiment folder "
        "means its best checkpoint) and evaluate it.",
    )
    add_checkpoint_args(p)
    p.add_argument(
        "--split",
        choices=("test", "val"),
        default="test",
        help="test set (default) or the experiment's validation split",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where the plots go (default EXP/analysis/evaluate-SPLIT, or "
        "./tune-cifar-evaluate-SPLIT for a lone checkpoint)",
    )
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument(
        "--tta",
        choices=("on", "off"),
        default=None,
        help="horizontal-flip averaging (test-time augmentation): on or off "
        "(default: as the trial validated, its 'tta' key)",
    )
    add_data_flags(p, default_source=None)
    p.set_defaults(func=cmd_evaluate)

    p = add_command(
        sub,
        "predict",
        "class probabilities for image files",
        description="Class probabilities for image files of any size; images "
        "that are not 32x32 are resized to 32x32 (and said so).",
    )
    add_checkpoint_args(p)
    p.add_argument("images", type=Path, nargs="+", help="image files (PNG, JPEG, ...)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_predict)


def add_checkpoint_args(p: argparse.ArgumentParser) -> None:
    """The model to restore: a checkpoint, or an experiment's best (or last) one."""
    p.add_argument(
        "target",
        type=folder_arg,
        help="experiment folder or checkpoint folder/file (or file:// URI)",
    )
    p.add_argument(
        "--scope",
        choices=("best", "last"),
        default="best",
        help="with an experiment: the best epoch's checkpoint (default) or the "
        "best trial's last one",
    )


def cmd_analyze(args: argparse.Namespace) -> int:
    from tune_cifar.analysis import (
        analyze_outputs,
        load_experiment,
        save_frames,
        write_plots,
        write_report,
    )

    folder = here(args.experiment)
    if args.out is not None:  # (the experiment's own analysis/ folder is tune-cifar's)
        claim_out(args.out, "analyze", analyze_outputs())
    exp = load_experiment(folder)
    out = args.out or exp.path / ANALYSIS_DIR
    frames = save_frames(exp, out)
    plots = write_plots(exp, out)
    md, page = write_report(exp, plots, out)
    print(f"{len(exp.trials)} trials, {len(exp.epochs)} trial-epochs")
    for path in [*frames, *plots.values(), md, page]:
        print(f"wrote {path}")
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from tune_cifar.results import serve_dashboard

    serve_dashboard(
        here(args.experiment),
        args.host,
        args.port,
        say=lambda line: print(line, flush=True),
        allow_writes=args.allow_writes,
    )
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    import pandas as pd

    from tune_cifar.analysis import compare_experiments, data_differences, plot_comparison

    folders = [here(location) for location in args.experiments]
    table, curves = compare_experiments(folders)
    claim_out(args.out, "compare", [COMPARE_TABLE_FILE, COMPARE_PLOT_FILE])  # (creates it)
    width = max(10, *(len(name) for name in table["experiment"]))
    print(
        f"{'experiment':<{width}}  {'search':<7} {'scheduler':<9} {'trials':>6} "
        f"{'trial-epochs':>12} {'best val_acc':>12} {'reached at':>10}  test (confirm)"
    )
    for r in table.itertuples():
        reached = "-" if pd.isna(r.reached_at) else str(int(r.reached_at))
        test = (
            f"{r.test_mean:.4f} ± {r.test_sd:.4f} ({r.test_runs} runs)"
            if r.test_runs > 1
            else f"{r.test_mean:.4f} (1 run)"
            if r.test_runs
            else "-"
        )
        print(
            f"{r.experiment:<{width}}  {r.search:<7} {r.scheduler:<9} {r.trials:>6} "
            f"{r.trial_epochs:>12} {r.best_val_acc:>12.4f} {reached:>10}  {test}"
        )
    differences = data_differences(folders)
    if differences:
        print(
            "note: these experiments validated on different data ("
            + "; ".join(differences)
            + "): their val_acc are not comparable"
        )
    table.to_csv(args.out / COMPARE_TABLE_FILE, index=False)
    print(f"wrote {args.out / COMPARE_TABLE_FILE}")
    print(f"wrote {plot_comparison(table, curves, args.out / COMPARE_PLOT_FILE)}")
    return 0


def cmd_confirm(args: argparse.Namespace) -> int:
    import sys

    from tune_cifar.analysis import draw_confirmation, load_experiment, save_figure
    from tune_cifar.results import confirmed_what, read_spec
    from tune_cifar.tuning import run_confirmation

    result = run_confirmation(args.experiment, args.top, args.seeds, args.overwrite, argv=sys.argv)
    folder = here(args.experiment)
    what = confirmed_what(read_spec(folder))
    print(
        f"test accuracy of the top {len(result.summary)} {what}, "
        f"{args.seeds} new seeds each"
        + (
            " (validation was the test set: not independent of the selection)"
            if result.test_is_validation
            else ""
        )
    )
    print(
        f"{'rank':>4}  {'trial':<12} {'search val':>10}  {'test mean':>9} {'sd':>7}  95% interval"
    )
    for r in result.summary.itertuples():
        interval = (
            f"[{r.test_acc_ci95_low:.4f}, {r.test_acc_ci95_high:.4f}]"
            if r.runs > 1
            else "(one run)"
        )
        print(
            f"{r.rank:>4}  {r.source_trial:<12} {r.search_val_acc:>10.4f}  "
            f"{r.test_acc_mean:>9.4f} {r.test_acc_sd:>7.4f}  {interval}"
        )
    out = folder / ANALYSIS_DIR
    out.mkdir(exist_ok=True)
    fig = draw_confirmation(load_experiment(folder))
    plot = None if fig is None else save_figure(fig, out / "confirmation.png")
    for path in (result.folder / CONFIRM_RUNS_FILE, result.folder / CONFIRM_SUMMARY_FILE, plot):
        if path is not None:
            print(f"wrote {shown(path)}")
    print(f"'tune-cifar analyze {args.experiment}' adds it to the report")
    return 0


def cmd_best(args: argparse.Namespace) -> int:
    from tune_cifar.results import (
        best_of,
        best_schedule,
        describe_schedule,
        load_trials,
        mutated_keys,
        read_spec,
    )

    folder = here(args.experiment)
    spec = read_spec(folder)
    trials = load_trials(folder)
    best = best_of(trials, scope=args.scope)
    if best is None:
        raise UsageError(f"experiment {args.experiment} has no trial with a result yet")
    found = best_schedule(trials, best.trial_id, best.epoch)
    front = pareto_of(folder) if len(spec["options"].get("objective") or [METRIC]) > 1 else None
    if args.json:
        extra = (
            {}
            if found is None
            else {
                "lineage": found[0],
                "schedule": [{"from_epoch": e, "config": c} for e, c in found[1]],
            }
        )
        if front is not None:
            extra["pareto_front"] = json.loads(front[1].to_json(orient="records"))
        print(json.dumps({**best.to_json(), **extra}, indent=2))
        return 0
    print(best.summary())
    if front is not None:
        label, table = front
        print(f"Pareto front ({METRIC} up, {label} down; trials that ran every epoch):")
        for row in table.itertuples(index=False):
            print(f"  {row.trial_id}: {METRIC} {row.best_val_acc:.4f}, {label} {row.shown}")
    if found is not None:
        lineage, steps = found
        print(f"  lineage: {lineage}  (trial@first epoch it trained)\n  schedule:")
        for line in describe_schedule(steps, mutated_keys(trials)):
            print(f"    {line}")
        print(f"  replay it from scratch: tune-cifar train --replay {args.experiment} --out DIR")
        print(f"  confirm the top schedules over seeds: tune-cifar confirm {args.experiment}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.out is not None:  # (before torch is imported: a refusal costs nothing)
        claim_out(args.out, "evaluate", [*EVALUATION_PLOT_FILES, EVALUATION_FILE])
    from tune_cifar.analysis import write_evaluation_plots
    from tune_cifar.results import evaluate_checkpoint, find_experiment

    data_spec = data_spec_from(args) if args.data is not None else None
    tta = None if args.tta is None else args.tta == "on"
    target = here(args.target)
    ev = evaluate_checkpoint(target, args.split, data_spec, args.scope, tta=tta)
    experiment = find_experiment(target)
    default_parent = experiment / ANALYSIS_DIR if experiment else Path.cwd()
    prefix = "" if experiment else "tune-cifar-"
    out = args.out or default_parent / f"{prefix}evaluate-{args.split}"
    plots = write_evaluation_plots(ev, out)
    figures = {
        "checkpoint": shown(ev.restored.checkpoint),
        "epoch": ev.restored.epoch,
        "split": ev.split,
        "tta": ev.tta,
        "images": len(ev.labels),
        "accuracy": ev.accuracy,
        "per_class_accuracy": ev.per_class,
        "plots": [str(p) for p in plots],
    }
    (out / EVALUATION_FILE).write_text(json.dumps(figures, indent=2) + "\n")
    if args.json:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"checkpoint {shown(ev.restored.checkpoint)} (epoch {ev.restored.epoch})")
    print(ev.data_note)
    print(
        f"{ev.split} accuracy: {ev.accuracy:.4f} on {len(ev.labels)} images"
        + (" (flip-averaged)" if ev.tta else "")
    )
    for name, acc in ev.per_class.items():
        print(f"  {name:<10s} {acc:.4f}")
    for path in [*plots, out / EVALUATION_FILE]:
        print(f"wrote {path}")
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    import sys

    from tune_cifar.results import predict_images

    rows, notes, checkpoint = predict_images(here(args.target), args.images, args.scope)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"checkpoint {shown(checkpoint)}")
    width = max(len(str(p)) for p in args.images)
    print(f"{'image':<{width}}  {'predicted':<10s} " + " ".join(f"{c[:5]:>6s}" for c in CLASSES))
    for row in rows:
        probs = " ".join(f"{row['probabilities'][c]:6.3f}" for c in CLASSES)
        print(f"{row['file']:<{width}}  {row['predicted']:<10s} {probs}")
    return 0


def pareto_of(folder: Path) -> tuple[str, Any] | None:
    """(cost label, front: trial_id, best_val_acc, cost) of a multi-objective experiment."""
    from tune_cifar.analysis import COST_LABELS, format_cost, load_experiment, pareto_front

    exp = load_experiment(folder)
    if exp.cost is None or exp.trials.empty:
        return None
    front = pareto_front(exp.trials, exp.cost)
    table = front[["trial_id", "best_val_acc", exp.cost]].rename(columns={exp.cost: "cost"})
    return COST_LABELS[exp.cost], table.assign(
        shown=[format_cost(exp.cost, v) for v in table["cost"]]
    )
