"""The pieces of the GPU path that a CPU can check: the CUDA graph switch, the GPU share
arithmetic, the search's compute line, flip averaging, the scaled learning rate."""

import pytest
import torch

from tune_cifar.config import TrialConfig
from tune_cifar.errors import UsageError
from tune_cifar.gpu_share import Probe, check_share, heaviest_config, packing
from tune_cifar.model import build_model
from tune_cifar.spaces import load_space
from tune_cifar.training import Normalizer, Trainer, build_optimizer, predict_logits, use_cuda_graph
from tune_cifar.tuner import Compute

GIB = 2**30


def test_cuda_graph_setting_on_a_cpu(synthetic_bundle):
    cpu = torch.device("cpu")
    assert use_cuda_graph("auto", cpu) is False and use_cuda_graph("off", cpu) is False
    assert use_cuda_graph("auto", torch.device("cuda")) is True
    with pytest.raises(UsageError, match="--cuda-graph on needs a CUDA device"):
        use_cuda_graph("on", cpu)
    with pytest.raises(UsageError, match="--cuda-graph must be one of auto, on, off"):
        use_cuda_graph("sometimes", cpu)
    trainer = Trainer(TrialConfig.from_dict({"width": 0.25}), synthetic_bundle.training, 1)
    assert trainer.graph_step is None and trainer.run_epoch()["train_step"] == "eager"


def test_the_heaviest_configuration_of_a_space():
    assert heaviest_config(load_space("strong").params) == {
        "model": "cnn_v4", "width": 2.0, "batch_size": 512}
    assert heaviest_config(load_space("quick").params) == {"model": "cnn_v4", "batch_size": 64}


def test_trials_per_gpu_from_memory_and_cores():
    probe = Probe(trial_bytes=5 * GIB, gpu_bytes=80 * GIB, gpu_name="H100")
    assert packing(probe, cpus_per_node=16, cpus_per_trial=1)[0] == 14  # 0.9 * 80 / 5
    assert packing(probe, cpus_per_node=8, cpus_per_trial=1)[0] == 8  # one core each
    assert packing(probe, cpus_per_node=16, cpus_per_trial=4)[0] == 4
    assert packing(Probe(100 * GIB, 80 * GIB, "small"), 16, 1)[0] == 1
    check_share(0.1, probe)  # 10 trials of 5 GiB fit
    with pytest.raises(UsageError, match=r"packs 20 trials per GPU, .* at most 14 fit"):
        check_share(0.05, probe)


def test_the_compute_line():
    line = Compute(trial_epochs=120, wall_s=60, gpus=1, cpus=16, train_images=45000).summary()
    assert line == ("compute: 120 trial-epochs in 60 s on 1 GPU: 120.00 trial-epochs per "
                    "GPU-minute, 90,000 training images/s together")
    assert "per CPU-minute" in Compute(10, 120, 0, 2, 5000).summary()


def test_flip_averaging_is_the_mean_of_both_logits():
    torch.manual_seed(0)
    model = build_model(TrialConfig.from_dict({"width": 0.25})).eval()
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    norm = Normalizer("half", torch.device("cpu"))
    plain = predict_logits(model, images, norm)
    mirrored = predict_logits(model, images.flip(3), norm)
    torch.testing.assert_close(predict_logits(model, images, norm, tta=True),
                               0.5 * (plain + mirrored))


def test_the_learning_rate_scales_with_the_batch():
    cfg = TrialConfig.from_dict({"optimizer": "sgd", "lr": 0.1, "lr_ref_batch": 128,
                                 "batch_size": 512})
    assert cfg.peak_lr == pytest.approx(0.4)
    model = build_model(TrialConfig.from_dict({"width": 0.25}))
    assert build_optimizer(cfg, model).param_groups[0]["lr"] == pytest.approx(0.4)
    assert TrialConfig.from_dict({"lr": 0.1}).peak_lr == 0.1
    with pytest.raises(UsageError, match=r"scaled to batch_size 4096 .* above 10"):
        TrialConfig.from_dict({"lr": 1.0, "lr_ref_batch": 8, "batch_size": 4096})
