"""The paper's figures and tables, redrawn from run directories (``results/runs/<experiment>/<run>/``).

``make_report`` aggregates over seeds (mean ± std) and writes, under ``out_dir``,
``figures/<experiment>[_lr].{png,pdf}`` and ``tables/<experiment>.{csv,md}``. The parts:
``runs`` (reading run directories), ``tables``, ``figures`` and ``names`` (labels and colours).
No torch import here: reports must be cheap to redraw while runs are still going.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import pandas as pd

from .figures import plot_experiment
from .names import ARCH_NAMES, EXPERIMENTS, KINDS, PAPER_TABLE1, SCHEDULES
from .runs import FINISHED, load_curves, load_runs, read_metrics
from .tables import aggregate, build_table, mean_std_text, status_text, to_markdown, write_table

__all__ = ["make_report", "experiment_kind", "load_runs", "load_curves", "read_metrics", "aggregate", "build_table",
           "write_table", "plot_experiment", "mean_std_text", "status_text", "to_markdown", "EXPERIMENTS", "KINDS",
           "PAPER_TABLE1", "ARCH_NAMES", "SCHEDULES", "FINISHED"]


def experiment_kind(experiment: str, runs: Optional[pd.DataFrame] = None) -> str:
    """'pinn', 'batch' or 'arch': from the name (fig2_quick -> fig2), else guessed from the runs."""
    base = experiment.split("_")[0]
    if base in KINDS:
        return KINDS[base]
    if runs is not None and (runs["task"] == "helmholtz").any():
        return "pinn"
    if runs is not None and runs["model"].nunique() > 1:
        return "arch"
    return "batch"


def make_report(experiment: str, runs_dir: Path, out_dir: Path) -> list[Path]:
    """Tables and figures of one experiment from whatever runs exist; returns the written paths."""
    runs = load_runs(Path(runs_dir), experiment)
    if runs.empty:
        print(f"{experiment}: no runs under {Path(runs_dir) / experiment}; nothing written "
              f"(start them with `python -m experiments.run -m +experiment={experiment}`)")
        return []
    kind = experiment_kind(experiment, runs)
    curves = load_curves(Path(runs_dir), experiment, runs)
    return write_table(experiment, kind, runs, Path(out_dir)) + plot_experiment(experiment, kind, runs, curves,
                                                                                 Path(out_dir))
