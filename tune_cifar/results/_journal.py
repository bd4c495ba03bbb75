"""Every search as an Optuna study, written live to a journal file in the experiment folder.

Whatever algorithm runs the search (random, grid, fixed points or Optuna TPE), each Tune trial
becomes an Optuna trial in ``EXP/optuna_journal.log`` (Optuna's ``JournalStorage`` with a file
backend), so optuna-dashboard and any Optuna tool can read the search while it runs:

- its searched hyperparameters, with the distributions the space samples them from;
- the validation accuracy of every epoch as an intermediate value (step = epoch);
- its state: running; pruned when ASHA stopped it early; complete when it ran every epoch;
  failed when it raised or its loss became NaN/inf;
- user attributes that link it back: Tune trial id, trial folder, best epoch and checkpoint.

A multi-objective search (``--objective val_acc,COST``) writes a study of two objectives
(val_acc maximised, the cost minimised), whose values are those of the best epoch; Optuna
keeps no intermediate values for such trials, so none are written, and optuna-dashboard
shows the study's Pareto front.

A complete trial's value is the validation accuracy of its best epoch (``best_row``: the
epoch every tune-cifar command selects); a pruned trial's is its last, as Optuna records
pruned trials. ``JournalCallback`` (``tune_cifar.search.callbacks``) writes the
study during a search (a resumed search goes on writing the same one); ``build_journal``
writes it afterwards from Tune's files, for experiments made before the journal existed
(with the distributions the spec recorded for the space).

    storage = open_journal(EXP)          # optuna.storages.JournalStorage
    study = optuna.load_study(study_name=EXP.name, storage=storage)
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from tune_cifar.constants import JOURNAL_FILE, SPEC_FILE, TRAINING_ITERATION
from tune_cifar.metrics import COSTS, DONE, METRIC, STOPPED_EARLY, UNFINISHED
from tune_cifar.results._best import best_row
from tune_cifar.results._spec import read_spec, recorded_distributions
from tune_cifar.results._trials import TrialRecord, load_trials, plain, trial_status

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution

TUNE_TRIAL_ID = "tune_trial_id"  # the user attribute that links an Optuna trial to Tune's


def open_journal(folder: Path) -> optuna.storages.JournalStorage:
    """The journal storage of an experiment folder (created if it does not exist)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(Path(folder) / JOURNAL_FILE)))


