"""The experiment report, as Markdown and as one self-contained HTML page.

    write_report(exp, plots, out)  ->  out/report.md, out/report.html

The report is built once as a list of blocks (headings, paragraphs, tables, images) and
rendered twice, so the two files always say the same thing.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from tune_cifar.analysis._diagnostics import diagnose
from tune_cifar.analysis._frames import Experiment
from tune_cifar.analysis._pareto import COST_LABELS, format_cost, pareto_front, seed_trials
from tune_cifar.analysis._stability import MIN_TRIALS, rank_stability
from tune_cifar.constants import (
    FULL_BUDGET,
    PRIOR_MODE,
    SAMPLE_NUMBER,
    SAMPLED_FROM,
    SAMPLING_WEIGHTS,
)
from tune_cifar.metrics import POPULATION_SCHEDULERS, fidelities, sh_bracket_cost
from tune_cifar.results import (
    best_schedule,
    confirmed_what,
    copies,
    describe_schedule,
    epochs_trained,
    format_value,
    mutated_keys,
    read_confirmation,
)
from tune_cifar.search_spaces.seed_study import BEST_TEST_ACC as SEED_BEST
from tune_cifar.train import SCHEDULE_KEY, split_schedule

LEADERBOARD_ROWS = 10
COPIES_SHOWN = 30  # rows of the PBT copies table
PLOT_CAPTIONS = {
    "best_curves": "Validation accuracy per epoch of the best trials, labelled by the "
    "hyperparameters that tell them apart.",
    "all_trials": "Every trial's validation accuracy; an x marks where a trial stopped, dotted "
    "lines are ASHA's rungs.",
    "best_trial": "The best trial's train vs validation loss and accuracy.",
    "effects": "Best validation accuracy of each trial against each hyperparameter (a trial "
    "stopped early had fewer epochs to get there).",
    "importance": "How much each hyperparameter explains the best validation accuracy "
    "(Optuna's fANOVA evaluator; with few trials, a rough guide).",
    "parallel": "The top trials' hyperparameters side by side.",
    "confirmation": "Test accuracy of the top configurations re-trained with new seeds: each "
    "seed, the mean with its 95% interval, and the holdout val_acc the search "
    "picked it by.",
    "pareto": "Best validation accuracy against the cost the search minimised, each trial; "
    "the line is the Pareto front of the trials that ran every epoch, a star a "
    "seed study configuration.",
    "population": "Population-based training: each trial's validation accuracy and mutated "
    "hyperparameters per epoch as it reported them; a dashed line joins a trial "
    "to the stronger trial whose weights it continued.",
    "sampling": "PriorBand: the probabilities of drawing a new configuration from the prior, "
    "uniformly or around the best so far, trial by trial, and each trial's best validation "
    "accuracy by where its configuration came from.",
    "rank_stability": "How well each epoch's ranking of the trials that ran every epoch "
    "predicts their final ranking (Spearman), against ASHA's rungs: a rung "
    "before the ranking settles stops trials on a guess.",
}


@dataclass
class Block:
    kind: str  # "h1" | "h2" | "p" | "list" | "table" | "image"
    content: Any  # text; a list of lines; a DataFrame; an image's path
    caption: str = ""


def disk_usage(folder: Path) -> int:
    """Bytes of the files under ``folder`` (a hard-linked file counts each time)."""
    total, folders = 0, [folder]
    while folders:  # one listing per folder (a stat per file was seconds at 10,000 trials)
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(Path(entry.path))
                elif entry.is_file():
                    total += entry.stat().st_size
    return total


def compute_summary(exp: Experiment) -> dict[str, float]:
    spent = len(exp.epochs)
    full = len(exp.trials) * exp.max_epochs
    return {
        "trial_epochs": spent,
        "full_epochs": full,
        "saved_epochs": full - spent,
        "trial_hours": exp.trials["wall_time_s"].sum() / 3600,
    }


def leaderboard(exp: Experiment) -> pd.DataFrame:
    cols = ["trial_id", "status", "epochs_run", "best_val_acc", "best_epoch", *exp.hyperparameters]
    board = exp.trials.head(LEADERBOARD_ROWS)[cols].copy()
    board.insert(0, "rank", range(1, len(board) + 1))
    return board.rename(columns=lambda c: c.removeprefix("config."))


def build_blocks(exp: Experiment, plots: dict[str, Path]) -> list[Block]:
    spec, opts = exp.spec, exp.spec["options"]
    data = spec["data"]
    val_label = (
        "the CIFAR-10 test set (the seed's protocol)"
        if data["val_source"] == "test"
        else "a seeded holdout of the training images"
    )
    blocks = [
        Block("h1", f"tune-cifar report: {exp.path.name}"),
        Block(
            "p",
            f"Space `{spec['space']['name']}` ({spec['space']['description']}); "
            f"{opts['search']} search, {opts['scheduler']} scheduler, up to "
            f"{opts['max_epochs']} epochs per trial; data `{data['source']}`"
            + (f", {data['train_subset']} training images" if data["train_subset"] else "")
            + f"; validation on {val_label}. Created {spec['created']}.",
        ),
    ]
    if exp.trials.empty:
        return [*blocks, Block("p", "No trial has reported an epoch yet.")]
    best = exp.trials.iloc[0]
    counts = exp.trials["status"].value_counts()
    blocks += [
        Block("h2", "Summary"),
        Block(
            "list",
            [
                f"{len(exp.trials)} trials: " + ", ".join(f"{n} {s}" for s, n in counts.items()),
                f"best val_acc **{best['best_val_acc']:.4f}** (trial {best['trial_id']}, epoch "
                f"{best['best_epoch']} of {best['epochs_run']})"
                + (
                    ", seed-style: validated on the test set, so a test accuracy selected on the "
                    "test set"
                    if data["val_source"] == "test"
                    else ", on the holdout split"
                ),
                f"for reference, the seed study's best by hand: {SEED_BEST} (CNN_v4 + flip + "
                "RandomErasing, full CIFAR-10, 100 epochs, validated on the test set)",
            ],
        ),
        Block("h2", "Best configuration"),
        Block("table", best_config_table(best)),
        Block("p", f"Checkpoint of the best epoch: `{best['best_checkpoint'] or '(not kept)'}`"),
        Block("h2", "Leaderboard"),
        Block("table", leaderboard(exp)),
        Block("h2", "Diagnostics"),
    ]
    findings = diagnose(exp)
    blocks.append(
        Block("list", [f"trial {f.trial_id}: **{f.kind}**: {f.explanation}" for f in findings])
        if findings
        else Block("p", "No trial diverged or sat at chance while training improved.")
    )
    compute = compute_summary(exp)
    share = compute["saved_epochs"] / compute["full_epochs"] if compute["full_epochs"] else 0
    population = opts.get("scheduler") in POPULATION_SCHEDULERS
    if population:  # every trial runs to the end; copies train some epochs again
        trained = sum(epochs_trained(t) for t in exp.records)
        spent = (
            f"{trained} trial-epochs trained, {trained - compute['trial_epochs']} of them "
            "again after a trial copied another's weights"
        )
    else:
        spent = (
            f"running every trial to {exp.max_epochs} epochs would have taken "
            f"{compute['full_epochs']}: early stopping saved {compute['saved_epochs']} "
            f"({share:.0%})"
        )
    blocks += [
        Block("h2", "Compute"),
        Block(
            "list",
            [
                f"{compute['trial_epochs']} trial-epochs in the trials' histories "
                f"({compute['trial_hours']:.2f} trial-hours)"
                if population
                else f"{compute['trial_epochs']} trial-epochs trained "
                f"({compute['trial_hours']:.2f} trial-hours)",
                spent,
                f"disk used by the experiment: {disk_usage(exp.path) / 1e6:.1f} MB",
            ],
        ),
    ]
    if exp.cost is not None:
        blocks += pareto_blocks(exp, exp.cost)
    stability = rank_stability(exp)
    if opts.get("scheduler") in POPULATION_SCHEDULERS:
        blocks += population_blocks(exp, best)
    else:
        blocks += [
            Block("h2", "When could early stopping be trusted?"),
            Block(
                "p",
                stability.summary()
                if stability is not None
                else f"Fewer than {MIN_TRIALS} trials ran every epoch: no ranking to "
                "compare the early epochs with.",
            ),
        ]
    blocks += sampling_blocks(exp)
    blocks += confirmation_blocks(exp)
    blocks.append(Block("h2", "Plots"))
    blocks += [Block("image", path, PLOT_CAPTIONS[name]) for name, path in plots.items()]
    return blocks


def pareto_blocks(exp: Experiment, cost: str) -> list[Block]:
    """The 'Accuracy and cost' section of a multi-objective search (``cost``: the trials
    frame's column of what it minimised): its Pareto front."""
    front = pareto_front(exp.trials, cost)
    seeds = seed_trials(exp)
    label = COST_LABELS[cost]
    blocks = [
        Block("h2", f"Accuracy and {label}: the Pareto front"),
        Block(
            "p",
            f"The search maximised val_acc and minimised {label} at once; "
            f"{len(front)} trials that ran every epoch are on the front (no other "
            "such trial is both as accurate and as cheap)."
            + (
                " Seed study configurations in the search: "
                + ", ".join(f"run {n} (trial {t})" for t, n in seeds.items())
                + "."
                if seeds
                else ""
            ),
        ),
    ]
    if not front.empty:
        table = (
            front[["trial_id", "best_val_acc", cost, *exp.hyperparameters]]
            .assign(**{cost: [format_cost(cost, v) for v in front[cost]]})
            .rename(columns=lambda c: label if c == cost else c.removeprefix("config."))
        )
        blocks.append(Block("table", table))
    return blocks


def population_blocks(exp: Experiment, best: pd.Series) -> list[Block]:
    """The 'Population-based training' section: the copies, the best trial's schedule."""
    records = exp.records
    table = copies(records)
    opts = exp.spec["options"]
    keys = mutated_keys(records)
    blocks = [
        Block("h2", "Population-based training"),
        Block(
            "p",
            f"Every {opts['perturbation_interval']} epochs, a trial in the bottom "
            "quarter continued the weights of one in the top quarter with its "
            f"hyperparameters mutated ({opts['scheduler'].upper()}): "
            f"{len(table)} copies in all; mutated keys: "
            f"{', '.join(keys) or 'none changed'}.",
        ),
    ]
    found = best_schedule(records, best["trial_id"], int(best["best_epoch"]))
    if found is not None:
        lineage, steps = found
        blocks += [
            Block(
                "p",
                f"The best weights (trial {best['trial_id']}, epoch "
                f"{best['best_epoch']}) descend from `{lineage}` (trial@first "
                "epoch it trained); their schedule, which `tune-cifar train "
                f"--replay {exp.path}` trains again from scratch:",
            ),
            Block("list", describe_schedule(steps, keys)),
        ]
    if len(table) > COPIES_SHOWN:
        blocks.append(Block("p", f"The first {COPIES_SHOWN} of the {len(table)} copies:"))
    if not table.empty:
        shown = table.head(COPIES_SHOWN).assign(
            changed=table["changed"].map(
                lambda c: (
                    ", ".join(
                        f"{k} {format_value(a)} -> {format_value(b)}" for k, (a, b) in c.items()
                    )
                    or "(no change)"
                )
            )
        )
        blocks.append(
            Block(
                "table",
                shown.rename(
                    columns={
                        "trial_id": "trial",
                        "epoch": "from epoch",
                        "donor": "copied from",
                        "changed": "mutation",
                    }
                ),
            )
        )
    return blocks


def sampling_blocks(exp: Experiment) -> list[Block]:
    """PriorBand's section: where the configurations came from, and how the weights moved."""
    if SAMPLED_FROM not in exp.trials:
        return []
    trials = exp.trials.dropna(subset=[SAMPLED_FROM]).sort_values(SAMPLE_NUMBER)
    opts = exp.spec["options"]
    table = (
        trials.groupby(SAMPLED_FROM)["best_val_acc"]
        .agg(trials="size", best="max", mean="mean")
        .reset_index()
        .rename(
            columns={SAMPLED_FROM: "drawn from", "best": "best val_acc", "mean": "mean val_acc"}
        )
    )
    weights = trials[SAMPLING_WEIGHTS].tolist()
    numbers = trials[SAMPLE_NUMBER].astype(int).tolist()
    shifted = next((i for i, w in enumerate(weights) if w != weights[0]), None)
    moved = (
        f"they first moved for its draw {numbers[shifted]} of {numbers[-1]}, to "
        f"{weights[shifted]}, and were {weights[-1]} for the last"
        if shifted
        else "they never moved: PriorBand samples around the incumbent once it has "
        f"{_missing_evidence(trials, opts)}"
    )
    mode = trials[trials[SAMPLED_FROM] == PRIOR_MODE]
    first = ""
    if not mode.empty:
        full = FULL_BUDGET in mode and mode[FULL_BUDGET].fillna(False).astype(bool).iloc[0]
        first = " Its first trial was the prior's mode, the believed configuration itself, " + (
            "trained to the full budget (`--prior-mode full-budget`)."
            if full
            else "started at the first rung and judged there as every other trial: "
            f"it trained {int(mode['epochs_run'].iloc[0])} of "
            f"{opts.get('max_epochs')} epochs."
        )
    return [
        Block("h2", "Where the configurations came from (PriorBand)"),
        Block(
            "p",
            f"PriorBand drew each configuration from the prior "
            f"(`--prior {opts.get('prior')}`, {opts.get('prior_confidence')} "
            f"confidence), uniformly from the space, or around the best so far.{first} "
            f"The weights started at {weights[0]}; {moved}.",
        ),
        Block("table", table),
    ]


def _missing_evidence(trials: pd.DataFrame, opts: Mapping[str, Any]) -> str:
    """PriorBand's three conditions for sampling around the incumbent, each with what this
    search had of it ("a trial at the full budget (had: none), ...")."""
    eta, max_epochs = int(opts["reduction_factor"]), int(opts["max_epochs"])
    rungs = fidelities(int(opts["grace_period"]), eta, max_epochs)
    reached = [
        max((r for r, epoch in enumerate(rungs) if epoch <= run), default=-1)
        for run in trials["epochs_run"].fillna(0).astype(int)
    ]
    # the epochs that count: each trial's, to the highest rung it reached (as the searcher)
    spent = sum(rungs[r] for r in reached if r >= 0)
    counts = [sum(r >= k for r in reached) for k in range(len(rungs))]  # (most at the first)
    return (
        f"a trial at the full budget ({max_epochs} epochs; had {counts[-1]}), one successive-"
        f"halving bracket's worth of epochs ({sh_bracket_cost(rungs, eta)}; had {spent}) "
        f"and a rung with {eta} evaluations (had at most {counts[0]})"
    )


def confirmation_blocks(exp: Experiment) -> list[Block]:
    """The 'Confirmation over seeds' section, if ``tune-cifar confirm`` ran."""
    confirmation = read_confirmation(exp.path)
    what = confirmed_what(exp.spec)
    if confirmation is None:
        return [
            Block(
                "p",
                f"Test accuracy is not in this report: the search selects on the "
                f"validation split only. `tune-cifar confirm {exp.path}` re-trains "
                f"the top {what} with new seeds and tests them.",
            )
        ]
    table = confirmation.summary.rename(
        columns={
            "source_trial": "trial",
            "search_val_acc": "val_acc in the search",
            "test_acc_mean": "test mean",
            "test_acc_sd": "test sd",
            "test_acc_ci95_low": "95% CI low",
            "test_acc_ci95_high": "95% CI high",
            "val_acc_mean": "val_acc mean",
        }
    )
    protocol = (
        "The experiment validated on the test set (the seed's protocol): these test "
        "figures are not independent of the selection."
        if confirmation.test_is_validation
        else "The search selected on the holdout validation split; the test set was used "
        "only here, once per run, on the checkpoint of its best holdout epoch."
    )
    return [
        Block("h2", "Confirmation over seeds"),
        Block(
            "p",
            f"The top {len(table)} {what} re-trained with new seeds "
            f"(`{confirmation.folder}`). {protocol} The interval is Student's t "
            "for the mean.",
        ),
        Block("table", table),
    ]


def best_config_table(best: pd.Series) -> pd.DataFrame:
    """Every hyperparameter of the best trial, sampled or default (and the schedule it
    replayed, if it carried one: a confirmation of a PBT search)."""
    sampled = {
        k.removeprefix("config."): v
        for k, v in best.items()
        if k.startswith("config.") and not pd.isna(v)
    }
    resolved = split_schedule(sampled)[0].to_dict()
    if sampled.get(SCHEDULE_KEY):
        resolved[SCHEDULE_KEY] = sampled[SCHEDULE_KEY]
    return pd.DataFrame(
        [
            {"key": k, "value": v, "searched": "yes" if k in sampled else ""}
            for k, v in resolved.items()
        ]
    )


def markdown_table(frame: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += [
        "| " + " | ".join(format_value(v) for v in row) + " |"
        for row in frame.itertuples(index=False)
    ]
    return "\n".join(lines)


def render_markdown(blocks: list[Block], out: Path) -> str:
    parts = []
    for b in blocks:
        if b.kind == "h1":
            parts.append(f"# {b.content}")
        elif b.kind == "h2":
            parts.append(f"## {b.content}")
        elif b.kind == "p":
            parts.append(str(b.content))
        elif b.kind == "list":
            parts.append("\n".join(f"- {item}" for item in b.content))
        elif b.kind == "table":
            parts.append(markdown_table(b.content))
        elif b.kind == "image":
            rel = os.path.relpath(b.content, out)
            parts.append(f"![{b.caption}]({rel})\n\n*{b.caption}*")
    return "\n\n".join(parts) + "\n"


def _inline_md(text: str) -> str:
    """Our sentences' `code` and **bold** as escaped HTML."""
    out = []
    for i, segment in enumerate(text.split("`")):
        if i % 2:
            out.append(f"<code>{html.escape(segment)}</code>")
        else:
            pieces = html.escape(segment).split("**")
            out.append("".join(f"<b>{p}</b>" if j % 2 else p for j, p in enumerate(pieces)))
    return "".join(out)


def render_html(blocks: list[Block]) -> str:
    parts = []
    for b in blocks:
        if b.kind in ("h1", "h2"):
            parts.append(f"<{b.kind}>{html.escape(str(b.content))}</{b.kind}>")
        elif b.kind == "p":
            parts.append(f"<p>{_inline_md(str(b.content))}</p>")
        elif b.kind == "list":
            parts.append("<ul>" + "".join(f"<li>{_inline_md(i)}</li>" for i in b.content) + "</ul>")
        elif b.kind == "table":
            table = b.content.to_html(
                index=False, float_format=lambda v: f"{v:.4g}", na_rep="", border=0
            )
            parts.append(f'<div class="wide">{table}</div>')
        elif b.kind == "image":
            data = base64.b64encode(Path(b.content).read_bytes()).decode()
            parts.append(
                f'<figure><img src="data:image/png;base64,{data}" '
                f'alt="{html.escape(b.caption)}"><figcaption>'
                f"{html.escape(b.caption)}</figcaption></figure>"
            )
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;"
        "padding:0 1em;color:#222}table{border-collapse:collapse;font-size:0.9em}"
        "td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}"
        "img{max-width:100%}figcaption{color:#555;font-size:0.9em}"
        "code{background:#f3f3f3;padding:1px 4px}.wide{overflow-x:auto}"
        "td{white-space:nowrap}"
    )
    title = html.escape(str(blocks[0].content))
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    )


REPORT_FILES = ("report.md", "report.html")


def analyze_outputs() -> list[str]:
    """Every file name ``tune-cifar analyze`` may write into its folder."""
    from tune_cifar.analysis._frames import FRAME_FILES
    from tune_cifar.analysis._plots import PLOTS

    return [*FRAME_FILES, *(f"{name}.png" for name in PLOTS), *REPORT_FILES]


def write_report(exp: Experiment, plots: dict[str, Path], out: Path) -> tuple[Path, Path]:
    blocks = build_blocks(exp, plots)
    md, page = (out / name for name in REPORT_FILES)
    md.write_text(render_markdown(blocks, out))
    page.write_text(render_html(blocks))
    return md, page
