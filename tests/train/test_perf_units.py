"""The pieces of the GPU path that a CPU can check: the CUDA graph switch, the GPU share
arithmetic, the search's compute line, flip averaging, the scaled learning rate."""

import pytest
import torch

from tune_cifar.config import TrialConfig
from tune_cifar.errors import UsageError
from tune_cifar.train import (
    Normalizer,
    Probe,
    Trainer,
    build_model,
    check_share,
    heaviest_config,
    packing,
    predict_logits,
    use_cuda_graph,
)
from tune_cifar.train._trainer import build_optimizer
from tune_cifar.tuning import Compute, load_space

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
    assert trainer.graph is None and trainer.run_epoch()["train_step"] == "eager"


def test_the_heaviest_configuration_of_a_space():
    assert heaviest_config(load_space("strong").params) == {
        "model": "cnn_v4",
        "width": 2.0,
        "batch_size": 512,
    }
    assert heaviest_config(load_space("quick").params) == {"model": "cnn_v4", "batch_size": 64}


def test_trials_per_gpu_from_memory_and_cores():
    probe = Probe(trial_bytes=5 * GIB, gpu_bytes=80 * GIB, gpu_name="H100")
    assert packing(probe, cpus_per_gpu=16, cpus_per_trial=1)[0] == 14  # 0.9 * 80 / 5
    assert packing(probe, cpus_per_gpu=8, cpus_per_trial=1)[0] == 8  # one core each
    assert packing(probe, cpus_per_gpu=16, cpus_per_trial=4)[0] == 4
    assert packing(Probe(100 * GIB, 80 * GIB, "small"), 16, 1)[0] == 1
    check_share(0.1, probe)  # 10 trials of 5 GiB fit
    with pytest.raises(UsageError, match=r"packs 20 trials per GPU, .* at most 14 fit"):
        check_share(0.05, probe)


def test_the_compute_line():
    line = Compute(trial_epochs=120, wall_s=60, gpus=1, cpus=16, train_images=45000).summary()
    assert line == (
        "compute: 120 trial-epochs in 60 s on 1 GPU: 120.00 trial-epochs per "
        "GPU-minute, 90,000 training images/s together"
    )
    assert "per CPU-minute" in Compute(10, 120, 0, 2, 5000).summary()


def test_flip_averaging_is_the_mean_of_both_logits():
    torch.manual_seed(0)
    model = build_model(TrialConfig.from_dict({"width": 0.25})).eval()
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    norm = Normalizer("half", torch.device("cpu"))
    plain = predict_logits(model, images, norm)
    mirrored = predict_logits(model, images.flip(3), norm)
    torch.testing.assert_close(
        predict_logits(model, images, norm, tta=True), 0.5 * (plain + mirrored)
    )


def test_the_learning_rate_scales_with_the_batch():
    cfg = TrialConfig.from_dict(
        {"optimizer": "sgd", "lr": 0.1, "lr_ref_batch": 128, "batch_size": 512}
    )
    assert cfg.peak_lr == pytest.approx(0.4)
    model = build_model(TrialConfig.from_dict({"width": 0.25}))
    assert build_optimizer(cfg, model).param_groups[0]["lr"] == pytest.approx(0.4)
    assert TrialConfig.from_dict({"lr": 0.1}).peak_lr == 0.1
    with pytest.raises(UsageError, match=r"scaled to batch_size 4096 .* above 10"):
        TrialConfig.from_dict({"lr": 1.0, "lr_ref_batch": 8, "batch_size": 4096})


def test_a_finished_trainer_is_freed_without_a_garbage_collection(synthetic_bundle):
    """Nothing the trainer owns points back at it (its CUDA graph holder included, built here
    on the CPU), so it goes the moment its last reference does, with its data and model;
    ``close`` lets go of the device memory before that."""
    import gc
    import weakref

    from tune_cifar.train import CudaGraph

    gc.collect()
    gc.disable()
    try:
        trainer = Trainer(
            TrialConfig.from_dict({"width": 0.25, "dropout1": 0.3}), synthetic_bundle.training, 1
        )
        trainer.graph = CudaGraph(trainer.cfg.batch_size, trainer.device, trainer.generator)
        trainer.graph.failed = "not on a CPU"  # every step eager
        trainer.run_epoch()
        gone, model = weakref.ref(trainer), weakref.ref(trainer.model)
        del trainer
        assert gone() is None and model() is None
        closed = Trainer(TrialConfig.from_dict({"width": 0.25}), synthetic_bundle.training, 1)
        data = weakref.ref(closed.train_x)
        closed.close()
        assert data() is None and closed.graph is None and closed.model is None
    finally:
        gc.enable()


def test_a_capture_failure_names_its_real_cause():
    """PyTorch reports a failed capture as 'operation failed due to a previous error during
    capture'; the cause it hides is what the trial says."""
    from tune_cifar.train._cuda_graph import capture_error

    masked = RuntimeError("CUDA error: operation failed due to a previous error during capture")
    masked.__context__ = TypeError("cannot capture an item() call\nmore detail")
    assert capture_error(masked) == "TypeError: cannot capture an item() call"
    assert capture_error(ValueError("plain")) == "ValueError: plain"


@pytest.mark.parametrize(
    ("nodes", "per_gpu"),
    [
        ([{"CPU": 16, "GPU": 1}], 16),
        ([{"CPU": 16, "GPU": 2}], 8),  # two GPUs share the node's 16 cores
        ([{"CPU": 64, "GPU": 8}], 8),
        ([{"CPU": 64, "GPU": 8}, {"CPU": 16, "GPU": 4}, {"CPU": 32, "GPU": 0}], 4),  # the tightest
    ],
)
def test_cpu_cores_per_gpu_of_described_nodes(nodes, per_gpu):
    from tune_cifar.train import cpus_per_gpu

    assert cpus_per_gpu(nodes) == per_gpu
    probe = Probe(trial_bytes=2 * GIB, gpu_bytes=80 * GIB, gpu_name="H100")
    assert packing(probe, cpus_per_gpu(nodes), cpus_per_trial=1)[0] == min(36, per_gpu)
