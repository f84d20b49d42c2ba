"""What the schedules cost: host synchronisations per training step, and time per epoch.

Runs the real trainer (experiments.trainer) on a small config with schedule=static, dlrs and
adacomp (all with Adam, so only the schedule differs) and prints, per schedule:

* host syncs per step inside the batch loop: on CUDA, counted by ``torch.cuda.set_sync_debug_mode``;
  on CPU, counted as calls of Tensor.item/tolist/cpu/numpy/__float__/__int__/__bool__ (the calls
  that would synchronise on a GPU; torch.optim's host-side step counters are left out);
* the seconds spent inside the schedule's observe()/step() per epoch, relative to the epoch;
* the median epoch time (first epoch left out) and its ratio to the static schedule's.

    python scripts/bench_schedulers.py                          # Helmholtz PINN, 10 batches/epoch
    python scripts/bench_schedulers.py --task cifar10 --model resnet18 --images 2048

``--micro`` times the scheduler calls alone, against what a float-based scheduler does: per batch
``DLRS.observe(loss)`` vs ``losses.append(loss.item())`` (a host sync per batch on a GPU), per epoch
``DLRS.step()`` vs the rule on that list of floats, and both added up, each with its ratio::

    python scripts/bench_schedulers.py --micro                  # 100 batches per epoch, 300 epochs
    python scripts/bench_schedulers.py --micro --device cuda
"""

from __future__ import annotations

import argparse
import csv
import gc
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

import torch  # noqa: E402

from dlrs import DLRS, dlrs_lr  # noqa: E402
from dlrs.schedulers import _read_losses  # noqa: E402
from experiments import trainer as trainer_module  # noqa: E402
from experiments.run import CONFIG_DIR  # noqa: E402

SCHEDULES = ("static", "dlrs", "adacomp")
HOST_READS = ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__")
_TORCH_OPTIM = str(Path(torch.optim.__file__).parent)


