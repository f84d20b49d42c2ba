"""What pinning the numerical path costs: seconds per epoch of the same run on the pinned path
(trainer.numerics=pinned: MKL, oneDNN and ATen on AVX2) and on each library's native path.

Each measurement is one run of the real command line (a fresh process, so each library picks its
path at start), one thread; the median epoch time of its metrics.csv, the first epoch left out.

    python scripts/bench_numerics.py                     # the PINN (1000 Hz, 200 epochs) and Fashion-MNIST
    python scripts/bench_numerics.py --repeats 3 --skip-images
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKLOADS = {
    "PINN, 1000 Hz": ["task.frequency=1000", "trainer.epochs=200"],
    # the images_cpu model and batch on 2 000 real images (make data), 3 epochs
    "Fashion-MNIST, MNIST CNN": ["task=fashion_mnist", "model=mnist_cnn", "task.subset=2000", "task.test_subset=1000",
                                 "trainer.epochs=3"],
}


def epoch_seconds(overrides: list[str], numerics: str) -> float:
    with tempfile.TemporaryDirectory() as results:
        cmd = [sys.executable, "-m", "experiments.run", *overrides, f"trainer.numerics={numerics}",
               "trainer.checkpoint_every=0", "trainer.progress=none", f"paths.results={results}"]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        for name in ("MKL_CBWR", "ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY"):  # native: as a user's shell has them
            env.pop(name, None)
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"error: {' '.join(cmd)} failed: {proc.stderr.strip().splitlines()[-1:]}")
        (metrics,) = Path(results).glob("runs/*/*/metrics.csv")
        with open(metrics, newline="") as f:
            times = [float(row["epoch_time_s"]) for row in csv.DictReader(f)]
    return statistics.median(times[1:] or times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs per path and workload (median of them)")
    parser.add_argument("--skip-images", action="store_true", help="the PINN only (no Fashion-MNIST needed)")
    args = parser.parse_args()
    for workload, overrides in WORKLOADS.items():
        if args.skip_images and "fashion" in workload.lower():
            continue
        # alternate the two paths so that a change of the machine's load hits both alike
        times: dict[str, list[float]] = {"native": [], "pinned": []}
        for _ in range(args.repeats):
            for numerics in times:
                times[numerics].append(epoch_seconds(overrides, numerics))
        native, pinned = (statistics.median(times[k]) for k in ("native", "pinned"))
        print(f"{workload}: native {native * 1e3:.1f} ms/epoch, pinned {pinned * 1e3:.1f} ms/epoch, "
              f"pinned/native {pinned / native:.2f}x ({args.repeats} runs each, one thread)")


if __name__ == "__main__":
    main()
