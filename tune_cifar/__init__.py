"""tune-cifar: hyperparameter search for the seed study's CIFAR-10 CNNs on Ray Tune.

A map of the modules: one job each, and what each may import. Imports run one way, data ->
training -> trial -> search -> results -> analysis; the search side and the results side meet
only in the experiment folder, through the few modules both read (``errors``, ``metrics``,
``config``, ``spaces``, ``experiment``).

Shared (import nothing of the search or the results)
  errors          one-line errors, and how an exception becomes the line a user reads
  metrics         what a trial reports and how it is judged: METRIC, statuses, trial-epochs
  config          the validated, frozen per-trial hyperparameters, every key documented
  hardware        the machine in one line, for benchmark figures
  storage         where experiments live (a folder, s3://, gs://); the results' local cache
  data/           CIFAR-10 (restricted unpickler), the sample, synthetic images, the split

Training (data, config)
  model           the seed's VGG-style CNN family; dropout from the trial's own generator
  augment         batched, on-device flip / crop / RandomErasing
  cuda_step       one training step captured as a CUDA graph and replayed (torch only)
  training        one trial's training loop, resumable from a state dict (+ the above)
  checkpoint      state.pt: written atomically, read with weights_only, versioned (training)
  train_one       ``tune-cifar train``: one configuration, its best epoch kept (training)
  gpu_share       how many trials one GPU holds, measured in a probe process (training)

Trial (training; Ray's trial API only)
  trainable       the Ray Tune function trainable around a Trainer (+ stopping)
  stopping        how a search ends early and resumably: Ctrl-C, budgets, a full storage

Search (trial, results readers; Ray's driver API)
  search_options  every ``search`` flag and its checks, without torch or Ray
  spaces          search spaces from search_spaces/, a .py file or a .json of points
  optuna_search   Ray's OptunaSearch told what ASHA did (pruned, complete, failed)
  warm_start      what a search starts from: earlier experiments, the seed's configurations
  ray_private     every private Ray API tune-cifar touches, stated for Ray 2.60
  ray_runtime     starting or joining Ray; SIGTERM as Ctrl-C
  resources       what nodes give per trial, refused in one line; the GPU share
  lock            one writer per experiment (flock, released when the holder dies)
  workspace       claiming the experiment folder: never someone else's, never a running one
  progress        the live view on the console (a Tune callback)
  journal_callback  the Optuna journal written live during a search (a Tune callback)
  result_files    Tune's per-trial result files kept whole in the experiment (a Tune callback)
  tb_logger       TensorBoard files with readable tags (a Tune callback)
  promotion       ASHA with the paper's promotions: trials wait, paused, at the rungs
  search_setup    the search as Tune's examples build one: algorithm, scheduler, run config
  tuner           run, resume and report a search
  confirm         re-train the top configurations with new seeds, test once

Results (the experiment folder; never the search modules above)
  experiment      the spec file and the trials as plain files; a trial's best epoch
  confirmation    a confirmation read back (table of runs and per-configuration summary)
  population      PBT / PB2 read back: lineage, the path and schedule of a trial's weights
  restore         a checkpoint back as a model: evaluate, predict
  journal         every search as an Optuna study: its trials, rebuilt from Tune's files
  dashboard       optuna-dashboard over the journal, read-only unless asked
  analysis/       frames, plots, the report, and searches compared (the repository's analysis/
                  folder)

Command line
  cli, cli_args, results_cli   the ``tune-cifar`` command and its subcommands

``tune_cifar.analysis`` and ``tune_cifar.search_spaces`` are the repository's top-level
``analysis/`` and ``search_spaces/`` folders, reached through two symbolic links in this folder:
the same for an install, an editable install and a checkout used as it is
(``PYTHONPATH=checkout``, as on the offline GPU machine).
"""

__version__ = "0.1.0"