class SyncCounter:
    """Counts host reads while ``active``; where they come from, by file:line."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.active, self.sites = device, False, Counter()
        self.steps, self._seen = 0, set()

    def start(self) -> None:
        self.active = True
        if self.device.type == "cuda":
            torch.cuda.set_sync_debug_mode("warn")

    def stop(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.set_sync_debug_mode("default")
        self.active = False

    def patch_tensor(self) -> Callable[[], None]:
        """CPU only: wrap the Tensor methods that read a value back to the host; returns the undo."""
        saved = {name: torch.Tensor.__dict__.get(name) for name in HOST_READS}
        for name in HOST_READS:
            original = getattr(torch.Tensor, name)

            def wrapper(t: torch.Tensor, *args: Any, _original: Callable = original, _name: str = name, **kw: Any):
                if self.active:
                    frame = sys._getframe(1)
                    if not frame.f_code.co_filename.startswith(_TORCH_OPTIM):  # CPU step counters: not syncs
                        self.record(f"{_short(frame.f_code.co_filename)}:{frame.f_lineno}")
                return _original(t, *args, **kw)

            setattr(torch.Tensor, name, wrapper)

        def undo() -> None:
            for name, value in saved.items():
                if value is None:
                    delattr(torch.Tensor, name)  # it was inherited from torch._C.TensorBase
                else:
                    setattr(torch.Tensor, name, value)
        return undo

    def record(self, site: str) -> None:
        # x.cpu().tolist() is one transfer: reads from one line in one step count once
        if (site, self.steps) not in self._seen:
            self._seen.add((site, self.steps))
            self.sites[site] += 1

    def on_warning(self, message: warnings.WarningMessage) -> None:
        if "synchroniz" in str(message.message):  # only raised while active (debug mode on)
            self.sites[f"{_short(message.filename)}:{message.lineno}"] += 1


def _short(path: str) -> str:
    parts = Path(path).parts
    return "/".join(parts[-2:])


def install_hooks(counter: SyncCounter, timings: dict[str, float]) -> Callable[[], None]:
    """Count inside the trainer's batch loop only; time the schedule's own methods. Returns the undo."""
    original_batches, original_epoch_loss = trainer_module.Trainer._batches, trainer_module.Trainer._epoch_loss
    original_build = trainer_module.build_schedule

    def batches(self: Any, epoch: int, skip: int):
        counter.start()
        for batch in original_batches(self, epoch, skip):
            counter.steps += 1
            yield batch

    def epoch_loss(self: Any, *args: Any, **kw: Any):
        counter.stop()  # the loop is over: the epoch's one read follows
        return original_epoch_loss(self, *args, **kw)

    def build_schedule(cfg: Any, optimizer: Any):
        schedule = original_build(cfg, optimizer)
        for method in ("observe", "step"):
            inner = getattr(schedule, method)

            def timed(*args: Any, _inner: Callable = inner, **kw: Any) -> Any:
                t0 = time.perf_counter()
                try:
                    return _inner(*args, **kw)
                finally:
                    timings["schedule_s"] += time.perf_counter() - t0

            setattr(schedule, method, timed)
        return schedule

    trainer_module.Trainer._batches, trainer_module.Trainer._epoch_loss = batches, epoch_loss
    trainer_module.build_schedule = build_schedule

    def undo() -> None:
        trainer_module.Trainer._batches, trainer_module.Trainer._epoch_loss = original_batches, original_epoch_loss
        trainer_module.build_schedule = original_build
    return undo


def run_once(overrides: list[str]) -> list[dict[str, str]]:
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    trainer_module.train(cfg)
    with open(Path(cfg.run_dir) / "metrics.csv") as f:
        return list(csv.DictReader(f))


def main(argv: list[str] | None = None) -> dict[str, dict[str, Any]]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    ap.add_argument("--task", default="helmholtz", choices=("helmholtz", "cifar10", "mnist"))
    ap.add_argument("--model", default=None, help="image model (default: resnet18 for cifar10, mnist_cnn for mnist)")
    ap.add_argument("--images", type=int, default=1024, help="fixture training images (image tasks)")
    ap.add_argument("--epochs", type=int, default=4, help="epochs per run; the first is not timed")
    ap.add_argument("--rounds", type=int, default=2, help="runs per schedule, interleaved")
    ap.add_argument("--set", nargs="*", default=[], help="extra Hydra overrides, e.g. task.batch_size=500")
    ap.add_argument("--micro", action="store_true", help="time observe()/step() alone vs a loss.item() append")
    ap.add_argument("--batches", type=int, default=100, help="--micro: batches (losses) per epoch")
    args = ap.parse_args(argv)
    if args.micro:
        args.epochs = 300 if "--epochs" not in (argv if argv is not None else sys.argv) else args.epochs
    if args.epochs < 2 or args.rounds < 1 or args.batches < 2:
        ap.error("--epochs must be >= 2 (the first epoch is warm-up), --rounds >= 1, --batches >= 2")

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
    if args.micro:
        return micro(device, args.batches, args.epochs)
    tmp = Path(tempfile.mkdtemp(prefix="bench_schedulers_"))
    base = [f"task={args.task}", "optimizer=adam", f"trainer.epochs={args.epochs}", f"trainer.device={device}",
            "trainer.progress=none", "trainer.checkpoint_every=0", "trainer.force=true", f"paths.runs={tmp}/runs"]
    if args.task == "helmholtz":
        base.append("model=pinn_mlp")
    else:
        from experiments.fixtures import write_cifar10, write_mnist

        (write_cifar10 if args.task == "cifar10" else write_mnist)(tmp / "data", args.images, 100)
        base += [f"model={args.model or ('resnet18' if args.task == 'cifar10' else 'mnist_cnn')}",
                 f"paths.data={tmp}/data", "task.download=false", "task.test_subset=100"]

    counter, timings = SyncCounter(device), {"schedule_s": 0.0}
    undo = [install_hooks(counter, timings)]
    if device.type != "cuda":
        undo.append(counter.patch_tensor())
    try:
        results = _measure(args, base, counter, timings)
    finally:  # leave torch and the trainer as they were (the tests call main() in-process)
        for restore in undo:
            restore()
        shutil.rmtree(tmp, ignore_errors=True)
    static = results["static"]["epoch_s"]
    print(f"device {device}, torch {torch.__version__}, task {args.task}, "
          f"{args.rounds} x {args.epochs} epochs per schedule (first epoch of each run not timed)")
    print(f"{'schedule':<9}{'syncs/step':>11}{'steps/epoch':>12}{'epoch ms':>10}{'vs static':>10}{'in schedule':>12}")
    for name, r in results.items():
        print(f"{name:<9}{r['syncs']:11.3f}{r['steps']:12d}{r['epoch_s'] * 1e3:10.2f}{r['epoch_s'] / static:9.3f}x"
              f"{r['schedule_frac']:11.2%}")
    for name, r in results.items():
        for site, n in sorted(r["sites"].items()):
            print(f"  {name}: {n} host reads at {site}")
    return results


def _measure(args: argparse.Namespace, base: list[str], counter: SyncCounter,
             timings: dict[str, float]) -> dict[str, dict[str, Any]]:
    # Rounds interleave the schedules, so that load from other processes hits them alike.
    acc = {name: dict(sites=Counter(), steps=0, epochs=[], all_epochs_s=0.0, schedule_s=0.0) for name in SCHEDULES}
    for _ in range(args.rounds):
        for name in SCHEDULES:
            counter.sites, counter.steps, timings["schedule_s"] = Counter(), 0, 0.0
            counter._seen.clear()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                rows = run_once([*base, f"schedule={name}", *args.set])
            for w in caught:
                counter.on_warning(w)
            epoch_times = [float(r["epoch_time_s"]) for r in rows]
            a = acc[name]
            a["sites"].update(counter.sites)
            a["steps"] += counter.steps
            a["epochs"] += epoch_times[1:]
            a["all_epochs_s"] += sum(epoch_times)
            a["schedule_s"] += timings["schedule_s"]
    results = {name: dict(syncs=sum(a["sites"].values()) / max(a["steps"], 1), sites=dict(a["sites"]),
                          steps=a["steps"] // (args.rounds * args.epochs), epoch_s=statistics.median(a["epochs"]),
                          schedule_frac=a["schedule_s"] / a["all_epochs_s"]) for name, a in acc.items()}
    return results


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def micro(device: torch.device, batches: int, epochs: int) -> dict[str, dict[str, Any]]:
    """Time the per-batch and per-epoch calls of DLRS against a float list fed by ``loss.item()``.

    Each batch makes a fresh 0-d loss in an autograd graph on ``device`` (one small kernel), as
    a training step would; only the calls themselves are timed. Medians over ``epochs`` (the
    first left out); per-batch costs are the epoch's total over ``batches``.
    """
    w = torch.nn.Parameter(torch.ones((), device=device))
    xs = torch.linspace(2.0, 1.0, batches, device=device, dtype=torch.float32)
    opt = torch.optim.SGD([w], lr=5e-3)
    sched = DLRS(opt, min_lr=1e-4, max_lr=1e-2)
    ns = {key: [] for key in ("observe", "item", "step", "rule", "stack", "one_by_one")}
    timer = time.perf_counter_ns
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for epoch in range(epochs):
            floats: list[float] = []
            t_observe = t_item = 0
            for i in range(batches):
                loss = w * xs[i]
                _sync(device)  # a real step has finished its kernels by now more often than not
                t0 = timer()
                sched.observe(loss)
                t1 = timer()
                floats.append(loss.item())
                t2 = timer()
                t_observe += t1 - t0
                t_item += t2 - t1
            opt.step()  # no gradients, nothing to do: torch only checks it came before sched.step()
            window = list(sched._window)
            t0 = timer()
            _read_losses(window, False)  # what step() reads: one stack, one copy
            t1 = timer()
            torch.stack([x.to(torch.float64) for x in window]).cpu().tolist()  # converting one by one first
            t2 = timer()
            sched.step()
            t3 = timer()
            lr = dlrs_lr(opt.param_groups[0]["lr"], floats, min_lr=1e-4, max_lr=1e-2)  # the float scheduler's step
            for group in opt.param_groups:
                group["lr"] = lr
            t4 = timer()
            if epoch:
                for key, value in (("observe", t_observe), ("item", t_item), ("stack", t1 - t0),
                                   ("one_by_one", t2 - t1), ("step", t3 - t2), ("rule", t4 - t3)):
                    ns[key].append(value)
    finally:
        if gc_was_enabled:
            gc.enable()
    us = {key: statistics.median(values) / 1e3 for key, values in ns.items()}
    rows = {
        "per batch": dict(ours=us["observe"] / batches, theirs=us["item"] / batches,
                          ours_name="DLRS.observe(loss)", theirs_name="losses.append(loss.item())"),
        "per epoch": dict(ours=us["step"], theirs=us["rule"],
                          ours_name="DLRS.step()", theirs_name="dlrs_lr(lr, losses)"),
        "epoch total": dict(ours=us["observe"] + us["step"], theirs=us["item"] + us["rule"],
                            ours_name=f"{batches} observe + step", theirs_name=f"{batches} .item() + rule"),
        "window read": dict(ours=us["stack"], theirs=us["one_by_one"],
                            ours_name="torch.stack, then one copy", theirs_name="convert each loss, then stack"),
    }
    print(f"micro-benchmark: device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{batches} batches per epoch, median of {epochs - 1} epochs")
    for name, r in rows.items():
        r["ratio"] = r["ours"] / r["theirs"]
        print(f"{name:<12}{r['ours_name']:<28}{r['ours']:9.2f} us   {r['theirs_name']:<30}{r['theirs']:9.2f} us"
              f"   ratio {r['ratio']:.2f}x")
    return rows


if __name__ == "__main__":
    main()
