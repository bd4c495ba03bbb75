"""Analysis of tune-cifar experiments: frames, plots and a report.

In a notebook:

    from tune_cifar.analysis import load_experiment
    exp = load_experiment("~/tune-cifar-results/quick-20261127-120000")
    exp.trials.head()        # one row per trial
    exp.epochs               # one row per trial-epoch

From the shell: ``tune-cifar analyze EXP`` writes frames, plots and report.md/report.html.
"""

from tune_cifar.analysis.frames import Experiment, load_experiment, save_frames

__all__ = ["Experiment", "load_experiment", "save_frames"]
