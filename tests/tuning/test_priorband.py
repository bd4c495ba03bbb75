"""PriorBand (``--search priorband``): the prior, the weights against a hand computation,
the searcher as Tune drives it (suggest, results, save and restore), the flags' checks, and
a real search read back."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from ray import tune

from tune_cifar.constants import (
    ANNOTATIONS,
    FULL_BUDGET,
    SAMPLE_NUMBER,
    SAMPLED_FROM,
    SAMPLING_WEIGHTS,
)
from tune_cifar.errors import UsageError
from tune_cifar.tuning import SearchOptions, SearchSpace, load_space
from tune_cifar.tuning._prior import Belief, Prior, load_prior, mutate, space_dims
from tune_cifar.tuning._priorband import (
    Evaluation,
    PriorBandSearcher,
    fidelities,
    priorband_weights,
    sh_bracket_cost,
)


def _space(**params) -> SearchSpace:
    return SearchSpace("test", "a test space", "test", params=params)


def _normal_pdf(x: float) -> float:
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _normal_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


def truncated_normal_pdf(u: float, center: float, scale: float) -> float:
    """By hand: a normal's density at u, renormalised to the unit interval."""
    mass = _normal_cdf((1 - center) / scale) - _normal_cdf(-center / scale)
    return _normal_pdf((u - center) / scale) / scale / mass


def test_the_prior_is_a_truncated_normal_on_the_scaled_interval_and_mass_on_a_choice():
    space = _space(
        lr=tune.loguniform(1e-4, 1e-1),
        dropout1=tune.uniform(0.0, 0.5),
        model=tune.choice(["cnn_v2", "cnn_v3", "cnn_v4"]),
    )
    dims = space_dims(space)
    assert dims["lr"].to_unit(1e-4) == 0 and dims["lr"].to_unit(1e-1) == pytest.approx(1)
    assert dims["lr"].to_unit(1e-2) == pytest.approx(2 / 3)  # log scale: 1e-4..1e-1
    prior = Prior(dims, {"lr": Belief(1e-3, 0.75), "model": Belief("cnn_v4", 0.75)})
    config = {"lr": 1e-2, "dropout1": 0.3, "model": "cnn_v2"}
    expected = (
        truncated_normal_pdf(2 / 3, 1 / 3, 0.25)  # lr, deviation 1 - 0.75
        * 1.0  # dropout1: no belief, uniform on the interval
        * 0.25
        / 2
    )  # model: 1 - 0.75 shared by the two other choices
    assert prior.pdf(config) == pytest.approx(expected)
    rng = np.random.default_rng(0)
    draws = [prior.sample(rng) for _ in range(4000)]
    models = [d["model"] for d in draws]
    assert models.count("cnn_v4") / len(models) == pytest.approx(0.75, abs=0.03)
    lrs = np.array([d["lr"] for d in draws])
    assert lrs.min() >= 1e-4 and lrs.max() <= 1e-1
    # near the belief (1e-3, a third of the way up the log range) as the truncated normal
    # puts it: the mass within 0.1 of the unit interval around it, by hand
    near = np.abs(np.log10(lrs) + 3) / 3 <= 0.1
    mass = (_normal_cdf(0.1 / 0.25) - _normal_cdf(-0.1 / 0.25)) / (
        _normal_cdf((1 - 1 / 3) / 0.25) - _normal_cdf(-(1 / 3) / 0.25)
    )
    assert near.mean() == pytest.approx(mass, abs=0.03)


def test_the_prior_mode_is_the_belief_then_the_defaults_where_the_space_holds_them():
    space = _space(
        lr=tune.loguniform(1e-4, 1e-1),
        dropout1=tune.uniform(0.0, 0.5),  # holds the default, 0.2
        dropout2=tune.uniform(0.35, 0.5),  # does not hold the default, 0.3: drawn
        optimizer=tune.choice(["sgd", "adam"]),
    )
    prior = Prior(space_dims(space), {"lr": Belief(0.01, 0.75)})
    modes = [prior.mode(np.random.default_rng(seed)) for seed in range(5)]
    assert all(m["lr"] == 0.01 and m["dropout1"] == 0.2 and m["optimizer"] == "adam" for m in modes)
    assert all(0.35 <= m["dropout2"] <= 0.5 for m in modes)
    assert len({m["dropout2"] for m in modes}) == 5


