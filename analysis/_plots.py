"""Plots of an experiment: each ``draw_NAME(exp)`` gives its matplotlib figure (or None where
it does not apply), ``PLOTS`` names them, ``write_plots`` writes them all as PNG files.

    paths = write_plots(load_experiment(folder), out_dir)   # {plot name: PNG path}
    fig = load_experiment(folder).plot("best_curves")        # one figure, for a notebook

- ``best_curves``: validation accuracy per epoch of the top trials, labelled by the
  hyperparameters that tell them apart (the seed's optimizer comparison, generalised);
- ``all_trials``: every trial's curve, ASHA's rungs as dotted lines, an x where a trial stopped;
- ``best_trial``: the best trial's train vs validation loss and accuracy (seed's
  evaluate_history pair);
- ``effects``: best validation accuracy against each hyperparameter;
- ``importance``: Optuna's fANOVA importance of each hyperparameter;
- ``parallel``: Optuna's parallel-coordinates plot of the top trials;
- ``rank_stability``: how well each epoch's ranking predicts the final one, against ASHA's
  rungs (``_stability``);
- ``confirmation``: the re-trained runs' test accuracy, after ``tune-cifar confirm``;
- ``pareto``: best val_acc against the cost of a multi-objective search, its Pareto front;
- ``population``: a PBT / PB2 search's trials, their mutations and who copied whom;
- ``sampling``: PriorBand's weights trial by trial, and where each configuration came from.

A plot that needs more than the experiment has (importance with fewer than three finished
trials, effects with no hyperparameter that varies, the last three outside their kind of
search) is skipped, not drawn empty.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from tune_cifar.analysis._backend import plt
from tune_cifar.analysis._frames import Experiment
from tune_cifar.analysis._pareto import COST_LABELS, pareto_front, seed_trials
from tune_cifar.analysis._stability import STABLE_RHO, rank_stability
from tune_cifar.analysis._study import (
    IMPORTANCE_TRIALS,
    MIN_TRIALS_FOR_IMPORTANCE,
    important_params,
    precomputed_evaluator,
    top_trials_study,
)
from tune_cifar.constants import (
    CONFIG_PREFIX,
    LINEAGE,
    PRIOR_MODE,
    SAMPLE_NUMBER,
    SAMPLED_FROM,
    SAMPLING_WEIGHTS,
    TRAINING_ITERATION,
)
from tune_cifar.metrics import (
    DIVERGED,
    DONE,
    ERRORED,
    RUNG_SCHEDULERS,
    STOPPED_EARLY,
    UNFINISHED,
    asha_rungs,
)
from tune_cifar.results import copies, format_value, is_population, mutated_keys, read_confirmation
from tune_cifar.search_spaces.seed_study import BEST_TEST_ACC as SEED_BEST

TOP_K = 5
LINES_AT_MOST = 300  # trials drawn one line each in all_trials; above, the top and a band
TOP_LINES = 30
PARALLEL_TOP = 12
LABEL_PARAMS = 4  # hyperparameters named in a curve's label
PARALLEL_PARAMS = 6  # axes of the parallel-coordinates plot besides the metric
STATUS_COLORS = {
    DONE: "tab:blue",
    STOPPED_EARLY: "tab:gray",
    DIVERGED: "tab:red",
    ERRORED: "tab:red",
    UNFINISHED: "tab:orange",
}


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers in numeric order before anything else in text order."""
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return (0, float(value))
    return (1, str(value))


def trial_label(trial: pd.Series, keys: list[str]) -> str:
    """``keys`` of a trial as 'key=value' pairs."""
    return ", ".join(f"{k.removeprefix('config.')}={format_value(trial[k], 3)}" for k in keys)


def save_figure(fig: Figure, path: Path) -> Path:
    """A drawn plot as a PNG file; the figure leaves pyplot's open figures."""
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _curve(exp: Experiment, trial_id: str, column: str) -> pd.DataFrame:
    rows = exp.epochs[exp.epochs["trial_id"] == trial_id]
    return rows[["epoch", column]].sort_values("epoch")


