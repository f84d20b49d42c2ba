"""`make run`: the constant rate and DLRS side by side, two lines that state the numbers either way."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import cli_env, scaled
from experiments import demo


def test_demo_lines_state_the_numbers_either_way() -> None:
    runs = pd.DataFrame([
        {"schedule": "static", "final_rel_error": 0.3, "best_rel_error": 0.1, "best_epoch": 800, "final_lr": 0.005,
         "total_time_s": 100.0, "status": "completed"},
        {"schedule": "dlrs", "final_rel_error": 0.6, "best_rel_error": 0.5, "best_epoch": 1500, "final_lr": 5.55e-5,
         "total_time_s": 101.0, "status": "completed"}])
    args = demo.argparse.Namespace(epochs=1500, frequency=1000.0)
    head, static, dlrs = demo.comparison_lines(runs)
    assert "final rel. error" in head and "best (epoch)" in head and "time" in head
    assert static.startswith("constant rate") and "3.000e-01" in static and "1.000e-01 (800)" in static
    assert dlrs.startswith("DLRS") and "6.000e-01" in dlrs and "101 s" in dlrs
    assert demo.ratio_line(runs, args).startswith("final error DLRS / constant rate = 2 (one seed")


@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path) -> None:
    """`python -m experiments.demo`: two runs side by side, two lines, one figure beside the runs."""
    proc = subprocess.run([sys.executable, "-m", "experiments.demo", "--epochs", "3", "--results", "results",
                           "task.n_points=200", "task.batch_size=50"], cwd=tmp_path, env=cli_env(),
                          capture_output=True, text=True, timeout=scaled(600))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "[constant rate] epoch 1/3 " in out and "[         DLRS] epoch 1/3 " in out
    lines = out.splitlines()
    static = next(line for line in lines if line.startswith("constant rate "))
    dlrs = next(line for line in lines if line.startswith("DLRS "))
    assert "completed" in static and "completed" in dlrs
    figure = tmp_path / "results" / "runs" / "demo" / "comparison.png"
    assert "figure: results/runs/demo/comparison.png" in out and figure.stat().st_size > 10_000
    assert "results/figures/fig2.png" in out
    names = sorted(p.name for p in (tmp_path / "results" / "runs" / "demo").iterdir() if p.is_dir())
    assert names == [f"helmholtz-f1000_pinn_mlp_{s}_adam-lr0.005_batch_size50_n_points200_epochs3_s50"
                     for s in ("dlrs", "static")]
    assert not (tmp_path / "results" / "figures").exists()