class JournalRecorder:
    """Writes Tune trials into one Optuna study, keyed by Tune trial id."""

    def __init__(
        self,
        folder: Path,
        distributions: dict[str, BaseDistribution],
        metric: str = METRIC,
        attrs: dict[str, Any] | None = None,
        cost: str | None = None,
    ):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.distributions = distributions
        self.cost = cost  # the reported metric minimised beside ``metric``, if any
        self.storage = open_journal(folder)
        self.study = optuna.create_study(
            study_name=Path(folder).name,
            storage=self.storage,
            load_if_exists=True,
            directions=["maximize", "minimize"] if cost else ["maximize"],
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # the dashboard names the values after them
            self.study.set_metric_names([metric, cost] if cost else [metric])
        self.study_id = self.storage.get_study_id_from_name(self.study.study_name)
        for key, value in (attrs or {}).items():
            self.study.set_user_attr(key, value)
        # A resumed search: trials already in the study keep their Optuna trials.
        self.ids: dict[str, int] = {
            t.user_attrs[TUNE_TRIAL_ID]: self.storage.get_trial_id_from_study_id_trial_number(
                self.study_id, t.number
            )
            for t in self.study.get_trials(deepcopy=False)
            if TUNE_TRIAL_ID in t.user_attrs
        }

    def start(self, tune_trial_id: str, config: dict[str, Any], trial_dir: Path) -> None:
        """A running Optuna trial with the searched keys of ``config`` as its parameters."""
        from optuna.trial import TrialState, create_trial

        if tune_trial_id in self.ids:
            return  # restarted after a failure or a resume: the same Optuna trial goes on
        params = {k: config[k] for k in self.distributions if k in config}
        attrs = {TUNE_TRIAL_ID: tune_trial_id, "trial_dir": str(trial_dir), "config": plain(config)}
        try:
            template = create_trial(
                state=TrialState.RUNNING,
                params=params,
                user_attrs=attrs,
                distributions={k: self.distributions[k] for k in params},
            )
        except ValueError:  # a value outside its distribution (a space file changed since)
            template = create_trial(state=TrialState.RUNNING, user_attrs=attrs)
        self.ids[tune_trial_id] = self.storage.create_new_trial(
            self.study_id, template_trial=template
        )

    def _running(self, tune_trial_id: str) -> int | None:
        """The Optuna trial id of a Tune trial the study still has running, else None (a
        resumed search may re-run the last epoch of a trial the journal already finished)."""
        trial_id = self.ids.get(tune_trial_id)
        if trial_id is None or self.storage.get_trial(trial_id).state.is_finished():
            return None
        return trial_id

    def epoch(self, tune_trial_id: str, epoch: int, value: Any) -> None:
        trial_id = self._running(tune_trial_id)
        if trial_id is not None and _finite(value) and not self.cost:
            self.storage.set_trial_intermediate_value(trial_id, int(epoch), float(value))

    def end(self, tune_trial_id: str, status: str, attrs: dict[str, Any]) -> None:
        """Finish the trial: complete (every epoch), pruned (stopped early), failed."""
        from optuna.trial import TrialState

        trial_id = self._running(tune_trial_id)
        if trial_id is None:
            return
        for key, value in attrs.items():
            self.storage.set_trial_user_attr(trial_id, key, plain(value))
        self.storage.set_trial_user_attr(trial_id, "status", status)
        number = self.storage.get_trial_number_from_id(trial_id)
        # The value of the epoch best_row selects; the best epoch recorded where no record of
        # the trial's checkpoints was at hand.
        values = self.storage.get_trial(trial_id).intermediate_values
        value = attrs.get("best_value", max(values.values(), default=None))
        if self.cost and status == DONE and _finite(value) and _finite(attrs.get("best_cost")):
            self.study.tell(number, [value, attrs["best_cost"]])
        elif status == DONE and _finite(value) and not self.cost:
            self.study.tell(number, value)
        elif status == STOPPED_EARLY:
            self.study.tell(number, state=TrialState.PRUNED)  # value: the last epoch's
        else:  # errored, diverged, or done without a finite value
            self.study.tell(number, state=TrialState.FAIL)


def trial_end_attrs(
    record: TrialRecord | None, metric: str = METRIC, cost: str | None = None
) -> dict[str, Any]:
    """Epochs run, best epoch and its kept checkpoint (``best_row``), the cost there (a
    multi-objective search's), and the error if any."""
    if record is None or record.metrics.empty:
        return {}
    attrs: dict[str, Any] = {"epochs_run": int(record.metrics[TRAINING_ITERATION].iloc[-1])}
    found = best_row(record, metric)
    if found is not None:
        row, checkpoint = found
        attrs.update(
            best_epoch=int(row[TRAINING_ITERATION]),
            best_value=float(row[metric]),
            best_checkpoint=str(checkpoint) if checkpoint else "",
        )
        if cost and cost in row:
            attrs["best_cost"] = float(row[cost])
    if record.error:
        attrs["error"] = record.error
    return attrs


def build_journal(folder: Path) -> Path:
    """Write the journal of an experiment from Tune's files (for an experiment made before
    tune-cifar wrote one); trials already in it are left as they are."""
    folder = Path(folder)
    spec = read_spec(folder)
    max_epochs = int(spec["options"]["max_epochs"])
    records = load_trials(folder)
    # the space's distributions as the spec recorded them; for an experiment whose spec
    # predates that record, the values its trials took
    distributions = recorded_distributions(spec) or observed_distributions(
        [r.config for r in records]
    )
    cost = cost_metric(spec)
    recorder = JournalRecorder(folder, distributions, attrs=study_attrs(spec), cost=cost)
    for record in records:
        if record.trial_id in recorder.ids:
            continue
        recorder.start(record.trial_id, record.config, record.trial_dir)
        for epoch, value in zip(
            record.metrics[TRAINING_ITERATION], record.metrics[METRIC], strict=True
        ):
            recorder.epoch(record.trial_id, epoch, value)
        status, _ = trial_status(record, max_epochs)
        if status != UNFINISHED:
            recorder.end(record.trial_id, status, trial_end_attrs(record, cost=cost))
    return folder / JOURNAL_FILE


def observed_distributions(configs: list[dict[str, Any]]) -> dict[str, BaseDistribution]:
    """Categorical distributions over the values seen, for every key that varies."""
    from optuna.distributions import CategoricalDistribution

    keys = sorted({k for c in configs for k in c})
    seen = {k: {repr(c.get(k)): c.get(k) for c in configs} for k in keys}
    return {k: CategoricalDistribution(list(v.values())) for k, v in seen.items() if len(v) > 1}


def cost_metric(spec: dict[str, Any]) -> str | None:
    """The reported metric a multi-objective experiment minimised beside val_acc, or None."""
    objective = spec["options"].get("objective") or [METRIC]
    return COSTS[objective[1]] if len(objective) > 1 else None


def study_attrs(spec: dict[str, Any]) -> dict[str, Any]:
    """What the study was: tune-cifar's spec, in short, as study user attributes."""
    opts = spec["options"]
    return {
        "space": spec["space"]["name"],
        "search": opts["search"],
        "scheduler": opts["scheduler"],
        "max_epochs": opts["max_epochs"],
        "metric": "val_acc (best epoch; pruned trials: last epoch)",
        "data": spec["data"]["source"],
        "spec_file": SPEC_FILE,
    }


def _finite(value: Any) -> TypeGuard[float]:
    """A finite number (not a bool, not NaN or inf)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
