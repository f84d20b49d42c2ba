"""The paper's figures and tables, redrawn from run directories (``results/runs/<experiment>/<run>/``).

``make_report`` aggregates over seeds (mean ± std) and writes ``figures/<experiment>[_lr].{png,pdf}``
and ``tables/<experiment>.{csv,md}``. The layout of both (``pinn``, ``batch``, ``lr``, ...: the
declarations of experiments/report_layouts.py) is the ``report.layout`` that the preset of the same
name declares (configs/experiment/<experiment>.yaml), where the runs fit it; only such a curated
experiment writes under ``out_dir`` (``results/``). Any other folder (``default``, ``demo``, your
own ``experiment_name``) gets its report beside the runs, in ``<runs_dir>/<experiment>/report/``,
with a layout guessed from its runs, so ad-hoc runs never overwrite the curated figures and tables.

One report holds one task and one model, unless its layout's panels are the tasks or the models
(``lr``: a panel per task; ``arch``: a row per model): a folder that holds runs of several is
reported once per task (``<experiment>-<task>``, or ``<experiment>-<task>-<model>``), with a line
saying so.

The parts: ``runs`` (reading run directories), ``tables``, ``figures`` and ``names`` (labels and
colours). No torch import here: reports must be cheap to redraw while runs are still going.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Optional

import pandas as pd
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from ..report_layouts import LAYOUTS, Layout
from ..schema import CONFIG_DIR

from .figures import plot_comparison, plot_experiment, plot_paired
from .names import ARCH_NAMES, EXPERIMENTS, PAPER_TABLE1, SCHEDULES
from .paired import REFERENCE, comparisons, labelled, paired_table
from .runs import FINISHED, REPORT_DIR, higher_is_better, load_curves, load_runs, read_metrics
from .tables import aggregate, build_table, mean_std_text, status_text, to_markdown, write_table

__all__ = ["make_report", "with_earlier_runs", "comparisons", "paired_table", "labelled", "experiment_layout", "is_curated", "report_dir", "split_runs", "load_runs", "load_curves",
           "read_metrics", "aggregate", "build_table", "write_table", "plot_experiment", "plot_comparison",
           "mean_std_text", "status_text", "to_markdown", "declared_layout", "declared_references", "EXPERIMENTS", "PAPER_TABLE1",
           "ARCH_NAMES", "SCHEDULES", "FINISHED", "REPORT_DIR", "LAYOUTS", "Layout"]


@functools.lru_cache(maxsize=None)
def declared_report(experiment: str) -> Optional[DictConfig]:
    """``report:`` of the preset named ``experiment`` (composed as Hydra composes a run of it, so a
    preset inherits its parent's), or None where no preset has that name."""
    if not (CONFIG_DIR / "experiment" / f"{experiment}.yaml").is_file():
        return None
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=[f"+experiment={experiment}"]).report


def declared_layout(experiment: str) -> Optional[str]:
    """``report.layout`` of the preset named ``experiment``, or None where no preset has that name."""
    report = declared_report(experiment)
    return None if report is None else report.layout


def declared_references(experiment: str) -> tuple[str, ...]:
    """The methods the paired tables compare the others against: the preset's ``report.references``."""
    report = declared_report(experiment)
    return (REFERENCE,) if report is None else tuple(report.references)


def is_curated(experiment: str) -> bool:
    """A preset's experiment (fig2, fig2_quick, table1_baselines, ...): its report goes to results/."""
    return declared_layout(experiment) is not None


def report_dir(experiment: str, runs_dir: Path, out_dir: Path) -> Path:
    """Where an experiment's figures/ and tables/ go: ``out_dir`` for a curated experiment, else
    ``<runs_dir>/<experiment>/report`` (beside the runs, never into the curated results/)."""
    return Path(out_dir) if is_curated(experiment) else Path(runs_dir) / experiment / REPORT_DIR


def fits(layout: Layout, runs: pd.DataFrame) -> bool:
    """Whether every run measures what ``layout`` is made for (an error, an accuracy, or either)."""
    return layout.higher_is_better is None or all(
        higher_is_better(run) == layout.higher_is_better for _, run in runs.iterrows())


def _splits(layout: Layout, runs: pd.DataFrame) -> bool:
    return len(runs.reindex(columns=list(layout.panels)).dropna().drop_duplicates()) > 1


