"""How much faster a study's sweep runs now than before 2026-12-07: the same small PINN sweep run
the old way (Hydra's basic launcher, one run at a time, torch's default thread count) and the way
`make <study>` runs it now (the joblib launcher with one run per core, one torch thread each).

Both on the pinned path, each into a fresh folder; prints the wall time of each and the ratio.

    python scripts/bench_sweep.py                        # 4 runs of 300 epochs at 1000 Hz
    python scripts/bench_sweep.py --epochs 100 --jobs 2
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def sweep_seconds(extra: list[str], epochs: int) -> float:
    with tempfile.TemporaryDirectory() as results:
        cmd = [sys.executable, "-m", "experiments.run", "-m", "+experiment=baselines_pinn", "task.frequency=1000",
               "schedule=static,dlrs,cosine,step", "trainer.seed=50", f"trainer.epochs={epochs}",
               "trainer.checkpoint_every=0", "trainer.progress=none", f"paths.results={results}", *extra]
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"error: {' '.join(cmd)} failed: {proc.stderr.strip().splitlines()[-1:]}")
        done = len(list(Path(results).glob("runs/*/*/summary.json")))
        if done != 4:
            sys.exit(f"error: {done} of 4 runs finished")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="runs at once now (default: one per core)")
    args = parser.parse_args()
    before = sweep_seconds(["trainer.threads=null"], args.epochs)
    now = sweep_seconds(["hydra/launcher=local_parallel", f"hydra.launcher.n_jobs={args.jobs}"], args.epochs)
    print(f"4 PINN runs x {args.epochs} epochs on {os.cpu_count()} cores: one at a time with torch's default threads "
          f"{before:.1f} s; {args.jobs} at a time, one thread each {now:.1f} s; speed-up {before / now:.2f}x")


if __name__ == "__main__":
    main()
