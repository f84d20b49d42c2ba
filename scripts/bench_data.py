"""Images per second of the two input pipelines, training the same model with Adam.

    python scripts/bench_data.py --dataset cifar10 --data-root data          # real CIFAR-10
    python scripts/bench_data.py --dataset mnist --fixture 512 --device cpu  # no data needed

Prints, for InMemoryLoader (device-side batching) and the torchvision DataLoader path: the loader
alone and full train steps, then their ratio.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from experiments.data import (DATASETS, InMemoryLoader, TorchvisionLoader, load_split,  # noqa: E402
                              open_dataset, torchvision_transform)
from experiments.errors import UserError  # noqa: E402
from experiments.fixtures import write_cifar10, write_mnist  # noqa: E402

DEFAULTS = {"mnist": ("mnist_cnn", 64, False), "cifar10": ("resnet18", 128, True)}  # model, batch, augment


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _batches(loader: Any) -> Any:
    """Batches across epoch boundaries, as long as asked for."""
    epoch = 0
    while True:
        yield from loader.epoch(epoch)
        epoch += 1


def _rate(loader: Any, step: Callable[[Any], None], warmup: int, steps: int, device: torch.device) -> float:
    it = _batches(loader)
    for _ in range(warmup):
        step(next(it))
    _sync(device)
    start, images = time.perf_counter(), 0
    for _ in range(steps):
        batch = next(it)
        step(batch)
        images += len(batch[1])
    _sync(device)
    return images / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", choices=sorted(DATASETS), default="cifar10")
    p.add_argument("--data-root", default="data")
    p.add_argument("--model", help="default: mnist_cnn for MNIST, resnet18 for CIFAR-10")
    p.add_argument("--batch-size", type=int, help="default: the paper's (64 MNIST, 128 CIFAR-10)")
    p.add_argument("--steps", type=int, help="timed train steps per pipeline (default 30 on GPU, 2 on CPU)")
    p.add_argument("--warmup", type=int, help="untimed steps first (default 3 GPU, 1 CPU)")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--num-workers", type=int, default=2, help="DataLoader workers of the torchvision path")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--fixture", type=int, metavar="N", help="use a random N-image dataset in a temp dir")
    args = p.parse_args(argv)

    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    model_name, batch_size, augment = DEFAULTS[args.dataset]
    model_name, batch_size = args.model or model_name, args.batch_size or batch_size
    gpu = device.type == "cuda"
    steps = args.steps or (30 if gpu else 2)  # a CPU run of ResNet-18 stays around a minute
    warmup = args.warmup if args.warmup is not None else (3 if gpu else 1)
    torch.backends.cudnn.benchmark = True
    from experiments.builders import build_model
    from experiments.schema import option

    with tempfile.TemporaryDirectory() as tmp:
        root = args.data_root
        if args.fixture:
            root = tmp
            (write_mnist if args.dataset == "mnist" else write_cifar10)(root, args.fixture, 10)
        try:
            spec = DATASETS[args.dataset]
            images, labels = load_split(args.dataset, root, True, download=False)
            dataset = open_dataset(args.dataset, root, True, False, torchvision_transform(args.dataset, augment))
        except UserError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        common = dict(batch_size=batch_size, device=device, shuffle=True, seed=0, channels_last=args.channels_last)
        loaders = {
            "in-memory": InMemoryLoader(images, labels, mean=spec.mean, std=spec.std, augment=augment, **common),
            "torchvision": TorchvisionLoader(dataset, num_workers=args.num_workers, **common),
        }
        print(f"{args.dataset}: {len(labels)} training images, model {model_name}, batch {batch_size}, "
              f"device {device}, {steps} timed steps after {warmup} warm-up")
        results = {}
        for name, loader in loaders.items():
            torch.manual_seed(0)
            model = build_model(option("model", model_name), in_channels=spec.channels, num_classes=10).to(device)
            if args.channels_last:
                model = model.to(memory_format=torch.channels_last)
            opt = torch.optim.Adam(model.parameters(), lr=1e-3)

            def train_step(batch: Any) -> None:
                opt.zero_grad(set_to_none=True)
                F.cross_entropy(model(batch[0]), batch[1]).backward()
                opt.step()

            only = _rate(loader, lambda batch: None, warmup, max(steps, 20), device)
            results[name] = _rate(loader, train_step, warmup, steps, device)
            print(f"  {name:12s} loader only {only:12,.0f} img/s   train {results[name]:10,.0f} img/s")
        print(f"in-memory / torchvision (train): {results['in-memory'] / results['torchvision']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
