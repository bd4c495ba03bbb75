"""The presets must match the seed's CNN_v2/v3/v4 parameter for parameter."""

import pytest
import torch
from torch import nn

from tune_cifar.config import TrialConfig
from tune_cifar.train import CifarCNN, build_model


class SeedCNN(nn.Module):
    """CNN_v2 / v3 / v4 exactly as the seed chapter writes them (modules and order)."""

    def __init__(self, dropout: bool, batch_norm: bool):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3, padding=(1, 1))
        self.conv2 = nn.Conv2d(32, 32, 3, padding=(1, 1))
        self.conv3 = nn.Conv2d(32, 64, 3, padding=(1, 1))
        self.conv4 = nn.Conv2d(64, 64, 3, padding=(1, 1))
        self.conv5 = nn.Conv2d(64, 128, 3, padding=(1, 1))
        self.conv6 = nn.Conv2d(128, 128, 3, padding=(1, 1))
        self.relu = nn.ReLU(inplace=True)
        self.flatten = nn.Flatten()
        self.maxpool = nn.MaxPool2d((2, 2))
        self.l1 = nn.Linear(4 * 4 * 128, 128)
        self.l2 = nn.Linear(128, 10)
        drop = [nn.Dropout(p) if dropout else nn.Identity() for p in (0.2, 0.3, 0.4)]
        self.dropout1, self.dropout2, self.dropout3 = drop
        if batch_norm:
            for i, c in enumerate((32, 32, 64, 64, 128, 128), start=1):
                setattr(self, f"bn{i}", nn.BatchNorm2d(c))
        bn = (lambda i: getattr(self, f"bn{i}")) if batch_norm else (lambda i: nn.Identity())
        self.features = nn.Sequential(
            self.conv1,
            bn(1),
            self.relu,
            self.conv2,
            bn(2),
            self.relu,
            self.maxpool,
            self.dropout1,
            self.conv3,
            bn(3),
            self.relu,
            self.conv4,
            bn(4),
            self.relu,
            self.maxpool,
            self.dropout2,
            self.conv5,
            bn(5),
            self.relu,
            self.conv6,
            bn(6),
            self.relu,
            self.maxpool,
            self.dropout3,
        )
        self.classifier = nn.Sequential(self.l1, self.relu, self.dropout3, self.l2)

    def forward(self, x):
        return self.classifier(self.flatten(self.features(x)))


SEED_MODELS = {"cnn_v2": (False, False), "cnn_v3": (True, False), "cnn_v4": (True, True)}


def _shapes(model: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(p.shape) for name, p in model.named_parameters()}


@pytest.mark.parametrize("preset", list(SEED_MODELS))
def test_preset_matches_seed_model_parameter_for_parameter(preset):
    ours = build_model(TrialConfig.from_dict({"model": preset}))
    seed = SeedCNN(*SEED_MODELS[preset])
    assert _shapes(ours) == _shapes(seed)
    buffers = {n: tuple(b.shape) for n, b in ours.named_buffers()}
    assert buffers == {n: tuple(b.shape) for n, b in seed.named_buffers()}


@pytest.mark.parametrize("preset", list(SEED_MODELS))
def test_preset_computes_what_the_seed_model_computes(preset):
    torch.manual_seed(0)
    seed = SeedCNN(*SEED_MODELS[preset]).eval()
    ours = build_model(TrialConfig.from_dict({"model": preset})).eval()
    missing, _ = ours.load_state_dict(seed.state_dict(), strict=False)
    assert missing == []
    x = torch.randn(4, 3, 32, 32)
    torch.testing.assert_close(ours(x), seed(x))


def test_dropout_rates_and_width():
    model = CifarCNN(batch_norm=False, dropouts=(0.1, 0.2, 0.3, 0.5), width=0.5)
    assert [model.dropout1.p, model.dropout2.p, model.dropout3.p, model.dropout4.p] == [
        0.1,
        0.2,
        0.3,
        0.5,
    ]
    assert model.conv1.out_channels == 16 and model.l1.in_features == 4 * 4 * 64
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