def test_integers_keep_their_grid_and_mutation_moves_about_half_the_keys():
    space = _space(
        batch_size=tune.choice([50, 100]),
        crop_padding=tune.randint(0, 9),
        dropout1=tune.uniform(0.0, 0.5),
    )
    dims = space_dims(space)
    assert dims["crop_padding"].from_unit(0.49) == 4 and dims["crop_padding"].from_unit(1) == 8
    rng = np.random.default_rng(1)
    start = {"batch_size": 50, "crop_padding": 4, "dropout1": 0.25}
    moved = [mutate(start, dims, rng) for _ in range(2000)]
    assert all(m["batch_size"] in (50, 100) and 0 <= m["crop_padding"] <= 8 for m in moved)
    changed = np.mean([m["batch_size"] != 50 for m in moved])  # a choice always moves away
    assert changed == pytest.approx(0.5, abs=0.04)


def test_the_weights_before_the_evidence_and_by_rung():
    prior = Prior(space_dims(_space(x=tune.uniform(0.0, 1.0))), {"x": Belief(0.5, 0.75)})
    rungs = fidelities(1, 3, 9)
    assert rungs == [1, 3, 9] and sh_bracket_cost(rungs, 3) == 9 * 1 + 3 * 2 + 1 * 6
    assert priorband_weights([], rungs, 3, prior, {}).as_text() == (
        "prior 0.500, uniform 0.500, incumbent 0.000"
    )  # 1 / (1 + 3^0) uniform
    deeper = priorband_weights([], rungs, 3, prior, {}, base_rung=1)
    assert (deeper.prior, deeper.uniform) == pytest.approx((0.75, 0.25))  # 1 / (1 + 3^1)


def _evidence(top_x: float, inc_x: float) -> tuple[list[Evaluation], dict]:
    """9 trials at rung 0, 3 at rung 1, 1 at rung 2: one bracket's worth (21 epochs)."""
    configs = {f"t{i}": {"x": 0.1 + 0.02 * i} for i in range(9)}
    configs["t0"], configs["t1"] = {"x": top_x}, {"x": inc_x}
    evaluations = [Evaluation(f"t{i}", 0, 0.1 + 0.01 * i) for i in range(9)]
    evaluations += [
        Evaluation("t0", 1, 0.50),
        Evaluation("t2", 1, 0.40),
        Evaluation("t3", 1, 0.30),
        Evaluation("t1", 2, 0.60),
    ]
    return evaluations, configs


def test_the_prior_share_moves_to_the_incumbent_by_the_top_trials_likelihood():
    """Rung 1 is the highest with 3 (= eta) evaluations: its top 1 (t0, x=0.9) is scored under
    the prior (around 0.5) and around the incumbent (t1, the best anywhere, x=0.8)."""
    prior = Prior(space_dims(_space(x=tune.uniform(0.0, 1.0))), {"x": Belief(0.5, 0.75)})
    evaluations, configs = _evidence(top_x=0.9, inc_x=0.8)
    weights = priorband_weights(evaluations, [1, 3, 9], 3, prior, configs)
    p_prior = truncated_normal_pdf(0.9, 0.5, 0.25)
    p_inc = truncated_normal_pdf(0.9, 0.8, 0.25)
    assert weights.incumbent_trial == "t1" and weights.uniform == 0.5
    assert weights.incumbent == pytest.approx(0.5 * p_inc / (p_inc + p_prior))
    assert weights.prior == pytest.approx(0.5 * p_prior / (p_inc + p_prior))
    assert weights.incumbent > weights.prior  # the evidence outvotes a prior that missed
    good = priorband_weights(
        *_evidence(top_x=0.5, inc_x=0.8)[:1],
        [1, 3, 9],
        3,
        prior,
        _evidence(top_x=0.5, inc_x=0.8)[1],
    )
    assert good.prior > good.incumbent  # a prior that holds the top trial keeps its share
    short = [e for e in evaluations if e.rung < 2]  # no trial at the full budget yet
    assert priorband_weights(short, [1, 3, 9], 3, prior, configs).incumbent == 0


