"""Every name tune-cifar writes or reads in an experiment, named once (syne-tune's habit in
``syne_tune/constants.py``): the keys a trial reports beside its metrics, the keys and files
Ray Tune writes, and the files and folders of tune-cifar's own. Nothing else retypes these
literals; ``tests/test_constants.py`` holds Tune's names to ``ray.tune.result``.

The metrics themselves (``val_acc`` and the rest, with their TensorBoard tags) and what they
mean are in ``tune_cifar.metrics``. Imports nothing.
"""

from __future__ import annotations

# -- Keys Ray Tune adds to every result (``ray.tune.result``) -----------------------------

TRAINING_ITERATION = "training_iteration"
"""How many times the trial has reported: its epoch (tune-cifar reports once per epoch)."""

TRIAL_ID = "trial_id"
"""The trial's id in Tune ("3f2a1_00004"), in every result."""

DONE_FLAG = "done"
"""True in a trial's last result when it ended by itself (Tune's flag; not our status)."""

TIME_TOTAL_S = "time_total_s"
"""Seconds the trial has trained in all, by Tune's clock."""

TIME_THIS_ITER_S = "time_this_iter_s"
"""Seconds of the epoch a result reports, by Tune's clock."""

TIMESTAMP = "timestamp"
"""When Tune received a result, in whole seconds since the Unix epoch."""

CHECKPOINT_DIR_NAME = "checkpoint_dir_name"
"""The folder (in the trial's folder) of the checkpoint reported with this result, if any."""

CONFIG_PREFIX = "config/"
"""The prefix of a result's flattened config columns in Tune's files ("config/lr")."""

# -- Keys a tune-cifar trial reports beside its metrics ------------------------------------

EPOCH = "epoch"
"""The epoch the metrics are of (equal to TRAINING_ITERATION in a search)."""

DIVERGED_FLAG = "diverged"
"""True when the epoch's loss became NaN or inf; the trial stops after it."""

TRAIN_STEP = "train_step"
"""How full batches trained: "cuda graph", "eager", or why the graph was given up."""

NODE_ID = "node_id"
"""The Ray node that trained the epoch ("local" outside a Ray worker)."""

NICE = "nice"
"""The niceness the trial's process trained at (``--nice``; a Ray worker may not go below
the niceness it was started at)."""

MAX_EPOCHS = "max_epochs"
"""The most epochs the trial may train, in every report: what an experiment that a user's
own ``tune.Tuner`` ran with ``tune_cifar.trainable`` (no spec file) is read with."""


LINEAGE = "lineage"
"""PBT / PB2: whose weights the trial's epochs continued ("A@1 X@5": epochs 1-4 trained by
trial A, from epoch 5 on by X; ``metrics.format_lineage``)."""

STORAGE_FULL_ERROR = "storage_full"
"""The error line of a checkpoint that could not be written for lack of space; the search
then stops in order (``tune_cifar.tuning`` watches for it)."""

# -- Keys a searcher may add to a trial's config beside its hyperparameters -----------------

SAMPLED_FROM = "sampled_from"
"""``--search priorband``: where the trial's configuration was drawn from: "prior mode" (the
believed configuration itself, the search's first), "prior", "uniform" or "incumbent"."""

PRIOR_MODE = "prior mode"
"""The ``SAMPLED_FROM`` of PriorBand's first trial, the prior's mode (``--prior-mode``)."""

SAMPLING_WEIGHTS = "sampling_weights"
"""``--search priorband``: the weights of the three when it was drawn ("prior 0.500, uniform
0.500, incumbent 0.000")."""

SAMPLE_NUMBER = "sample_number"
"""``--search priorband``: which of the searcher's draws it was (1, 2, ...; trial ids of a
searcher's trials do not say their order)."""

FULL_BUDGET = "full_budget"
"""A searcher's request that the trial train to ``--max-epochs``, never stopped or paused at
a rung (``--search priorband``'s first trial, the prior's mode, under ``--prior-mode
full-budget``); both ASHA schedulers honour it, and still count its value at each rung."""

ANNOTATIONS = (SAMPLED_FROM, SAMPLING_WEIGHTS, SAMPLE_NUMBER, FULL_BUDGET)
"""The config keys that say how a configuration was chosen, not how it trains: the trial
drops them before it builds its configuration, and readers keep them apart."""

