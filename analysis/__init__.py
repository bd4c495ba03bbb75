"""An experiment analysed: two tidy frames, plots, a report, and searches compared.

    from tune_cifar.analysis import load_experiment
    exp = load_experiment("~/tune-cifar-results/quick-20261127-120000")
    exp.trials.head()        # one row per trial
    exp.epochs               # one row per trial-epoch

From the shell: ``tune-cifar analyze EXP`` writes frames, plots and report.md/report.html;
``tune-cifar compare EXP EXP ...`` puts searches side by side. It reads experiments through
``tune_cifar.results`` and imports nothing of the search or the command line. (This folder is
the repository's ``analysis/``, the package ``tune_cifar.analysis`` through a link.) What it
offers is listed in ``__init__.pyi``.
"""

import lazy_loader as _lazy

__getattr__, __dir__, __all__ = _lazy.attach_stub(__name__, __file__)
