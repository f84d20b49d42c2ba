"""Time one Helmholtz PINN epoch with forward-mode derivatives versus nested autograd.

One epoch = 10 batches of (loss, backward, Adam step) on a batch of 1000 points at 1000 Hz, as
in the paper. Both methods start from the SAME weights and batch; their losses must agree.

    python scripts/bench_pinn.py [--device cpu] [--repeats 5] [--compile]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from experiments.tasks.helmholtz import residual_loss, wavenumber  # noqa: E402
from models.pinn_mlp import PINNMLP  # noqa: E402

LossFn = Callable[[nn.Module, Tensor], Tensor]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class Runner:
    """One method's own copy of the model and its Adam state; ``epoch()`` returns seconds."""

    def __init__(self, model: nn.Module, loss_fn: LossFn, x: Tensor, batches: int) -> None:
        self.model, self.loss_fn, self.x, self.batches = model, loss_fn, x, batches
        self.opt = torch.optim.Adam(model.parameters(), lr=0.005)
        self.times: list[float] = []

    def epoch(self) -> float:
        _sync(self.x.device)
        t0 = time.perf_counter()
        for _ in range(self.batches):
            self.opt.zero_grad(set_to_none=True)
            self.loss_fn(self.model, self.x).backward()
            self.opt.step()
        _sync(self.x.device)
        return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=5, help="timed epochs per method (median reported)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batches", type=int, default=10, help="batches per epoch")
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--frequency", type=float, default=1000.0)
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile of the forward-mode loss")
    args = ap.parse_args(argv)

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    k = wavenumber(args.frequency, 340.0)
    torch.manual_seed(0)
    base = PINNMLP().to(device)
    x = torch.rand(args.batch_size, 1, generator=torch.Generator().manual_seed(1)).to(device)

    def fwd(m: nn.Module, xb: Tensor) -> Tensor:
        return residual_loss(m, xb, k, 1.0, -1.0, method="forward")

    def nested(m: nn.Module, xb: Tensor) -> Tensor:
        return residual_loss(m, xb, k, 1.0, -1.0, method="autograd")

    lf, la = fwd(base, x).item(), nested(base, x).item()
    rel = abs(lf - la) / max(abs(la), 1e-30)
    print(f"device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print(f"initial loss: forward-mode {lf:.6e}, autograd {la:.6e}, relative difference {rel:.1e}")
    if rel > 1e-5:
        print("FAIL: forward-mode and autograd losses disagree by more than 1e-5 relative")
        return 1

    runners = {
        "forward-mode": Runner(copy.deepcopy(base), fwd, x, args.batches),
        "autograd": Runner(copy.deepcopy(base), nested, x, args.batches),
    }
    if args.compile:
        compiled = Runner(copy.deepcopy(base), torch.compile(fwd), x, args.batches)
        try:
            compiled.epoch()  # compiles; needs a working C++ toolchain on CPU
            runners["forward-mode compiled"] = compiled
        except Exception as exc:  # report, don't crash: the uncompiled numbers still stand
            print(f"forward-mode compiled: failed ({type(exc).__name__}: {str(exc).splitlines()[0][:200]})")
    # Interleave the methods so that load from other processes hits them alike.
    for i in range(args.warmup + args.repeats):
        for r in runners.values():
            t = r.epoch()
            if i >= args.warmup:
                r.times.append(t)
    med = {name: statistics.median(r.times) for name, r in runners.items()}
    for name, t in med.items():
        print(f"{name + ':':<23}{t * 1e3:8.1f} ms/epoch")
    print(f"speed-up (autograd / forward-mode): {med['autograd'] / med['forward-mode']:.2f}x")
    if "forward-mode compiled" in med:
        print(f"speed-up (autograd / forward-mode compiled): {med['autograd'] / med['forward-mode compiled']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
