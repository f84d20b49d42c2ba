"""The report layouts: how scripts/make_report.py lays out a study's table and figure. A preset picks
one by name (``report.layout`` in configs/experiment/<study>.yaml); each layout is one declaration
here, and a new study with a layout of its own adds one entry to ``LAYOUTS``.

The columns named here are the columns of the report's table of runs (``experiments.report.load_runs``:
task, model, frequency, batch_size, lr (the initial rate), shuffle, subset, ...). Whether the runs
measure an error or an accuracy is theirs to say (each run's ``higher_is_better``, else its metric's
name); a layout only says which of the two it is made for.

A leaf module (the standard library only): the config schema reads the names without importing the
report (pandas, matplotlib), and experiments.report reads the declarations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Optional

__all__ = ["Layout", "LAYOUTS"]


@dataclass(frozen=True)
class Layout:
    """One report layout.

    ``panels``: the columns whose values split the figure into columns of panels and lead the
    table's rows (several: one panel per combination). A report holds every task and every model
    only where ``panels`` names them; otherwise each task (and model) gets a report of its own.
    ``cells``: the columns within whose values each method is paired with the reference, seed by
    seed (the paired table; its pooled rows pool the first one that is not ``task``); (): none.
    ``contrast``: one of ``cells`` with two values (the first, sorted, is the baseline): each method
    is also paired with itself at the other value, seed by seed, in a table of its own (what changing
    it does to each method: tables/<study>_<contrast>.{csv,md}); None: no such table.
    ``higher_is_better``: the runs it lays out (False: errors, True: accuracies, None: either);
    runs of the other kind get a layout guessed for them.
    ``table``: "schedules" (a row per panel value and method, mean ± std over seeds of what the
    runs measure), "architectures" (the paper's Table 1: a row per model) or "rates" (the final
    metric per task, initial rate and method, and how far the rate may be off).
    ``figure``: "curves" (loss, rate and metric per epoch; for errors, the PINN's field) or
    "rates" (the final metric against the initial rate).
    ``rule_statistics``: the table adds what the loss-driven rules saw (stagnant epochs, slope
    noise, time at min_lr).
    ``guess``: offered for a folder no preset declares: the first such layout, in ``LAYOUTS``'
    order, that fits the runs and splits them into several panels, else the last that fits.
    """

    panels: tuple[str, ...]
    cells: tuple[str, ...] = ()
    contrast: Optional[str] = None
    higher_is_better: Optional[bool] = None
    table: Literal["schedules", "architectures", "rates"] = "schedules"
    figure: Literal["curves", "rates"] = "curves"
    rule_statistics: bool = False
    guess: bool = False


LAYOUTS: dict[str, Layout] = {
    # the PINN (an error) per frequency: Fig. 2
    "pinn": Layout(panels=("frequency",), cells=("frequency",), higher_is_better=False, guess=True),
    # per frequency and batch order, with what the rules saw: dlrs_ablation, dlrs_robust
    "ablation": Layout(panels=("frequency", "shuffle"), cells=("frequency", "shuffle"), contrast="shuffle",
                       higher_is_better=False, rule_statistics=True),
    # architectures (an accuracy): Table 1; before "batch", which a guess takes where models do not vary
    "arch": Layout(panels=("model",), higher_is_better=True, table="architectures", guess=True),
    # an accuracy per batch size: Figs. 5, 8, 9
    "batch": Layout(panels=("batch_size",), cells=("batch_size",), higher_is_better=True, guess=True),
    # the same, with what the loss-driven rules saw over a long run: images_long
    "batch_rules": Layout(panels=("batch_size",), cells=("batch_size",), higher_is_better=True, rule_statistics=True),
    # an accuracy per initial rate: images_high_lr
    "rate": Layout(panels=("lr",), cells=("lr",), higher_is_better=True),
    # any metric against the initial rate, a panel per task: lr_sensitivity
    "lr": Layout(panels=("task",), cells=("task", "lr"), table="rates", figure="rates"),
}
