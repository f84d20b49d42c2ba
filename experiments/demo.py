"""``make run``: the constant rate and DLRS on the Helmholtz PINN, side by side, then one figure.

    python -m experiments.demo [--epochs 1500] [--frequency 1000] [--seed 50] [--results results] [key=value ...]

Two runs of ``python -m experiments.run`` that differ only in the schedule (``schedule=static`` and
``schedule=dlrs``): the same seed, so the same collocation points, batches and initial weights.
They run at the same time as two processes with one thread each, into
``<results>/runs/demo/``. Then one figure beside them (``<results>/runs/demo/comparison.png``:
both loss curves, both errors, both rates, both fields against the exact solution) and two lines
with the numbers, whichever way they fall. Extra ``key=value`` settings go to both runs.
Rerunning skips finished runs and resumes interrupted ones, as ``experiments.run`` does.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any, Optional

REPO = Path(__file__).resolve().parents[1]
EXPERIMENT = "demo"
SCHEDULES = ("static", "dlrs")
LABELS = {"static": "constant rate", "dlrs": "DLRS"}
FULL_FIGURE = "results/figures/fig2.png"  # the committed full-length comparison (10 000 epochs)


def run_overrides(schedule: str, args: argparse.Namespace) -> list[str]:
    """The command line of one of the two runs (everything but the schedule is shared)."""
    return [f"experiment_name={EXPERIMENT}", f"schedule={schedule}", f"trainer.epochs={args.epochs}",
            f"task.frequency={args.frequency:g}", f"trainer.seed={args.seed}", f"paths.results={args.results}",
            "trainer.device=cpu", "trainer.progress=log", *args.overrides]


def run_dir_of(overrides: list[str]) -> Path:
    """The run directory ``python -m experiments.run <overrides>`` uses (name with its settings)."""
    from hydra import compose, initialize_config_dir

    from .naming import name_with_settings

    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    cfg.run_name = name_with_settings(cfg, overrides)
    return Path(cfg.run_dir)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")  # one core each
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def _relay(stream: IO[str], prefix: str) -> None:
    for line in stream:
        if line.startswith("  ") and "/" in line:  # the run's file list: the demo prints its own summary
            continue
        print(f"{prefix} {line}", end="", flush=True)


def run_side_by_side(args: argparse.Namespace) -> dict[str, int]:
    """Both runs at once; their output interleaved line by line, each line tagged. Exit codes by schedule."""
    width = max(len(LABELS[s]) for s in SCHEDULES)
    procs: dict[str, subprocess.Popen] = {}
    relays = []
    for schedule in SCHEDULES:
        cmd = [sys.executable, "-m", "experiments.run", *run_overrides(schedule, args)]
        proc = subprocess.Popen(cmd, cwd=os.getcwd(), env=_child_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, bufsize=1)
        procs[schedule] = proc
        relay = threading.Thread(target=_relay, args=(proc.stdout, f"[{LABELS[schedule]:>{width}}]"), daemon=True)
        relay.start()
        relays.append(relay)
    try:
        codes = {schedule: proc.wait() for schedule, proc in procs.items()}
    except KeyboardInterrupt:  # the terminal sent SIGINT to both runs too: they checkpoint and stop
        codes = {schedule: proc.wait() for schedule, proc in procs.items()}
    for relay in relays:
        relay.join(timeout=5)
    return codes


def _fmt(value: Any, spec: str = ".3g") -> str:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return "-"
    return format(value, spec) if math.isfinite(value) else "-"


def comparison_lines(runs: Any) -> list[str]:
    """A header and one line per schedule: final and best relative error, final rate, time."""
    head = f"{'':14s} {'final rel. error':>16s} {'best (epoch)':>20s} {'final lr':>9s} {'time':>8s}  status"
    lines = [head]
    for schedule in SCHEDULES:
        row = runs[runs["schedule"] == schedule]
        if row.empty:
            lines.append(f"{LABELS[schedule]:14s} (no run found)")
            continue
        r = row.iloc[0]
        best = f"{_fmt(r.get('best_rel_error'), '.3e')} ({_fmt(r.get('best_epoch'), '.0f')})"
        lines.append(f"{LABELS[schedule]:14s} {_fmt(r.get('final_rel_error'), '.3e'):>16s} {best:>20s} "
                     f"{_fmt(r.get('final_lr'), '.2e'):>9s} {_fmt(r.get('total_time_s'), '.0f') + ' s':>8s}  {r['status']}")
    return lines


def ratio_line(runs: Any, args: argparse.Namespace) -> Optional[str]:
    """The two final errors as one number, with what it rests on; no verdict."""
    values = {}
    for schedule in SCHEDULES:
        row = runs[runs["schedule"] == schedule]
        values[schedule] = float(row.iloc[0]["final_rel_error"]) if len(row) else float("nan")
    a, b = values["dlrs"], values["static"]
    if not (math.isfinite(a) and math.isfinite(b)) or b <= 0:
        return None
    return (f"final error DLRS / constant rate = {a / b:.3g} (one seed, {args.epochs} epochs at {args.frequency:g} Hz; "
            "other seeds and lengths differ)")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1500, help="epochs of each run (default 1500)")
    parser.add_argument("--frequency", type=float, default=1000.0, help="Helmholtz frequency in Hz (default 1000)")
    parser.add_argument("--seed", type=int, default=50, help="the seed of both runs (default 50)")
    parser.add_argument("--results", default="results", help="paths.results of both runs (default results)")
    parser.add_argument("overrides", nargs="*", help="more key=value settings for both runs")
    args = parser.parse_args(argv)

    started = time.monotonic()
    runs_dir = Path(args.results) / "runs"
    print(f"make run: constant rate vs DLRS on the Helmholtz PINN at {args.frequency:g} Hz, {args.epochs} epochs, "
          f"seed {args.seed}: two runs side by side (one thread each) into {runs_dir / EXPERIMENT}/", flush=True)
    codes = run_side_by_side(args)
    failed = {s: c for s, c in codes.items() if c != 0}
    if failed:
        for schedule, code in failed.items():
            hint = "; run `make run` again to resume" if code in (130, 143) else "; its output is above"
            print(f"error: the {LABELS[schedule]} run stopped with exit code {code}{hint}", file=sys.stderr)
        return max(failed.values())

    from . import report  # pandas and matplotlib: only once both runs are done

    dirs = {run_dir_of(run_overrides(s, args)).resolve() for s in SCHEDULES}
    runs = report.load_runs(runs_dir, EXPERIMENT)
    runs = runs[[Path(d).resolve() in dirs for d in runs["run_dir"]]].reset_index(drop=True)
    curves = report.load_curves(runs_dir, EXPERIMENT, runs)
    figure = report.plot_comparison(
        runs, curves, runs_dir / EXPERIMENT / "comparison.png",
        f"Helmholtz PINN, f = {args.frequency:g} Hz, {args.epochs} epochs, seed {args.seed}: "
        "Static (constant rate) vs DLRS, same points and initial weights")
    print()
    for line in comparison_lines(runs):
        print(line)
    ratio = ratio_line(runs, args)
    if ratio:
        print(ratio)
    for run_dir in runs["run_dir"]:
        print(f"run:    {run_dir}")
    print(f"figure: {figure}   (wall time {time.monotonic() - started:.0f} s)")
    print(f"the full-length comparison (all five frequencies, 10 000 epochs, seed 50): {FULL_FIGURE}; "
          "make fig2 SEEDS=50 reruns it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