def draw_best_curves(exp: Experiment) -> Figure:
    top = exp.trials.head(TOP_K)
    keys = important_params(exp, LABEL_PARAMS) or exp.config_columns
    fig, ax = plt.subplots(figsize=(9, 6.5), layout="constrained")
    for rank, (_, trial) in enumerate(top.iterrows(), start=1):
        curve = _curve(exp, trial["trial_id"], "val_acc")
        (line,) = ax.plot(
            curve["epoch"],
            curve["val_acc"],
            marker="o",
            ms=3,
            label=f"#{rank} {trial['best_val_acc']:.3f}: {trial_label(trial, keys)}",
        )
        ax.plot(trial["best_epoch"], trial["best_val_acc"], "*", ms=12, color=line.get_color())
    ax.set(
        title=f"Validation accuracy of the top {len(top)} of {len(exp.trials)} trials "
        "(star = best epoch)",
        xlabel="epoch",
        ylabel="validation accuracy (fraction correct)",
    )
    ax.set_xlim(0.5, exp.max_epochs + 0.5)
    ax.grid(alpha=0.3)
    more = len(exp.hyperparameters) - len(keys)
    title = "rank, best val_acc: " + (
        "hyperparameters"
        if more <= 0
        else f"the {len(keys)} most important of {len(exp.hyperparameters)} hyperparameters"
    )
    fig.legend(fontsize=8, loc="outside lower center", title=title, title_fontsize=8)
    return fig


def experiment_rungs(exp: Experiment) -> list[int]:
    """The epochs at which ASHA compared trials (empty for FIFO and populations)."""
    opts = exp.spec["options"]
    if opts.get("scheduler") not in RUNG_SCHEDULERS:
        return []
    return asha_rungs(opts["grace_period"], opts["reduction_factor"], exp.max_epochs)


def draw_all_trials(exp: Experiment) -> Figure:
    """Every trial's validation accuracy per epoch; above ``LINES_AT_MOST`` trials the lines
    would be ink, so the top ``TOP_LINES`` are lines and all of them a band (the 5th to 95th
    percentile of the trials that reached each epoch) with its median, as the title says."""
    curves = {
        tid: rows.sort_values("epoch") for tid, rows in exp.epochs.groupby("trial_id", sort=False)
    }
    many = len(exp.trials) > LINES_AT_MOST
    drawn = exp.trials.head(TOP_LINES) if many else exp.trials
    fig, ax = plt.subplots(figsize=(9, 5.5), layout="constrained")
    if many:
        per_epoch = exp.epochs.groupby("epoch")["val_acc"]
        band = per_epoch.quantile([0.05, 0.5, 0.95]).unstack()
        ax.fill_between(
            band.index,
            band[0.05],
            band[0.95],
            color="tab:blue",
            alpha=0.18,
            label="all trials: 5th to 95th percentile per epoch",
        )
        ax.plot(
            band.index, band[0.5], color="tab:blue", ls="--", lw=1.5, label="all trials: median"
        )
    seen = set()
    for _, trial in drawn.iterrows():
        curve = curves.get(trial["trial_id"], pd.DataFrame(columns=["epoch", "val_acc"]))
        status = trial["status"]
        color = STATUS_COLORS.get(status, "tab:purple")
        label = None if status in seen else status
        seen.add(status)
        ax.plot(curve["epoch"], curve["val_acc"], color=color, alpha=0.6, lw=1.2, label=label)
        if status != DONE and not curve.empty:
            ax.plot(curve["epoch"].iloc[-1], curve["val_acc"].iloc[-1], "x", color=color, ms=7)
    for i, rung in enumerate(experiment_rungs(exp)):
        ax.axvline(rung, ls=":", color="black", alpha=0.6, label="ASHA rung" if i == 0 else None)
    title = (
        f"{len(exp.trials):,} trials: validation accuracy per epoch (the top "
        f"{len(drawn)} as lines, x = stopped; the band: all)"
        if many
        else f"All {len(exp.trials)} trials: validation accuracy per epoch "
        "(x = where a trial stopped)"
    )
    ax.set(title=title, xlabel="epoch", ylabel="validation accuracy (fraction correct)")
    ax.set_xlim(0.5, exp.max_epochs + 0.5)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="lower right")
    return fig


