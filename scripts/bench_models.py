"""Training throughput (images/s) of the Table 1 models, fp32 against bf16 autocast + channels_last.

One step = forward, cross-entropy, backward and an Adam step on random 3x32x32 images (the data
pipeline is left out: scripts/bench_data.py measures it). Warm-up steps are not timed.

    python scripts/bench_models.py                       # CUDA if present: batch 128, 20 timed steps
    python scripts/bench_models.py --device cpu --batch 4 --steps 2 --warmup 1 --models resnet18
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from experiments.builders import build_model  # noqa: E402
from experiments.schema import group_options, option  # noqa: E402

TABLE1 = ("simple_dla", "vgg19", "resnet18", "googlenet", "mobilenetv2")
MODES = ("fp32", "bf16_cl")  # bf16_cl: bf16 autocast + channels_last, as trainer.precision=bf16 trainer.channels_last=true


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_second(name: str, mode: str, device: torch.device, batch: int, steps: int, warmup: int) -> float:
    """Train ``name`` for ``warmup`` + ``steps`` steps in ``mode``; images/s over the timed steps."""
    torch.manual_seed(0)
    channels_last = mode == "bf16_cl"
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = build_model(option("model", name), in_channels=3, num_classes=10).to(device, memory_format=fmt).train()
    opt = torch.optim.Adam(model.parameters(), lr=0.005)
    x = torch.randn(batch, 3, 32, 32, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,), device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if channels_last else contextlib.nullcontext()

    def step() -> None:
        with autocast:
            loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):  # cuDNN autotuning, allocator warm-up
        step()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return steps * batch / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto (cuda if available), cpu, cuda, cuda:N")
    ap.add_argument("--models", default=",".join(TABLE1), help="comma-separated model names")
    ap.add_argument("--modes", default=",".join(MODES), help=f"comma-separated subset of {','.join(MODES)}")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20, help="timed training steps per model and mode")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--json", type=Path, default=None, help="also write the results to this file")
    args = ap.parse_args(argv)

    name = args.device
    device = torch.device("cuda" if name == "auto" and torch.cuda.is_available() else "cpu" if name == "auto" else name)
    models, modes = args.models.split(","), args.modes.split(",")
    if unknown := [m for m in models if m not in group_options("model")]:
        ap.error(f"unknown model(s) {','.join(unknown)}; choose from {','.join(group_options('model'))}")
    bad = [m for m in modes if m not in MODES]
    if bad or args.batch < 1 or args.steps < 1 or args.warmup < 0:
        ap.error(f"--modes takes {','.join(MODES)}; --batch and --steps must be >= 1, --warmup >= 0")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as the trainer does (trainer.cudnn_benchmark)
    label = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"device {device} ({label}), torch {torch.__version__}, batch {args.batch}, "
          f"{args.warmup} warm-up + {args.steps} timed steps")

    results: dict[str, dict[str, float]] = {}
    print(f"{'model':<13}" + "".join(f"{m + ' img/s':>16}" for m in modes) + ("   speed-up" if len(modes) == 2 else ""))
    for model_name in models:
        results[model_name] = {m: images_per_second(model_name, m, device, args.batch, args.steps, args.warmup)
                               for m in modes}
        row = results[model_name]
        line = f"{model_name:<13}" + "".join(f"{row[m]:16.1f}" for m in modes)
        if len(modes) == 2:
            line += f"   {row[modes[1]] / row[modes[0]]:7.2f}x"
        print(line, flush=True)
    if args.json:
        args.json.write_text(json.dumps({"device": str(device), "batch": args.batch, "images_per_s": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
