"""How much of DLRS's per-epoch slope is batch identity, and how much is progress?

Trains the Helmholtz PINN (f = 1000 Hz, 10 000 points, batches of 1 000, Adam at a constant
5e-3, seed 50) twice from the same weights: batches in a fixed order, and reshuffled every epoch.
It records every batch loss. At a few epochs it also FREEZES the weights and computes the
squared residual at every collocation point once; a batch loss of the frozen model is then
the mean over the batch's points, so any number of epoch orders costs nothing. A frozen model
makes no progress: whatever slope it shows is the identity of the batches alone.

For each slope estimate (dlrs.rules: the paper's ``window_slope``, ``lsq_slope``,
``mean_change_slope``) it prints, per stage:

* frozen, fixed order: the slope every epoch would show (one number: the same batches each time);
* frozen, reshuffled: mean, std and share >= 0 (the rule's "stagnant") over many orders;
* training (fixed and reshuffled): mean, std and share >= 0 of the per-epoch slopes around it;
* identity share: var(frozen reshuffled) / var(training reshuffled);
* the same training statistics after the rate is lowered (10x and 100x, Adam's moments kept)
  at the middle stage, as DLRS lowers it: the identity noise does not shrink with the rate;
* noise drift: mean of -delta(slope) * slope over the frozen reshuffled slopes with the paper's
  deltas (0.5, 1, 0.1), i.e. how far, in units of the rate's decade 10**floor(log10 lr), the
  paper's rule moves the rate per epoch on noise alone.

It writes one figure (default docs/figures/slope_noise.png). About 4 CPU minutes (6 on a busy machine) with
OMP_NUM_THREADS=1:

    OMP_NUM_THREADS=1 .venv/bin/python scripts/measure_slope_noise.py
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dlrs.rules import apply_dlrs_slope, lsq_slope, mean_change_slope, window_slope  # noqa: E402
from experiments.schema import option  # noqa: E402
from experiments.tasks.base import TaskContext  # noqa: E402
from experiments.tasks.helmholtz import Helmholtz, trial_second_derivative, trial_solution  # noqa: E402

MODEL = option("model", "pinn_mlp")  # the paper's network
KINDS = ("paper", "lsq", "epoch_mean")
Windows = list[list[float]]


def make_task(frequency: float, shuffle: bool, seed: int, batch_size: int = 1000) -> Helmholtz:
    cfg = option("task", "helmholtz", frequency=frequency, n_points=10000, batch_size=batch_size, shuffle=shuffle)
    return Helmholtz(cfg, TaskContext(torch.device("cpu"), seed, 0, 1))


def train(task: Helmholtz, epochs: int, stages: Sequence[int], lr: float,
          start: Optional[tuple[int, dict, dict]] = None) -> tuple[Windows, dict[int, tuple[dict, dict]]]:
    """Every epoch's batch losses, and (weights, Adam state) after each of ``stages`` epochs;
    ``start``: (epoch, weights, Adam state) to continue from, at the rate ``lr``."""
    model = task.build_model(MODEL)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    first = 0
    if start is not None:
        first, weights0, opt_state = start
        model.load_state_dict(weights0)
        opt.load_state_dict(opt_state)
        for group in opt.param_groups:  # Adam keeps its moments; only the rate drops, as under DLRS
            group["lr"] = lr
    windows: Windows = []
    weights = {}
    for epoch in range(first, first + epochs):
        window = []
        for batch in task.train_batches(epoch):
            loss = task.loss(model, batch)
            opt.zero_grad()
            loss.backward()
            opt.step()
            window.append(loss.item())  # a measurement: one host read per batch is fine here
        windows.append(window)
        if epoch + 1 in stages:
            weights[epoch + 1] = (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()))
    return windows, weights


@torch.no_grad()
def squared_residuals(task: Helmholtz, weights: dict) -> torch.Tensor:
    """(p'' + k² p)² at every collocation point, for frozen weights (float64 on the host)."""
    model = task.build_model(MODEL)
    model.load_state_dict(weights[0])
    x = task.points
    n, dn, d2n = model(x, order=2)
    p = trial_solution(x, n, task.p0, task.p1)
    r = trial_second_derivative(x, n, dn, d2n) + task.k ** 2 * p
    return (r.double() ** 2).squeeze(1)


def frozen_windows(r2: torch.Tensor, batch_size: int, orders: Sequence[torch.Tensor]) -> Windows:
    """The batch losses of one epoch per order: the mean of r² over each batch's points."""
    return [r2[order].reshape(-1, batch_size).mean(dim=1).tolist() for order in orders]