def draw_best_trial(exp: Experiment) -> Figure:
    best = exp.trials.iloc[0]
    rows = exp.epochs[exp.epochs["trial_id"] == best["trial_id"]].sort_values("epoch")
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4.8), layout="constrained")
    for ax, what, unit in (
        (ax_loss, "loss", "mean cross-entropy per image"),
        (ax_acc, "acc", "accuracy (fraction correct)"),
    ):
        ax.plot(rows["epoch"], rows[f"train_{what}"], marker="o", ms=3, label="train")
        ax.plot(rows["epoch"], rows[f"val_{what}"], marker="o", ms=3, label="validation")
        ax.set(xlabel="epoch", ylabel=unit, title=f"{'Loss' if what == 'loss' else 'Accuracy'}")
        ax.grid(alpha=0.3)
        ax.legend()
    keys = important_params(exp, LABEL_PARAMS)
    fig.suptitle(
        f"Best trial {best['trial_id']} (best val_acc {best['best_val_acc']:.4f} at "
        f"epoch {best['best_epoch']})" + (f": {trial_label(best, keys)}" if keys else ""),
        fontsize=10,
    )
    return fig


def draw_effects(exp: Experiment) -> Figure | None:
    params = exp.hyperparameters
    if not params:
        return None
    cols = min(3, len(params))
    rows = math.ceil(len(params) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols, 3.4 * rows + 0.6), squeeze=False, layout="constrained"
    )
    rng = np.random.default_rng(0)
    scaled = exp.log_scaled
    for ax, param in zip(axes.flat, params, strict=False):
        data = exp.trials[[param, "best_val_acc", "status"]].dropna()
        name = param.removeprefix("config.")
        colors = [STATUS_COLORS.get(s, "tab:purple") for s in data["status"]]
        if (
            pd.api.types.is_numeric_dtype(data[param])
            and data[param].nunique() > 4
            and not (pd.api.types.is_bool_dtype(data[param]))
        ):
            ax.scatter(data[param], data["best_val_acc"], c=colors, alpha=0.8)
            if name in scaled:
                ax.set_xscale("log")
                decades = np.log10(data[param].max() / data[param].min())
                subs = (1.0,) if decades > 1.5 else (1.0, 2.0, 5.0)
                ax.xaxis.set_major_locator(LogLocator(subs=subs))
                ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                ax.xaxis.set_minor_formatter(NullFormatter())
            else:
                ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        else:
            levels = [str(v) for v in sorted(data[param].unique(), key=_sort_key)]
            ax.boxplot(
                [data.loc[data[param].astype(str) == lv, "best_val_acc"] for lv in levels],
                tick_labels=levels,
                widths=0.5,
                showfliers=False,
            )
            position = data[param].astype(str).map({lv: i for i, lv in enumerate(levels, 1)})
            ax.scatter(
                position + rng.uniform(-0.12, 0.12, len(data)),
                data["best_val_acc"],
                c=colors,
                alpha=0.8,
                s=18,
            )
        ax.set(xlabel=name, ylabel="best validation accuracy")
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(params) :]:
        ax.set_visible(False)
    statuses = [s for s in STATUS_COLORS if s in set(exp.trials["status"])]
    fig.legend(
        handles=[
            plt.Line2D([], [], ls="", marker="o", color=STATUS_COLORS[s], label=s) for s in statuses
        ],
        loc="outside lower center",
        fontsize=9,
        ncols=len(statuses),
    )
    fig.suptitle("Best validation accuracy of each trial against each hyperparameter", fontsize=11)
    return fig


def _optuna_plot(
    study: Any, draw: Callable[[Any], Any], min_trials: int, title: str
) -> Figure | None:
    if study is None or len(study.get_trials(deepcopy=False)) < min_trials:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's matplotlib plots are marked experimental
        ax = draw(study)
    fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
    fig.set_size_inches(10, 5.5)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig


def draw_importance(exp: Experiment) -> Figure | None:
    from optuna.visualization.matplotlib import plot_param_importances

    def draw(study: Any) -> Any:
        ax = plot_param_importances(study, evaluator=precomputed_evaluator(exp.importances))
        ax.set_title("", loc="left")
        ax.set_title("")
        legend = ax.get_legend()
        if legend is not None:
            legend.remove()
        ax.set_xlabel("importance for best validation accuracy (fANOVA, sums to 1)")
        return ax

    if not exp.importances:
        return None
    return _optuna_plot(
        exp.study,
        draw,
        MIN_TRIALS_FOR_IMPORTANCE,
        f"Hyperparameter importance over {len(exp.trials):,} trials"
        + (
            f" (fANOVA on a seeded {IMPORTANCE_TRIALS:,} of them)"
            if exp.study is not None
            and len(exp.study.get_trials(deepcopy=False)) > IMPORTANCE_TRIALS
            else ""
        ),
    )


