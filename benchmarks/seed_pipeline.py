"""tune-cifar's trainer against the seed study's own pipeline, same model, data and epochs.

The seed trains with PIL images through torchvision transforms (RandomHorizontalFlip,
ToTensor, Normalize(0.5, 0.5), RandomErasing) and a shuffled DataLoader of batch 100,
validating on the CIFAR-10 test set. This script runs that loop and tune-cifar's ``Trainer``
(batched on-device augmentation, no DataLoader) on the first 10,000 training images with the
test set as validation, CNN_v4 + Adam + flip + RandomErasing (the seed's run 6), once per
seed, and prints the last and best validation accuracy of each pipeline as mean ± standard
deviation over the seeds, the speed ratio, and the hardware.

    python benchmarks/seed_pipeline.py --data-dir $TUNE_CIFAR_DATA --epochs 10 --seeds 3
    python benchmarks/seed_pipeline.py --smoke-test      # seconds, on the shipped sample
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms

from tune_cifar.config import TrialConfig
from tune_cifar.data import DATA_DIR_ENV, TrainingData, load_sample
from tune_cifar.data._cifar_reader import read_cifar10_folder, resolve_folder
from tune_cifar.hardware import describe_hardware, mean_spread
from tune_cifar.train import Trainer, build_model


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


def seed_fit(train_x, train_y, test_x, test_y, epochs: int, seed: int) -> list[dict]:
    """The seed chapter's fit(): SGD-style loop over DataLoaders, eval on the test set."""
    train_tf = transforms.Compose(
        [
            transforms.RandomHorizontalFlip(p=0.5),
            transforms.ToTensor(),
            transforms.Normalize(0.5, 0.5),
            transforms.RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0),
        ]
    )
    test_tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize(0.5, 0.5)])
    train_loader = DataLoader(PilCifar(train_x, train_y, train_tf), batch_size=100, shuffle=True)
    test_loader = DataLoader(PilCifar(test_x, test_y, test_tf), batch_size=100, shuffle=False)
    torch.manual_seed(seed)
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
        history.append(
            {"epoch": epoch, "val_acc": correct / len(test_y), "train_time_s": train_time}
        )
        print(
            f"  seed pipeline epoch {epoch}: val_acc {correct / len(test_y):.4f} "
            f"(train {train_time:.1f}s)",
            flush=True,
        )
    return history


def ours_fit(train_x, train_y, test_x, test_y, epochs: int, seed: int) -> list[dict]:
    cfg = TrialConfig.from_dict(
        {
            "model": "cnn_v4",
            "optimizer": "adam",
            "lr": 1e-3,
            "batch_size": 100,
            "hflip_p": 0.5,
            "erase_p": 0.5,
            "seed": seed,
        }
    )
    trainer = Trainer(cfg, TrainingData(train_x, train_y, test_x, test_y), epochs, "cpu")
    history = []
    while not trainer.finished:
        m = trainer.run_epoch()
        train_time = len(train_y) / m["images_per_s"]
        history.append({"epoch": m["epoch"], "val_acc": m["val_acc"], "train_time_s": train_time})
        print(
            f"  tune-cifar    epoch {m['epoch']}: val_acc {m['val_acc']:.4f} "
            f"(train {train_time:.1f}s)",
            flush=True,
        )
    return history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get(DATA_DIR_ENV, "data")))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=10000)
    parser.add_argument("--seeds", type=int, default=3, help="runs per pipeline (seeds 0..N-1)")
    parser.add_argument(
        "--smoke-test",
        action="store_true",
        help="1 epoch, 1 seed, 300 images of the shipped sample (for CI)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.smoke_test:
        train_x, train_y, test_x, test_y = load_sample()
        args.epochs, args.seeds, args.train_images = 1, 1, 300
    else:
        train_x, train_y, test_x, test_y = read_cifar10_folder(resolve_folder(args.data_dir))
    train_x, train_y = train_x[: args.train_images], train_y[: args.train_images]
    print(
        f"first {len(train_y)} training images, validation = the {len(test_y)} test images, "
        f"CNN_v4 + Adam + flip + RandomErasing, {args.epochs} epochs, seeds 0-"
        f"{args.seeds - 1}\n{describe_hardware()}",
        flush=True,
    )
    runs: dict[str, list[list[dict]]] = {"seed pipeline": [], "tune-cifar": []}
    for seed in range(args.seeds):
        runs["seed pipeline"].append(seed_fit(train_x, train_y, test_x, test_y, args.epochs, seed))
        runs["tune-cifar"].append(ours_fit(train_x, train_y, test_x, test_y, args.epochs, seed))
    seconds = {}
    for name, histories in runs.items():
        last = [h[-1]["val_acc"] for h in histories]
        best = [max(r["val_acc"] for r in h) for h in histories]
        seconds[name] = float(np.mean([r["train_time_s"] for h in histories for r in h]))
        print(
            f"{name:14s} val_acc after {args.epochs} epochs {mean_spread(last)}; best epoch "
            f"{mean_spread(best)}; {seconds[name]:.1f}s training per epoch"
        )
    ratio = seconds["seed pipeline"] / seconds["tune-cifar"]
    print(f"speed: tune-cifar trains {ratio:.2f}x as fast as the seed pipeline per epoch")


if __name__ == "__main__":
    main()