def test_the_searcher_annotates_records_rungs_and_resumes_its_stream(tmp_path):
    space = load_space("seed_ranges")
    prior, _ = load_prior("seed", space)
    searcher = PriorBandSearcher(
        prior,
        grace_period=1,
        reduction_factor=3,
        max_epochs=9,
        metric="val_acc",
        mode="max",
        seed=0,
        prior_mode="full-budget",
    )
    assert searcher.set_search_properties(None, None, {})
    # first the prior's mode (the seed's run 6 itself), to be trained to the full budget
    first = searcher.suggest("a")
    assert first[SAMPLED_FROM] == "prior mode" and first[FULL_BUDGET] is True
    assert (
        {k: first[k] for k in space.params} == {k: b.value for k, b in prior.beliefs.items()}
        and first["optimizer"] == "adam"
        and first["lr"] == 0.001
    )
    assert first[SAMPLING_WEIGHTS] == "prior 0.500, uniform 0.500, incumbent 0.000"
    assert first[SAMPLE_NUMBER] == 1 and set(first) - set(ANNOTATIONS) == set(space.params)
    second = searcher.suggest("z")
    assert second[SAMPLED_FROM] in ("prior", "uniform") and FULL_BUDGET not in second
    for epoch, acc in ((1, 0.2), (2, 0.3), (3, 0.35)):
        searcher.on_trial_result("a", {"val_acc": acc, "training_iteration": epoch})
    assert {k: e.value for k, e in searcher.evaluations.items()} == {("a", 0): 0.2, ("a", 1): 0.35}
    searcher.save(str(tmp_path / "state.pkl"))
    expected = searcher.suggest("b")
    restored = PriorBandSearcher(prior, grace_period=1, reduction_factor=3, max_epochs=9)
    restored.restore(str(tmp_path / "state.pkl"))
    assert restored.suggest("b") == expected and restored.metric == "val_acc"


def test_prior_mode_at_the_first_rung_or_never():
    """--prior-mode first-rung: the mode first, judged at the rungs as any trial (no
    FULL_BUDGET); none: the first draw is already from the weights, as neps' default."""
    space = load_space("seed_ranges")
    prior, _ = load_prior("seed", space)

    def first_two(prior_mode: str) -> list[dict]:
        searcher = PriorBandSearcher(
            prior, grace_period=1, reduction_factor=3, max_epochs=9, seed=0, prior_mode=prior_mode
        )
        return [searcher.suggest("a"), searcher.suggest("b")]

    rung = first_two("first-rung")
    assert rung[0][SAMPLED_FROM] == "prior mode" and FULL_BUDGET not in rung[0]
    assert {k: rung[0][k] for k in prior.beliefs} == {k: b.value for k, b in prior.beliefs.items()}
    assert rung[1][SAMPLED_FROM] in ("prior", "uniform")
    never = first_two("none")
    assert [d[SAMPLED_FROM] for d in never] != ["prior mode"] * 2
    assert all(d[SAMPLED_FROM] in ("prior", "uniform") and FULL_BUDGET not in d for d in never)
    with pytest.raises(ValueError, match="prior_mode 'last'"):
        PriorBandSearcher(
            prior, grace_period=1, reduction_factor=3, max_epochs=9, prior_mode="last"
        )


def test_priors_from_the_seed_an_experiment_or_a_file_and_their_refusals(tmp_path):
    space = load_space("seed_ranges")
    prior, lines = load_prior("seed", space)
    assert prior.beliefs["model"].value == "cnn_v4" and prior.beliefs["lr"].value == 0.001
    assert prior.beliefs["erase_p"].value == 0.5 and prior.beliefs["lr"].confidence == 0.75
    assert lines[0].startswith("prior: the seed study's run 6, medium confidence: model=cnn_v4")
    bad, _ = load_prior("seed:1", space, "high")
    assert (bad.beliefs["optimizer"].value, bad.beliefs["momentum"].value) == ("sgd", 0.0)
    narrow = load_space("optimizers")  # weight decay log 1e-6..1e-3, batch 64/100/128/256
    _, notes = load_prior("seed", narrow)
    assert any(
        "weight_decay=0, outside this space's [1e-06, 0.001]: believed at 1e-06" in n for n in notes
    )
    belief = tmp_path / "belief.json"
    belief.write_text(json.dumps({"lr": {"value": 0.002, "confidence": "high"}, "model": "cnn_v3"}))
    from_file, _ = load_prior(str(belief), space, "low")
    assert from_file.beliefs["lr"] == Belief(0.002, 0.875)
    assert from_file.beliefs["model"] == Belief("cnn_v3", 0.5)
    cases = [
        ({"width": 2.0}, "width not searched by this space"),
        ({"lr": 1.0}, "lr=1 is outside this space's [0.0001, 0.1]"),
        ({"model": "cnn_v9"}, "model=cnn_v9 is outside this space's cnn_v2 / cnn_v3"),
        ({"lr": {"value": 0.001, "confidence": "sure"}}, "confidence must be one of"),
    ]
    for content, message in cases:
        belief.write_text(json.dumps(content))
        with pytest.raises(UsageError, match=re.escape(message)):
            load_prior(str(belief), space)
    with pytest.raises(UsageError, match="the seed study has runs 1 to 6"):
        load_prior("seed:7", space)
    with pytest.raises(UsageError, match="is not a tune-cifar experiment"):
        load_prior(str(tmp_path), space)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"search": "priorband"}, "--search priorband needs --prior"),
        ({"prior": "seed"}, "--prior is PriorBand's belief: give it with --search priorband"),
        (
            {"search": "priorband", "prior": "seed", "scheduler": "fifo"},
            "--search priorband learns at successive halving's rungs",
        ),
        (
            {"search": "priorband", "prior": "seed", "objective": ("val_acc", "params")},
            "--search priorband ranks by val_acc alone",
        ),
        (
            {"search": "priorband", "prior": "seed", "prior_confidence": "sure"},
            "--prior-confidence must be one of low, medium, high",
        ),
    ],
)
def test_priorband_flags_are_refused_in_one_line(options, message):
    with pytest.raises(UsageError, match=message):
        SearchOptions(**options).check()