# -- Files and folders Ray Tune writes (``ray.tune.result``) -------------------------------

RESULT_FILE = "result.json"
"""In a trial's folder: one JSON object per report, appended as the trial reports."""

PROGRESS_FILE = "progress.csv"
"""In a trial's folder: the same reports as CSV (read where there is no RESULT_FILE)."""

PARAMS_FILE = "params.json"
"""In a trial's folder: the trial's first configuration."""

ERROR_FILE = "error.txt"
"""In a trial's folder: each failure's text, appended ("Failure # N (occurred at ...)")."""

EXPERIMENT_STATE_PREFIX = "experiment_state-"
"""The name of Tune's saved experiment state starts so (one JSON file per save)."""

CHECKPOINT_PREFIX = "checkpoint_"
"""The name of a checkpoint folder in a trial's folder starts so ("checkpoint_000004")."""

TRIAL_PREFIX = "trial_"
"""The name of a trial's folder starts so ("trial_3f2a1_00004"; tune-cifar names them)."""

# -- tune-cifar's own files in an experiment ----------------------------------------------

SPEC_FILE = "tune_cifar_spec.json"
"""In the experiment: what was asked (space, data, flags, versions, the command line)."""

JOURNAL_FILE = "optuna_journal.log"
"""In the experiment: the search as an Optuna study (``tune_cifar.results.open_journal``)."""

LOCK_FILE = ".tune_cifar.lock"
"""In the experiment: who writes it now (a flock, or a lease in object storage)."""

RESERVE_FILE = ".tune_cifar_reserve"
"""In a running search's experiment: room kept for Tune's last save when the disk fills."""

STOPPED_FILE = "stopped.json"
"""In a trial's folder: its scheduler stopped it while it waited between reports (its result
rows cannot say so)."""

STATE_FILE = "state.pt"
"""In a checkpoint folder: the trainer's whole state (``tune_cifar.train.save_state``)."""

REMOTE_MARK = ".tune_cifar_remote"
"""In a folder of the local cache: the object-storage URI it mirrors."""

ANALYSIS_DIR = "analysis"
"""In the experiment: what ``analyze`` (and ``confirm``, ``evaluate``) write by default."""

CONFIRM_DIR = "confirm"
"""In the experiment: the confirmation, an experiment of its own (``tune-cifar confirm``)."""

CONFIRM_SPACE_FILE = "confirm_space.json"
"""In the experiment: the configurations and seeds the confirmation re-trains."""

CONFIRM_RUNS_FILE = "confirm_runs.csv"
"""In CONFIRM_DIR: one row per re-trained run, with its test accuracy."""

CONFIRM_SUMMARY_FILE = "confirm_summary.csv"
"""In CONFIRM_DIR: one row per configuration: mean, sd and 95% interval of test accuracy."""

# -- What ``tune-cifar train`` writes in its --out folder ----------------------------------

TRAIN_HISTORY_FILE = "history.csv"
"""One row per epoch: the metrics, when the epoch ended, how many images it trained."""

TRAIN_CONFIG_FILE = "config.json"
"""The configuration trained (with --replay: the first one)."""

TRAIN_SCHEDULE_FILE = "schedule.json"
"""With --replay: each configuration with the epoch it took effect."""

TRAIN_CHECKPOINT_DIR = "checkpoint"
"""The state after the epoch of best val_acc (the latest of equal ones)."""

# -- What the other results commands write -------------------------------------------------

COMPARE_TABLE_FILE = "compare.csv"
"""``tune-cifar compare``: one row per experiment."""

COMPARE_PLOT_FILE = "compare.png"
"""``tune-cifar compare``: best val_acc so far against trial-epochs spent."""

EVALUATION_FILE = "evaluation.json"
"""``tune-cifar evaluate``: the figures it printed."""

EVALUATION_PLOT_FILES = ("confusion_matrix.png", "predictions.png")
"""The pictures ``tune-cifar evaluate`` draws: the confusion matrix, the seed's image grid."""

OUTPUTS_FILE = "tune_cifar_outputs.json"
"""In a folder named with ``--out``: the files each tune-cifar command wrote there, so that
a later run replaces those and refuses to replace anything else."""
