"""Blocks of the README and docs/ that the committed tables write, so that no quoted number is typed.

A document marks a generated block with two HTML comments, which Markdown does not show::

    <!-- begin generated: findings -->          the README's "what we found" table (FINDINGS below)
    ...
    <!-- end generated -->

    <!-- begin generated: baselines_pinn_paired.md -->   a table the report wrote, as it is
    ...
    <!-- end generated -->

``sync_documents`` rewrites every block from ``results/tables/`` (``make docs``, and ``make report``
after it redraws the tables); ``tests/test_generated_docs.py`` fails when a committed block differs
from what the committed tables give.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["Finding", "FINDINGS", "findings_table", "render", "sync_documents", "DOCUMENTS"]

BLOCK = re.compile(r"(<!-- begin generated: (?P<name>\S+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)
DOCUMENTS = ("README.md", "docs/findings.md", "docs/harness.md", "docs/library.md")


@dataclass(frozen=True)
class Finding:
    """One row of the README's findings table: one comparison of a committed ``*_paired.csv``."""

    question: str
    comparison: str            # what is divided by (ratio) or subtracted from (difference) what
    table: str                 # a paired table under results/tables/
    row: dict[str, str]        # column -> value that picks exactly one row of it ('' = empty cell)
    section: str               # anchor of docs/findings.md that answers the question at length


FINDINGS: tuple[Finding, ...] = (
    Finding("Does DLRS reproduce Fig. 2 (PINN, 250-2000 Hz, 10 000 epochs)?", "DLRS / constant rate, pooled over the 5 frequencies, 1 seed",
            "fig2_paired.csv", {"pooled_over": "frequency", "reference": "dlrs", "method": "static"}, "fig-2-the-pinn-at-full-length"),
    Finding("Does DLRS beat a constant rate on the PINN?", "DLRS / constant rate, 1000 and 2000 Hz, 3 000 epochs",
            "baselines_pinn_paired.csv", {"pooled_over": "frequency", "reference": "dlrs", "method": "static"}, "does-dlrs-beat-the-usual-schedules"),
    Finding("Does it beat a plain decay?", "DLRS / cosine to the same floor",
            "baselines_pinn_paired.csv", {"pooled_over": "frequency", "reference": "dlrs", "method": "cosine"}, "does-dlrs-beat-the-usual-schedules"),
    Finding("Does it beat the \"no schedule to tune\" optimizers?", "DLRS / Schedule-Free AdamW at the same rate",
            "baselines_pinn_paired.csv", {"pooled_over": "frequency", "reference": "dlrs", "method": "schedule_free_adamw"}, "does-dlrs-beat-the-usual-schedules"),
    Finding("From a grid of initial rates (PINN), does DLRS beat a constant rate?", "DLRS / constant rate, pooled over initial rates 1e-4 to 5e-2",
            "lr_sensitivity_paired.csv", {"task": "helmholtz", "pooled_over": "lr", "reference": "dlrs", "method": "static"}, "does-dlrs-remove-the-need-to-tune-the-initial-rate"),
    Finding("Is the task's rate cap what lets DLRS start too high?", "DLRS capped / DLRS uncapped, pooled over the same rates",
            "lr_sensitivity_paired.csv", {"task": "helmholtz", "pooled_over": "lr", "reference": "dlrs", "method": "dlrs_uncapped"}, "does-dlrs-remove-the-need-to-tune-the-initial-rate"),
    Finding("Reshuffled batches: is the paper's asymmetric step what fails?", "DLRS / DLRS with δo = δi = 0.1, PINN reshuffled, 1000 and 2000 Hz",
            "dlrs_ablation_paired.csv", {"shuffle": "True", "pooled_over": "frequency", "reference": "dlrs", "method": "dlrs_symmetric"}, "batch-order-and-reshuffled-loops"),
    Finding("Reshuffled batches: does the epoch-mean slope with symmetric deltas help?", "that variant / the paper's DLRS, PINN reshuffled, 1000 and 2000 Hz",
            "dlrs_robust-helmholtz_paired.csv", {"shuffle": "True", "pooled_over": "frequency", "reference": "dlrs_epoch_mean_symmetric", "method": "dlrs"}, "batch-order-and-reshuffled-loops"),
    Finding("...and does it catch up with cosine there?", "that variant / cosine, PINN reshuffled",
            "dlrs_robust-helmholtz_paired.csv", {"shuffle": "True", "pooled_over": "frequency", "reference": "dlrs_epoch_mean_symmetric", "method": "cosine"}, "batch-order-and-reshuffled-loops"),
    Finding("Real images (Fashion-MNIST, 8 epochs): does DLRS beat a constant rate?", "DLRS − constant rate, test accuracy (points), batch 64 and 512",
            "images_cpu_paired.csv", {"pooled_over": "batch_size", "reference": "dlrs", "method": "static"}, "real-images-on-a-laptop-fashion-mnist"),
    Finding("Real images, from a grid of initial rates: does DLRS beat a constant rate?", "DLRS − constant rate (points), pooled over initial rates 1e-4 to 1e-2",
            "lr_sensitivity_paired.csv", {"task": "fashion_mnist", "pooled_over": "lr", "reference": "dlrs", "method": "static"}, "does-dlrs-remove-the-need-to-tune-the-initial-rate"),
    Finding("Real images for 100 epochs (100 decisions): does DLRS beat a constant rate?", "DLRS − constant rate (points), batch 64, crop and flip",
            "images_long_paired.csv", {"batch_size": "64", "reference": "dlrs", "method": "static"}, "real-images-for-100-epochs"),
    Finding("...and the reshuffled-loop variant (epoch-mean slope, δo = δi)?", "that variant − the paper's DLRS (points), the same runs",
            "images_long_paired.csv", {"batch_size": "64", "reference": "dlrs_epoch_mean_symmetric", "method": "dlrs"}, "real-images-for-100-epochs"),
)