def slopes(windows: Windows, kind: str) -> list[float]:
    """Per-window slopes under ``kind``; epoch_mean compares each window with the one before."""
    out: list[float] = []
    previous: Optional[float] = None
    for window in windows:
        if kind == "epoch_mean":
            s, _ = mean_change_slope(previous, window)
            previous = math.fsum(window) / len(window)
        else:
            s, _ = (window_slope if kind == "paper" else lsq_slope)(window)
        if s is not None:
            out.append(s)
    return out


def noise_drift(values: Sequence[float]) -> float:
    """Mean rate change per epoch of the paper's rule, in units of the rate's decade (lr = 1.0
    has decade 1, and 1e6 bounds keep the clamp out of it)."""
    step: Callable[[float], float] = lambda s: apply_dlrs_slope(  # noqa: E731
        1.0, s, delta_d=0.5, delta_o=1.0, delta_i=0.1, min_lr=1e-6, max_lr=1e6)[0] - 1.0
    return statistics.fmean(step(s) for s in values)


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values),
            "up": sum(v >= 0 for v in values) / len(values)}


def fmt(d: dict[str, float]) -> str:
    return f"mean {d['mean']:+.4f}  std {d['std']:.4f}  >=0 {d['up']:.0%}"


def main(argv: Optional[Sequence[str]] = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frequency", type=float, default=1000.0)
    ap.add_argument("--epochs", type=int, default=500, help="training epochs per run (two runs)")
    ap.add_argument("--stages", default="25,100,250,500", help="epochs at which the weights are frozen")
    ap.add_argument("--around", type=int, default=25, help="training epochs on each side of a stage")
    ap.add_argument("--orders", type=int, default=2000, help="reshuffled epoch orders per frozen model")
    ap.add_argument("--seed", type=int, default=50)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--lower", default="5e-4,5e-5", help="rates to continue at from the middle stage")
    ap.add_argument("--branch-epochs", type=int, default=60, help="epochs at each lower rate (first 10 not counted)")
    ap.add_argument("--figure", type=Path, default=ROOT / "docs" / "figures" / "slope_noise.png")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    stages = [int(s) for s in args.stages.split(",")]
    t0 = time.time()

    middle = stages[len(stages) // 2]
    lower = [float(x) for x in args.lower.split(",") if x]
    runs, frozen, branches = {}, {}, {}
    for shuffle in (False, True):
        task = make_task(args.frequency, shuffle, args.seed)
        runs[shuffle], weights = train(task, args.epochs, stages, args.lr)
        for lr in lower:
            branch, _ = train(task, args.branch_epochs, (), lr, start=(middle, *weights[middle]))
            branches[shuffle, lr] = branch[10:]  # skip the transient right after the drop
        gen = torch.Generator().manual_seed(args.seed)
        orders = [torch.randperm(len(task.points), generator=gen) for _ in range(args.orders)]
        for stage in stages:
            r2 = squared_residuals(task, weights[stage])
            for batch_size in (1000, 100):
                if shuffle:
                    frozen[stage, batch_size, True] = frozen_windows(r2, batch_size, orders)
                else:  # the same batches every epoch: two identical epochs
                    frozen[stage, batch_size, False] = frozen_windows(r2, batch_size, [torch.arange(len(r2))] * 2)
    print(f"Helmholtz {args.frequency:g} Hz, Adam {args.lr:g} constant, seed {args.seed}, {args.epochs} epochs "
          f"per order, {args.orders} frozen orders ({time.time() - t0:.0f} s)\n")

    results: dict = {}
    for stage in stages:
        lo, hi = max(0, stage - args.around), min(args.epochs, stage + args.around)
        print(f"== weights after {stage} epochs (training statistics over epochs {lo}..{hi - 1}) ==")
        for kind in KINDS:
            fixed_frozen = slopes(frozen[stage, 1000, False], kind)[-1]
            noise = slopes(frozen[stage, 1000, True], kind)
            noise100 = slopes(frozen[stage, 100, True], kind)
            train_fixed = slopes(runs[False], kind)[lo:hi] if kind != "epoch_mean" else \
                slopes(runs[False][max(0, lo - 1):hi], kind)
            train_shuf = slopes(runs[True], kind)[lo:hi] if kind != "epoch_mean" else \
                slopes(runs[True][max(0, lo - 1):hi], kind)
            n, ts, tf = summary(noise), summary(train_shuf), summary(train_fixed)
            share = n["std"] ** 2 / ts["std"] ** 2 if ts["std"] > 0 else float("nan")
            drift = noise_drift(noise)
            results[stage, kind] = dict(fixed_frozen=fixed_frozen, noise=n, noise100=summary(noise100),
                                        train_fixed=tf, train_shuffled=ts, identity_share=share, drift=drift)
            print(f"  {kind:10s} frozen fixed {fixed_frozen:+.4f} | frozen reshuffled {fmt(n)} "
                  f"(100 batches: std {summary(noise100)['std']:.4f})")
            print(f"  {'':10s} training fixed      {fmt(tf)}")
            print(f"  {'':10s} training reshuffled {fmt(ts)}  identity share {share:.0%}  "
                  f"noise drift {drift:+.4f} decade/epoch")
        print()
    print(f"== weights after {middle} epochs, then {args.branch_epochs} epochs at a lower rate "
          f"(statistics over its epochs 10..{args.branch_epochs - 1}) ==")
    for lr in lower:
        for kind in KINDS:
            noise = results[middle, kind]["noise"]
            tf, ts = summary(slopes(branches[False, lr], kind)), summary(slopes(branches[True, lr], kind))
            share = noise["std"] ** 2 / ts["std"] ** 2 if ts["std"] > 0 else float("nan")
            results[middle, kind, lr] = dict(train_fixed=tf, train_shuffled=ts, identity_share=share)
            print(f"  lr {lr:<7g} {kind:10s} training fixed      {fmt(tf)}")
            print(f"  {'':18s} training reshuffled {fmt(ts)}  identity share {share:.0%}")
    print(f"\ndone in {time.time() - t0:.0f} s")
    if args.figure:
        figure(args, runs, frozen, branches, stages, results)
    return results


def figure(args: argparse.Namespace, runs: dict, frozen: dict, branches: dict, stages: Sequence[int],
           results: dict) -> None:
    from matplotlib.figure import Figure  # no pyplot: no GUI backend

    stage = stages[len(stages) // 2]
    low = min(lr for (_, lr) in branches)
    fig = Figure(figsize=(9, 3.3), layout="constrained")
    left, right = fig.subplots(1, 2)
    lo, hi = max(0, stage - args.around), min(args.epochs, stage + args.around)
    bins = [x / 40 for x in range(-40, 41)]
    left.hist(slopes(frozen[stage, 1000, True], "paper"), bins=bins, density=True, color="grey", alpha=0.5,
              label="frozen weights, reshuffled (identity only)")
    left.hist(slopes(runs[True], "paper")[lo:hi], bins=bins, density=True, histtype="step", lw=1.5, color="C1",
              label=f"training at {args.lr:g}, reshuffled")
    left.hist(slopes(branches[True, low], "paper"), bins=bins, density=True, histtype="step", lw=1.5, color="C2",
              label=f"training at {low:g}, reshuffled")
    left.axvline(results[stage, "paper"]["fixed_frozen"], color="C0", ls="--", lw=1,
                 label="frozen weights, fixed order")
    left.set(xlabel="paper's slope (L_B - L_1) / mean(L) per epoch", ylabel="density", xlim=(-1, 1),
             title=f"{args.frequency:g} Hz, weights after {stage} epochs")
    left.legend(fontsize=7, loc="upper left")
    x = list(range(len(KINDS)))
    width = 0.27
    floor = 1e-4  # epoch_mean's identity noise is rounding (~1e-16): drawn at the axis floor
    bars = [("frozen, reshuffled (identity)", "grey", [results[stage, k]["noise"]["std"] for k in KINDS]),
            (f"training at {args.lr:g}", "C1", [results[stage, k]["train_shuffled"]["std"] for k in KINDS]),
            (f"training at {low:g}", "C2", [results[stage, k, low]["train_shuffled"]["std"] for k in KINDS])]
    for j, (label, color, values) in enumerate(bars):
        right.bar([i + (j - 1) * width for i in x], [max(v, floor) for v in values], width, color=color, label=label)
        for i, v in enumerate(values):
            if v < floor:
                right.text(i + (j - 1) * width, floor * 1.2, "0", ha="center", fontsize=8)
    right.set_yscale("log")
    right.set_ylim(bottom=floor)
    right.set_xticks(x, list(KINDS))
    right.set(ylabel="std of the per-epoch slope (reshuffled)", title="identity noise vs the slopes training shows")
    right.legend(fontsize=7)
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.figure, dpi=90)
    print(f"figure: {args.figure}")


if __name__ == "__main__":
    main()