PRIORBAND_SPACE = """
from ray import tune

DESCRIPTION = "test space: optimizer and learning rate, a small CNN"
SPACE = {"width": 0.25, "erase_p": 0.0, "batch_size": 64,
         "optimizer": tune.choice(["sgd", "adam"]), "lr": tune.loguniform(1e-5, 1e-2)}
"""


@pytest.mark.slow
def test_a_priorband_search_says_where_each_configuration_came_from(
    tmp_path, synthetic_bundle, shared_ray, capsys
):
    """8 trials under asha-promote from a file's prior: every trial names its source and the
    weights it was drawn with, in its files, the frames, the report, the plot and the live
    view; its journal is an Optuna study of the searched keys only."""
    import optuna

    from tune_cifar.analysis import load_experiment, write_plots, write_report
    from tune_cifar.data import DataSpec
    from tune_cifar.results import epochs_run, load_trials, open_journal
    from tune_cifar.tuning import run_search

    (tmp_path / "space.py").write_text(PRIORBAND_SPACE)
    (tmp_path / "prior.json").write_text(
        json.dumps({"optimizer": {"value": "adam", "confidence": "high"}, "lr": 0.003})
    )
    opts = SearchOptions(
        space=str(tmp_path / "space.py"),
        search="priorband",
        prior=str(tmp_path / "prior.json"),
        prior_mode="full-budget",
        scheduler="asha-promote",
        num_samples=8,
        max_epochs=4,
        grace_period=1,
        reduction_factor=2,
        storage_path=str(tmp_path),
        name="exp",
        progress_interval=60,
    )
    outcome = run_search(opts, DataSpec(source="synthetic"), argv=["test"], bundle=synthetic_bundle)
    out = capsys.readouterr().out
    assert not outcome.errors and outcome.unfinished == 0
    assert "prior: the beliefs of" in out and "optimizer=adam (0.875), lr=0.003 (0.75)" in out
    assert "PriorBand now draws new configurations: prior 0.500, uniform 0.500" in out
    assert "drawn from " in out
    trials = load_trials(outcome.experiment_path)
    assert len(trials) == 8
    drawn = sorted(trials, key=lambda t: t.annotations[SAMPLE_NUMBER])
    # the first is the prior's mode (adam, lr 0.003), trained to the full budget, where
    # asha-promote pauses the others at its rungs
    assert drawn[0].annotations[SAMPLED_FROM] == "prior mode"
    assert drawn[0].config["optimizer"] == "adam" and drawn[0].config["lr"] == 0.003
    assert epochs_run(drawn[0]) == 4 and drawn[0].annotations[FULL_BUDGET] is True
    assert {t.annotations[SAMPLED_FROM] for t in drawn[1:]} <= {"prior", "uniform", "incumbent"}
    assert all(SAMPLED_FROM not in t.config for t in trials)  # apart from the hyperparameters
    exp = load_experiment(outcome.experiment_path)
    assert exp.trials[SAMPLED_FROM].notna().all()
    assert exp.trials[SAMPLING_WEIGHTS].str.startswith("prior ").all()
    plots = write_plots(exp, tmp_path / "analysis")
    assert "sampling" in plots
    md, _ = write_report(exp, plots, tmp_path / "analysis")
    assert "## Where the configurations came from (PriorBand)" in md.read_text()
    study = optuna.load_study(study_name="exp", storage=open_journal(outcome.experiment_path))
    assert all(set(t.params) <= {"optimizer", "lr"} for t in study.trials)