def _number(x: float) -> str:
    return f"{x:.3g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def _estimate_text(row: pd.Series) -> str:
    estimate, low, high = (float(row[c]) for c in ("estimate", "ci_low", "ci_high"))
    if row["statistic"] == "ratio":
        interval = "" if math.isnan(low) else f" [{_number(low)}, {_number(high)}]"
        return f"{_number(estimate)}x{interval}"
    interval = "" if math.isnan(low) else f" [{low:+.2f}, {high:+.2f}]"
    return f"{estimate:+.2f}{interval}"


def _pick(tables: Path, finding: Finding) -> pd.Series:
    frame = pd.read_csv(tables / finding.table, dtype=str, keep_default_na=False)
    match = frame
    for column, value in finding.row.items():
        match = match[match[column] == value]
    if len(match) != 1:
        raise ValueError(f"{finding.table}: {len(match)} rows match {finding.row} (the finding needs exactly one)")
    return match.iloc[0]


def findings_table(tables: Path) -> str:
    """The README's findings table, each number read from its committed paired table."""
    lines = ["| Question | Comparison (paired by seed) | Estimate [95 % CI] | Pairs the first won | p, Holm | Verdict (Holm) |",
             "|---|---|---|---|---|---|"]
    for finding in FINDINGS:
        row = _pick(tables, finding)
        p_holm = f"{float(row['p_holm']):.2g}" if row["p_holm"] else "—"
        verdict = f"**{row['verdict']}**" if row["verdict"] in ("better", "worse") else row["verdict"]
        lines.append(f"| [{finding.question}](docs/findings.md#{finding.section}) | {finding.comparison} | {_estimate_text(row)} | "
                     f"{row['reference_wins']}/{row['n_pairs']} | {p_holm} | {verdict} |")
    lines.append("")
    lines.append("Generated from `results/tables/*_paired.csv` (`make docs`); each row's source: "
                 + ", ".join(sorted({f"`{f.table}`" for f in FINDINGS})) + ".")
    return "\n".join(lines) + "\n"


def _block(name: str, tables: Path) -> str:
    if name == "findings":
        return findings_table(tables)
    path = tables / name
    if path.suffix != ".md" or not path.is_file():
        raise ValueError(f"generated block {name!r}: no table {path} (a block names 'findings' or a results/tables/*.md file)")
    return path.read_text().rstrip("\n") + "\n"


def render(text: str, tables: Path) -> str:
    """``text`` with every generated block rewritten from the tables under ``tables``."""
    return BLOCK.sub(lambda m: m.group(1) + _block(m.group("name"), tables) + m.group(4), text)


def sync_documents(repo: Path, *, check: bool = False) -> list[str]:
    """Rewrite the generated blocks of DOCUMENTS under ``repo`` (or, with ``check``, only list the
    documents whose blocks are stale). Returns the documents that changed or would change."""
    stale = []
    for name in DOCUMENTS:
        path = repo / name
        if not path.is_file():
            continue
        text = path.read_text()
        new = render(text, repo / "results" / "tables")
        if new != text:
            stale.append(name)
            if not check:
                path.write_text(new)
    return stale