def draw_parallel(exp: Experiment) -> Figure | None:
    from optuna.visualization.matplotlib import plot_parallel_coordinate

    def draw(study: Any) -> Any:
        params = [p.removeprefix("config.") for p in important_params(exp, PARALLEL_PARAMS)]
        ax = plot_parallel_coordinate(study, params=params, target_name="best val_acc")
        ax.set_title("", loc="left")
        ax.set_title("")
        for lines in ax.collections:
            if isinstance(lines, LineCollection):
                lines.set_cmap("viridis")  # Optuna's "Blues" draws the weakest trials in white
        return ax

    top = min(PARALLEL_TOP, len(exp.trials))
    shown = min(PARALLEL_PARAMS, len(exp.hyperparameters))
    which = (
        ""
        if shown == len(exp.hyperparameters)
        else f", the {shown} most important of {len(exp.hyperparameters)} hyperparameters"
    )
    return _optuna_plot(
        top_trials_study(exp, top),
        draw,
        2,
        f"Parallel coordinates of the top {top} trials{which} (colour = best val_acc)",
    )


def draw_confirmation(exp: Experiment) -> Figure | None:
    """Test accuracy of each re-trained seed of the top configurations, their mean with its
    95% interval, and the holdout val_acc that had the search pick them."""
    confirmation = read_confirmation(exp.path)
    if confirmation is None or confirmation.runs.empty:
        return None
    runs, summary = confirmation.runs, confirmation.summary
    fig, ax = plt.subplots(figsize=(9, 5.5), layout="constrained")
    for i, config in enumerate(summary.itertuples(), start=1):
        seeds = runs[runs["rank"] == config.rank]
        ax.scatter(
            np.full(len(seeds), i) + np.linspace(-0.08, 0.08, len(seeds)),
            seeds["test_acc"],
            color="tab:blue",
            s=22,
            alpha=0.7,
            label="test accuracy of one seed" if i == 1 else None,
        )
        if np.isfinite(config.test_acc_ci95_low):
            ax.errorbar(
                i + 0.22,
                config.test_acc_mean,
                yerr=[
                    [config.test_acc_mean - config.test_acc_ci95_low],
                    [config.test_acc_ci95_high - config.test_acc_mean],
                ],
                fmt="o",
                color="black",
                capsize=5,
                label="mean and 95% interval" if i == 1 else None,
            )
        ax.scatter(
            i - 0.22,
            config.search_val_acc,
            marker="D",
            facecolor="none",
            edgecolor="tab:orange",
            s=40,
            label="holdout val_acc when the search picked it" if i == 1 else None,
        )
    ax.set_xticks(
        range(1, len(summary) + 1), [f"#{r.rank} {r.source_trial}" for r in summary.itertuples()]
    )
    ax.axhline(
        SEED_BEST, ls="--", color="tab:red", lw=1, label=f"seed study's best by hand, {SEED_BEST}"
    )
    ax.set(
        xlabel="configuration (search rank, trial)",
        ylabel="accuracy (fraction correct)",
        title=f"The top {len(summary)} configurations re-trained with "
        f"{int(summary['runs'].max())} new seeds each",
    )
    ax.grid(alpha=0.3, axis="y")
    fig.legend(fontsize=8, loc="outside lower center", ncols=2)
    return fig


def draw_rank_stability(exp: Experiment) -> Figure | None:
    """Spearman correlation of each epoch's ranking with the final one (trials that ran every
    epoch), the 0.8 line, ASHA's rungs."""
    stability = rank_stability(exp)
    if stability is None:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    ax.plot(
        stability.epochs,
        stability.rho,
        marker="o",
        color="tab:blue",
        label=f"{stability.trials} trials that ran every epoch",
    )
    ax.axhline(STABLE_RHO, color="tab:green", ls="--", lw=1, label=f"settled: {STABLE_RHO}")
    for i, rung in enumerate(experiment_rungs(exp)):
        ax.axvline(rung, color="gray", ls=":", lw=1, label="ASHA rung" if i == 0 else None)
    if stability.stable_from is not None:
        ax.axvspan(
            stability.stable_from - 0.5, max(stability.epochs) + 0.5, color="tab:green", alpha=0.08
        )
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("epoch")
    ax.set_ylabel("Spearman correlation with the final ranking")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    settled = (
        f"settled from epoch {stability.stable_from}" if stability.stable_from else "never settled"
    )
    ax.set_title(f"When could early stopping be trusted?\nThe ranking {settled}")  # (2 lines fit)
    return fig


