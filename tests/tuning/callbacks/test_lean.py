"""What Tune keeps of an ended trial that nothing reads again: dropped."""

import json

from ray.tune.experiment import Trial

from tune_cifar.tuning.callbacks import TrimEndedTrials


def test_an_ended_trial_keeps_its_averages_and_drops_its_last_values():
    trial = Trial("train_cifar", stub=True, config={"lr": 0.1})
    for epoch in range(1, 4):
        trial.update_last_result(
            {"training_iteration": epoch, "val_acc": 0.1 * epoch, "train_loss": 1.0 / epoch}
        )
    before = len(trial.run_metadata.get_json_state())
    TrimEndedTrials().on_trial_complete(0, [trial], trial)
    state = json.loads(trial.run_metadata.get_json_state())  # the experiment state's entry
    assert state["metric_n_steps"] == {}
    assert state["metric_analysis"]["val_acc"]["max"] == 0.30000000000000004
    assert state["last_result"]["val_acc"] == 0.30000000000000004
    assert len(trial.run_metadata.get_json_state()) < 0.7 * before