def guessed_layout(runs: pd.DataFrame) -> str:
    """For runs no preset declares a layout for: the first layout offered for a guess that fits the
    runs and splits them into several panels, else the last one that fits (none fits runs of errors
    and accuracies together: the first offered)."""
    offered = [name for name, layout in LAYOUTS.items() if layout.guess]
    fitting = [name for name in offered if fits(LAYOUTS[name], runs)] or offered[:1]
    return next((name for name in fitting if _splits(LAYOUTS[name], runs)), fitting[-1])


def experiment_layout(experiment: str, runs: Optional[pd.DataFrame] = None) -> str:
    """The name of the layout ``runs`` of ``experiment`` are drawn in: the preset's declared layout
    where the runs fit it (dlrs_robust's image runs do not fit its PINN layout), else one guessed
    from the runs."""
    declared = declared_layout(experiment)
    runs = pd.DataFrame() if runs is None else runs
    if declared is not None and fits(LAYOUTS[declared], runs):
        return declared
    return guessed_layout(runs)


def _label(value: object) -> str:
    return "unknown" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def split_runs(experiment: str, runs: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """(report name, runs) per task, and per model where the layout does not compare models.

    One group keeps the experiment's name; several get ``<experiment>-<task>[-<model>]``.
    """
    declared = declared_layout(experiment)
    if runs.empty or declared is not None and "task" in LAYOUTS[declared].panels:  # a panel per task
        return [(experiment, runs)]
    groups: list[tuple[tuple[str, ...], pd.DataFrame]] = []
    for task, by_task in runs.groupby(runs["task"].map(_label), sort=True):
        if "model" in LAYOUTS[experiment_layout(experiment, by_task)].panels:  # a panel (row) per model
            groups.append(((task,), by_task))
            continue
        for model, by_model in by_task.groupby(by_task["model"].map(_label), sort=True):
            groups.append(((task, model), by_model))
    if len(groups) == 1:
        return [(experiment, groups[0][1])]
    with_model = len({key[0] for key, _ in groups}) < len(groups)  # a task with several models
    return [("-".join([experiment, key[0], *(key[1:] if with_model else ())]), group) for key, group in groups]


def with_earlier_runs(runs: pd.DataFrame, earlier: pd.DataFrame) -> pd.DataFrame:
    """``runs`` plus the rows of an earlier ``<experiment>_runs.csv`` whose run directories are not
    here (a run directory with the same run_name wins): seeds finished elsewhere still count."""
    missing = earlier[~earlier["run_name"].isin(set(runs["run_name"]))] if len(runs) else earlier
    return pd.concat([runs, missing], ignore_index=True) if len(missing) else runs


def make_report(experiment: str, runs_dir: Path, out_dir: Path, earlier: Optional[pd.DataFrame] = None) -> list[Path]:
    """Tables and figures of one experiment from whatever runs exist; returns the written paths.

    ``out_dir`` is used for curated experiments only (see ``report_dir``). ``earlier``: rows of a
    committed ``<experiment>_runs.csv`` to count beside the run directories (``with_earlier_runs``);
    the tables and the paired figure then use them, the curve figures need every run's directory
    and are left as they are."""
    runs = load_runs(Path(runs_dir), experiment)
    if earlier is not None:
        runs = with_earlier_runs(runs, earlier)
    if runs.empty:
        print(f"{experiment}: no runs under {Path(runs_dir) / experiment}; nothing written "
              f"(start them with `python -m experiments.run -m +experiment={experiment}`)")
        return []
    target = report_dir(experiment, runs_dir, out_dir)
    parts = split_runs(experiment, runs)
    if len(parts) > 1:
        print(f"{experiment}: its folder holds runs of {len(parts)} different tasks or models; "
              f"reported separately as {', '.join(name for name, _ in parts)}")
    written: list[Path] = []
    for name, group in parts:
        layout = experiment_layout(experiment, group)
        paired = comparisons(layout, group, declared_references(experiment))  # once: table and figure
        written += write_table(name, layout, group, target, paired)
        if len(paired):
            written += plot_paired(name, paired, target)
        curves_drawn = LAYOUTS[layout].figure == "curves"  # the other figure needs only each run's final value
        if curves_drawn and group["run_dir"].isna().any():
            print(f"{name}: {int(group['run_dir'].isna().sum())} run(s) come from the earlier table only; "
                  "the curve figures, which need every run's metrics.csv, were not redrawn")
            continue
        shown = labelled(group)
        curves = load_curves(Path(runs_dir), experiment, shown) if curves_drawn else pd.DataFrame()
        written += plot_experiment(name, layout, shown, curves, target)
    return written
