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
"""

from __future__ import annotations

import argparse
import csv
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
    args = ap.parse_args(argv)
    if args.epochs < 2 or args.rounds < 1:
        ap.error("--epochs must be >= 2 (the first epoch is warm-up) and --rounds >= 1")

    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          "cpu" if args.device == "auto" else args.device)
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


if __name__ == "__main__":
    main()
