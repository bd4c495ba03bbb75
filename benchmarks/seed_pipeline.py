"""tune-cifar's trainer against the seed study's own pipeline, same model, data and epochs.

The seed trains with PIL images through torchvision transforms (RandomHorizontalFlip,
ToTensor, Normalize(0.5, 0.5), RandomErasing) and a shuffled DataLoader of batch 100,
validating on the CIFAR-10 test set. This script runs that loop and tune-cifar's ``Trainer``
(batched on-device augmentation, no DataLoader) on the first 10,000 training images with the
test set as validation, CNN_v4 + Adam + flip + RandomErasing (the seed's run 6), and prints
both per-epoch accuracies, the best of each, and the speed ratio.

    python benchmarks/seed_pipeline.py --data-dir ../shared/data --epochs 10 --threads 2
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from tune_cifar.config import TrialConfig
from tune_cifar.data import TrainingData
from tune_cifar.data.cifar_reader import read_cifar10_folder, resolve_folder
from tune_cifar.model import build_model
from tune_cifar.training import Trainer


class PilCifar(Dataset):
    """What torchvision's CIFAR10 does per item: a PIL image through the transforms."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform) -> None:
        self.images = images.transpose(0, 2, 3, 1)  # HWC, as torchvision stores them
        self.labels = labels
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def seed_fit(train_x, train_y, test_x, test_y, epochs: int) -> list[dict]:
    """The seed chapter's fit(): SGD-style loop over DataLoaders, eval on the test set."""
    train_tf = transforms.Compose([
        transforms.RandomHorizontalFlip(p=0.5), transforms.ToTensor(),
        transforms.Normalize(0.5, 0.5),
        transforms.RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0),
    ])
    test_tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(0.5, 0.5)])
    train_loader = DataLoader(PilCifar(train_x, train_y, train_tf), batch_size=100, shuffle=True)
    test_loader = DataLoader(PilCifar(test_x, test_y, test_tf), batch_size=100, shuffle=False)
    torch.manual_seed(123)
    net = build_model(TrialConfig.from_dict({"model": "cnn_v4"}))
    optimizer = torch.optim.Adam(net.parameters())
    criterion = nn.CrossEntropyLoss()
    history = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        net.train()
        for inputs, labels in train_loader:
            optimizer.zero_grad()
            loss = criterion(net(inputs), labels)
            loss.backward()
            optimizer.step()
        train_time = time.perf_counter() - start
        net.eval()
        correct = 0
        with torch.no_grad():
            for inputs, labels in test_loader:
                correct += (net(inputs).argmax(1) == labels).sum().item()
        history.append({"epoch": epoch, "val_acc": correct / len(test_y),
                        "train_time_s": train_time})
        print(f"  seed pipeline epoch {epoch}: val_acc {correct / len(test_y):.4f} "
              f"(train {train_time:.1f}s)", flush=True)
    return history


def ours_fit(train_x, train_y, test_x, test_y, epochs: int) -> list[dict]:
    cfg = TrialConfig.from_dict({"model": "cnn_v4", "optimizer": "adam", "lr": 1e-3,
                                 "batch_size": 100, "hflip_p": 0.5, "erase_p": 0.5, "seed": 123})
    trainer = Trainer(cfg, TrainingData(train_x, train_y, test_x, test_y), epochs, "cpu")
    history = []
    while not trainer.finished:
        m = trainer.run_epoch()
        train_time = len(train_y) / m["images_per_s"]
        history.append({"epoch": m["epoch"], "val_acc": m["val_acc"], "train_time_s": train_time})
        print(f"  tune-cifar    epoch {m['epoch']}: val_acc {m['val_acc']:.4f} "
              f"(train {train_time:.1f}s)", flush=True)
    return history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=10000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train_x, train_y, test_x, test_y = read_cifar10_folder(resolve_folder(args.data_dir))
    train_x, train_y = train_x[: args.train_images], train_y[: args.train_images]
    print(f"first {len(train_y)} training images, validation = the 10,000 test images, "
          f"CNN_v4 + Adam + flip + RandomErasing, {args.epochs} epochs, {args.threads} threads")
    seed = seed_fit(train_x, train_y, test_x, test_y, args.epochs)
    ours = ours_fit(train_x, train_y, test_x, test_y, args.epochs)
    for name, hist in (("seed pipeline", seed), ("tune-cifar", ours)):
        best = max(hist, key=lambda r: r["val_acc"])
        mean_time = np.mean([r["train_time_s"] for r in hist])
        print(f"{name:14s} best val_acc {best['val_acc']:.4f} (epoch {best['epoch']}), last "
              f"{hist[-1]['val_acc']:.4f}, {mean_time:.1f}s training per epoch")
    ratio = np.mean([r["train_time_s"] for r in seed]) / np.mean([r["train_time_s"] for r in ours])
    print(f"speed: tune-cifar trains {ratio:.2f}x as fast as the seed pipeline per epoch")


if __name__ == "__main__":
    main()