def draw_population(exp: Experiment) -> Figure | None:
    """PBT / PB2: each trial's validation accuracy and mutated hyperparameters per epoch, as it
    reported them; a dashed line joins a trial to the trial whose weights it copied."""
    records = exp.records
    if not is_population(records):
        return None
    keys = mutated_keys(records)
    fig, axes = plt.subplots(
        1 + len(keys),
        1,
        figsize=(9, 4 + 2.2 * len(keys)),
        sharex=True,
        layout="constrained",
        squeeze=False,
    )
    colors = {t.trial_id: f"C{i % 10}" for i, t in enumerate(records)}
    by_id = {t.trial_id: t for t in records}
    for trial in records:
        for _, rows in trial.reports.groupby(LINEAGE, sort=False):
            rows = rows.drop_duplicates(TRAINING_ITERATION, keep="last")
            color = colors[trial.trial_id]
            axes[0, 0].plot(
                rows[TRAINING_ITERATION],
                rows["val_acc"],
                marker="o",
                ms=2.5,
                lw=1.2,
                color=color,
                alpha=0.8,
            )
            for ax, key in zip(axes[1:, 0], keys, strict=True):  # a change takes effect
                ax.step(
                    rows[TRAINING_ITERATION],
                    rows[f"{CONFIG_PREFIX}{key}"],
                    where="mid",
                    marker="o",
                    ms=2.5,
                    lw=1.2,
                    color=color,
                    alpha=0.8,
                )  # between epochs
    ax = axes[0, 0]
    for _, copy in copies(records).iterrows():
        donor = by_id.get(copy["donor"])
        if donor is None:
            continue
        before = donor.reports[donor.reports[TRAINING_ITERATION] == copy["epoch"] - 1]
        after = by_id[copy["trial_id"]].reports
        after = after[after[TRAINING_ITERATION] == copy["epoch"]]
        if not before.empty and not after.empty:
            ax.plot(
                [copy["epoch"] - 1, copy["epoch"]],
                [before["val_acc"].iloc[-1], after["val_acc"].iloc[-1]],
                ls="--",
                lw=0.9,
                color=colors[copy["trial_id"]],
            )
    ax.set(
        title=f"Population-based training: {len(records)} trials, {len(copies(records))} "
        "copies\n(dashed: a trial continues a stronger trial's weights)",
        ylabel="validation accuracy",
    )
    if len(records) <= 12:
        for trial in records:
            ax.plot([], [], color=colors[trial.trial_id], label=trial.trial_id)
        ax.legend(fontsize=7, loc="lower right", ncols=2)
    for ax, key in zip(axes[1:, 0], keys, strict=True):
        ax.set_ylabel(key)
        if key == "lr":
            ax.set_yscale("log")
    for ax in axes[:, 0]:
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("epoch")
    axes[-1, 0].xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig


