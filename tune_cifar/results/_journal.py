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
pruned trials. ``JournalCallback`` (``tune_cifar.tuning.callbacks``) writes the
study during a search (a resumed search goes on writing the same one); ``build_journal``
writes it afterwards from Tune's files, for experiments made before the journal existed
(with the distributions the spec recorded for the space).

    storage = open_journal(EXP)          # optuna.storages.JournalStorage
    study = optuna.load_study(study_name=EXP.name, storage=storage)
"""

from __future__ import annotations

import math
import warnings
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from tune_cifar.constants import (
    JOURNAL_FILE,
    SPEC_FILE,
    TIME_THIS_ITER_S,
    TIMESTAMP,
    TRAINING_ITERATION,
)
from tune_cifar.errors import UsageError
from tune_cifar.metrics import COSTS, DONE, METRIC, STOPPED_EARLY, UNFINISHED
from tune_cifar.results._best import best_row
from tune_cifar.results._spec import read_spec, recorded_distributions
from tune_cifar.results._trials import (
    TrialRecord,
    epochs_run,
    load_trials,
    plain,
    trial_status,
)

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution

TUNE_TRIAL_ID = "tune_trial_id"  # the user attribute that links an Optuna trial to Tune's


def open_journal(folder: Path) -> optuna.storages.JournalStorage:
    """The journal storage of an experiment folder (created if it does not exist); one
    UsageError line naming the journal if a line of it is damaged (Optuna would raise
    JSONDecodeError at its first read)."""
    import json

    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    path = Path(folder) / JOURNAL_FILE
    try:  # (JournalStorage reads the whole journal here, once)
        return JournalStorage(JournalFileBackend(str(path)))
    except (json.JSONDecodeError, ValueError, KeyError) as exc:
        from tune_cifar.storage import shown

        raise UsageError(
            f"journal {shown(path)} is damaged ({type(exc).__name__}: {exc}); move it aside "
            "and 'tune-cifar dashboard' builds a new one from Tune's files"
        ) from None


def _batched_backend(folder: Path) -> Any:
    """The experiment's journal file, its new lines kept until ``flush()`` appends them in one
    write (Optuna's backend locks and appends once per line: 10,000 trials were half a minute
    of appends). Optuna's public ``BaseJournalBackend``; the lines stay Optuna's own."""
    from optuna.storages.journal import BaseJournalBackend, JournalFileBackend

    class Batched(BaseJournalBackend):
        # Holds only the lines not yet written: JournalStorage keeps its own replay of the
        # study and asks for the lines after those it has read (all of them once, at open).
        def __init__(self, path: str) -> None:
            self.file = JournalFileBackend(path)
            self.written = sum(1 for _ in self.file.read_logs(0))
            self.pending: list[dict[str, Any]] = []

        def read_logs(self, log_number_from: int) -> list[dict[str, Any]]:
            if log_number_from < self.written:
                return [*self.file.read_logs(log_number_from), *self.pending]
            return self.pending[log_number_from - self.written :]

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            self.pending.extend(logs)

        def flush(self) -> None:
            if self.pending:
                self.file.append_logs(self.pending)
                self.written += len(self.pending)
                self.pending = []

    return Batched(str(Path(folder) / JOURNAL_FILE))


class JournalRecorder:
    """Writes Tune trials into one Optuna study, keyed by Tune trial id."""

    def __init__(
        self,
        folder: Path,
        distributions: dict[str, BaseDistribution],
        metric: str = METRIC,
        attrs: dict[str, Any] | None = None,
        cost: str | None = None,
        batched: bool = False,
    ):
        """``batched``: the journal's lines are written by ``flush()`` (a rebuild; a live
        search, every second), else each as it comes."""
        import optuna
        from optuna.storages import JournalStorage

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.distributions = distributions
        self.cost = cost  # the reported metric minimised beside ``metric``, if any
        self.backend = _batched_backend(folder) if batched else None
        self.storage = (
            open_journal(folder) if self.backend is None else JournalStorage(self.backend)
        )
        name = Path(folder).name
        if any(s.study_name == name for s in self.storage.get_all_studies()):
            # (create_study(load_if_exists=True) would append a refused creation line)
            self.study = optuna.load_study(study_name=name, storage=self.storage)
        else:
            self.study = optuna.create_study(
                study_name=name,
                storage=self.storage,
                directions=["maximize", "minimize"] if cost else ["maximize"],
            )
        names = [metric, cost] if cost else [metric]
        if self.study.metric_names != names:  # (a reopened journal: no lines said twice)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                # the dashboard names the values after them
                self.study.set_metric_names(names)
        self.study_id = self.storage.get_study_id_from_name(self.study.study_name)
        known = self.study.user_attrs
        for key, value in (attrs or {}).items():
            if key not in known or known[key] != plain(value):
                self.study.set_user_attr(key, value)
        # A resumed search: trials already in the study keep their Optuna trials.
        self.ids: dict[str, int] = {
            t.user_attrs[TUNE_TRIAL_ID]: self.storage.get_trial_id_from_study_id_trial_number(
                self.study_id, t.number
            )
            for t in self.study.get_trials(deepcopy=False)
            if TUNE_TRIAL_ID in t.user_attrs
        }

    def _template(
        self, tune_trial_id: str, config: dict[str, Any], trial_dir: Path, state: Any, **trial: Any
    ) -> Any:
        """An Optuna trial with the searched keys of ``config`` as its parameters (none where
        a value lies outside its distribution: a space file changed since) and the user
        attributes that link it back."""
        from optuna.trial import create_trial

        params = {k: config[k] for k in self.distributions if k in config}
        attrs = {
            TUNE_TRIAL_ID: tune_trial_id,
            "trial_dir": str(trial_dir),
            "config": plain(config),
            **{k: plain(v) for k, v in trial.pop("user_attrs", {}).items()},
        }
        try:
            return create_trial(
                state=state,
                params=params,
                user_attrs=attrs,
                distributions={k: self.distributions[k] for k in params},
                **trial,
            )
        except ValueError:
            return create_trial(state=state, user_attrs=attrs, **trial)

    def flush(self) -> None:
        """Write what a batched recorder holds (nothing to do for a live one)."""
        if self.backend is not None:
            self.backend.flush()

    def start(self, tune_trial_id: str, config: dict[str, Any], trial_dir: Path) -> None:
        """A running Optuna trial with the searched keys of ``config`` as its parameters."""
        from optuna.trial import TrialState

        if tune_trial_id in self.ids:
            return  # restarted after a failure or a resume: the same Optuna trial goes on
        template = self._template(tune_trial_id, config, trial_dir, TrialState.RUNNING)
        self.ids[tune_trial_id] = self.storage.create_new_trial(
            self.study_id, template_trial=template
        )

    def record(
        self,
        tune_trial_id: str,
        config: dict[str, Any],
        trial_dir: Path,
        epochs: list[tuple[int, Any]],
        status: str,
        attrs: dict[str, Any],
        span: tuple[datetime, datetime] | None = None,
    ) -> None:
        """A trial read back whole (``build_journal``), in one write: what ``start``, an
        ``epoch`` per (epoch, value) and ``end`` (unless it is unfinished) write in many, each
        a line of the journal (10,000 trials were minutes of lines)."""
        from optuna.trial import TrialState

        if tune_trial_id in self.ids:
            return
        values = {} if self.cost else {int(e): float(v) for e, v in epochs if _finite(v)}
        if status == UNFINISHED:
            state, result = TrialState.RUNNING, None
        else:
            state, result = self._outcome(status, attrs, values)
            attrs = {**attrs, "status": status}
        trial = {"user_attrs": attrs if status != UNFINISHED else {}, "intermediate_values": values}
        if result is not None:
            trial["values" if isinstance(result, list) else "value"] = result
        template = self._template(tune_trial_id, config, trial_dir, state, **trial)
        if span is not None:  # (else Optuna's: now)
            template.datetime_start = span[0]
            if state.is_finished():
                template.datetime_complete = span[1]
        self.ids[tune_trial_id] = self.storage.create_new_trial(
            self.study_id, template_trial=template
        )

    def catch_up(
        self,
        tune_trial_id: str,
        config: dict[str, Any],
        trial_dir: Path,
        epochs: list[tuple[int, Any]],
        status: str,
        attrs: dict[str, Any],
        span: tuple[datetime, datetime] | None = None,
    ) -> None:
        """What Tune's files say of a trial and the journal lacks: the whole trial (started
        and last reported at ``span``, where known), or the epochs and the end of one it
        still has running (a driver killed before its last lines were written)."""
        if tune_trial_id not in self.ids:
            self.record(tune_trial_id, config, trial_dir, epochs, status, attrs, span)
            return
        trial_id = self._running(tune_trial_id)
        if trial_id is None:
            return
        known = self.storage.get_trial(trial_id).intermediate_values
        for epoch, value in epochs:
            if int(epoch) not in known:
                self.epoch(tune_trial_id, epoch, value)
        if status != UNFINISHED:
            self.end(tune_trial_id, status, attrs)

    def _outcome(
        self, status: str, attrs: dict[str, Any], values: dict[int, float]
    ) -> tuple[Any, float | list[float] | None]:
        """How an ended trial is told: complete with the value of the epoch best_row selects
        (the best epoch recorded, where no record of its checkpoints was at hand; with a
        cost, both), pruned with its last epoch's value (as Optuna records pruned trials),
        else failed."""
        from optuna.trial import TrialState

        value = attrs.get("best_value", max(values.values(), default=None))
        if self.cost and status == DONE and _finite(value) and _finite(attrs.get("best_cost")):
            return TrialState.COMPLETE, [value, attrs["best_cost"]]
        if status == DONE and _finite(value) and not self.cost:
            return TrialState.COMPLETE, value
        if status == STOPPED_EARLY:
            return TrialState.PRUNED, values[max(values)] if values else None
        return TrialState.FAIL, None

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
        values = dict(self.storage.get_trial(trial_id).intermediate_values)
        state, result = self._outcome(status, attrs, values)
        if state == TrialState.COMPLETE:
            self.study.tell(number, result)
        else:  # (pruned: Optuna records the last epoch's value itself)
            self.study.tell(number, state=state)


def trial_end_attrs(
    record: TrialRecord | None, metric: str = METRIC, cost: str | None = None
) -> dict[str, Any]:
    """Epochs run, best epoch and its kept checkpoint (``best_row``), the cost there (a
    multi-objective search's), and the error if any."""
    if record is None or not record.epochs:
        return {}
    attrs: dict[str, Any] = {"epochs_run": epochs_run(record)}
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


def reported_span(record: TrialRecord) -> tuple[datetime, datetime] | None:
    """When a trial started (its first report's time less that epoch's seconds) and when it
    last reported, by Tune's clock; None where its rows carry no times."""
    try:
        first, last = record.epochs[0], record.epochs[-1]
        start = float(first[TIMESTAMP]) - float(first.get(TIME_THIS_ITER_S) or 0.0)
        return datetime.fromtimestamp(start), datetime.fromtimestamp(float(last[TIMESTAMP]))
    except (IndexError, KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def build_journal(folder: Path) -> Path:
    """Write the journal of an experiment from Tune's files: whole, for an experiment made
    before tune-cifar wrote one; else what it lacks (``JournalRecorder.catch_up``), as a
    resume does first."""
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
    recorder = JournalRecorder(
        folder, distributions, attrs=study_attrs(spec), cost=cost, batched=True
    )
    for record in records:
        status, _ = trial_status(record, max_epochs)
        epochs = [(row[TRAINING_ITERATION], row.get(METRIC)) for row in record.epochs]
        recorder.catch_up(
            record.trial_id,
            record.config,
            record.trial_dir,
            epochs,
            status,
            trial_end_attrs(record, cost=cost),
            reported_span(record),
        )
    recorder.flush()
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