def draw_pareto(exp: Experiment) -> Figure | None:
    """A multi-objective search: every trial's best val_acc against its cost, the Pareto front
    of the trials that ran every epoch, and the seed study's configurations among them."""
    cost = exp.cost
    if cost is None:
        return None
    trials = exp.trials[
        np.isfinite(exp.trials[cost].astype(float))
        & np.isfinite(exp.trials["best_val_acc"].astype(float))
    ]
    if trials.empty:
        return None
    front = pareto_front(exp.trials, cost)
    fig, ax = plt.subplots(figsize=(9, 5.5), layout="constrained")
    for status, group in trials.groupby("status"):
        ax.scatter(
            group[cost],
            group["best_val_acc"],
            s=28,
            alpha=0.7,
            color=STATUS_COLORS.get(status, "tab:purple"),
            label=status,
            marker="o" if status == DONE else "x",
        )
    if not front.empty:
        ax.step(
            front[cost],
            front["best_val_acc"],
            where="post",
            color="tab:red",
            lw=1.5,
            label=f"Pareto front ({len(front)} trials that ran every epoch)",
        )
    seeds = seed_trials(exp)
    for trial_id, run in seeds.items():
        row = trials[trials["trial_id"] == trial_id]
        if not row.empty:
            ax.scatter(
                row[cost],
                row["best_val_acc"],
                marker="*",
                s=160,
                color="gold",
                edgecolor="black",
                zorder=3,
            )
            ax.annotate(
                f"seed run {run}",
                (row[cost].iloc[0], row["best_val_acc"].iloc[0]),
                textcoords="offset points",
                xytext=(6, 4),
                fontsize=8,
            )
    if cost == "cost.params":
        ax.set_xscale("log")
    ax.set(
        title=f"Accuracy against {COST_LABELS[cost]}: {len(trials)} trials"
        + (" (star: a seed study configuration)" if seeds else ""),
        xlabel=f"{COST_LABELS[cost]} (lower is better)",
        ylabel="best validation accuracy (higher is better)",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig


WEIGHT_COLORS = {"prior": "tab:green", "uniform": "tab:gray", "incumbent": "tab:purple"}
# where a configuration came from: one of the three weighted ways, or the prior's mode (the
# search's first trial, before any weights)
SOURCE_COLORS = {PRIOR_MODE: "black", **WEIGHT_COLORS}


def sampling_weights(text: str) -> dict[str, float]:
    """PriorBand's weights as a trial's annotation states them ("prior 0.500, uniform
    0.500, incumbent 0.000")."""
    pairs = (part.strip().rsplit(" ", 1) for part in str(text).split(","))
    return {name: float(value) for name, value in pairs}


def draw_sampling(exp: Experiment) -> Figure | None:
    """PriorBand: the weights each configuration was drawn with, trial by trial, and each
    trial's best val_acc coloured by where its configuration came from."""
    if SAMPLED_FROM not in exp.trials:
        return None
    trials = exp.trials.dropna(subset=[SAMPLED_FROM]).sort_values(SAMPLE_NUMBER)
    if trials.empty:
        return None
    order = trials[SAMPLE_NUMBER].astype(int).to_numpy()
    weights = pd.DataFrame([sampling_weights(w) for w in trials[SAMPLING_WEIGHTS]])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True, layout="constrained")
    top.stackplot(
        order,
        *(weights[s] for s in WEIGHT_COLORS),
        step="mid",
        alpha=0.75,
        labels=list(WEIGHT_COLORS),
        colors=list(WEIGHT_COLORS.values()),
    )
    top.set(
        ylabel="probability",
        ylim=(0, 1),
        title="PriorBand: how likely each way of drawing a new configuration was",
    )
    top.legend(fontsize=8, loc="upper right")
    for source, color in SOURCE_COLORS.items():
        drawn = trials[SAMPLED_FROM] == source
        if source not in WEIGHT_COLORS and not drawn.any():
            continue
        bottom.scatter(
            order[drawn.to_numpy()],
            trials.loc[drawn, "best_val_acc"],
            color=color,
            s=30,
            label=f"{source} ({int(drawn.sum())})",
        )
    bottom.set(
        xlabel="trial, in the order it was drawn",
        ylabel="best validation accuracy",
        title="each trial's best, by where its configuration came from",
    )
    bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
    bottom.legend(fontsize=8, loc="best")  # clear of the points (many sit at chance)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    return fig


# Each of the report's plots by its name (its PNG's name): the figure, or None where it does
# not apply to the experiment.
PLOTS: dict[str, Callable[[Experiment], Figure | None]] = {
    "best_curves": draw_best_curves,
    "all_trials": draw_all_trials,
    "best_trial": draw_best_trial,
    "effects": draw_effects,
    "importance": draw_importance,
    "parallel": draw_parallel,
    "confirmation": draw_confirmation,
    "rank_stability": draw_rank_stability,
    "population": draw_population,
    "pareto": draw_pareto,
    "sampling": draw_sampling,
}


def write_plots(exp: Experiment, out: Path) -> dict[str, Path]:
    """Every plot that applies, as ``out/<name>.png``."""
    out.mkdir(parents=True, exist_ok=True)
    if exp.trials.empty:
        return {}
    written = {}
    for name, draw in PLOTS.items():
        fig = draw(exp)
        if fig is not None:
            written[name] = save_figure(fig, out / f"{name}.png")
    return written
