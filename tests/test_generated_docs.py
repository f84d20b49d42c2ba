"""The README's and docs/' generated blocks are what the committed tables give, and go stale when a
table changes (experiments/report/generated_docs.py; `make docs` rewrites them)."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path
from typing import Optional

import pandas as pd
import pytest

from conftest import REPO
from experiments.report.generated_docs import DOCUMENTS, FINDINGS, findings_table, render, sync_documents

TABLES = REPO / "results" / "tables"


@pytest.mark.parametrize("document", DOCUMENTS)
def test_committed_blocks_are_what_the_committed_tables_give(document: str) -> None:
    text = (REPO / document).read_text()
    assert render(text, TABLES) == text, f"{document} is stale: run `make docs` and commit"


def test_readme_and_findings_hold_generated_blocks() -> None:
    assert "<!-- begin generated: findings -->" in (REPO / "README.md").read_text()
    assert (REPO / "docs" / "findings.md").read_text().count("<!-- begin generated: ") >= 5


def test_a_changed_table_makes_the_readme_stale(tmp_path: Path) -> None:
    """Change the estimate behind the README's first finding: the block no longer matches, and a
    sync writes the new number."""
    repo = tmp_path / "repo"
    shutil.copytree(TABLES, repo / "results" / "tables")
    (repo / "README.md").write_text((REPO / "README.md").read_text())
    finding = FINDINGS[0]
    path = repo / "results" / "tables" / finding.table
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    picked = (frame[list(finding.row)] == pd.Series(finding.row)).all(axis=1)
    assert picked.sum() == 1
    frame.loc[picked, "estimate"] = "0.123456"
    frame.to_csv(path, index=False)
    assert sync_documents(repo, check=True) == ["README.md"]
    assert sync_documents(repo) == ["README.md"]
    assert "0.123x" in (repo / "README.md").read_text() and sync_documents(repo, check=True) == []


def test_an_included_table_follows_its_file(tmp_path: Path) -> None:
    (tmp_path / "t.md").write_text("| a |\n|---|\n| 1 |\n")
    doc = "intro\n<!-- begin generated: t.md -->\nold\n<!-- end generated -->\nafter\n"
    assert render(doc, tmp_path) == "intro\n<!-- begin generated: t.md -->\n| a |\n|---|\n| 1 |\n<!-- end generated -->\nafter\n"


def test_a_finding_must_pick_exactly_one_row(tmp_path: Path) -> None:
    shutil.copytree(TABLES, tmp_path, dirs_exist_ok=True)
    finding = FINDINGS[1]
    frame = pd.read_csv(tmp_path / finding.table, dtype=str, keep_default_na=False)
    pd.concat([frame, frame]).to_csv(tmp_path / finding.table, index=False)  # every row twice
    with pytest.raises(ValueError, match="2 rows match"):
        findings_table(tmp_path)


def test_an_unknown_block_name_is_an_error() -> None:
    with pytest.raises(ValueError, match="no table"):
        render("<!-- begin generated: nowhere.md -->\n<!-- end generated -->\n", TABLES)


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#+ (.*)$", path.read_text(), re.M)}


def test_every_relative_link_of_the_docs_resolves() -> None:
    """Moving text between README.md and docs/ keeps every link working, anchors included."""
    broken = []
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), REPO / "results" / "README.md"]:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            path, _, anchor = target.partition("#")
            linked = (doc.parent / path) if path else doc
            if not linked.exists() or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
                broken.append(f"{doc.relative_to(REPO)}: {target}")
    assert not broken, broken


# a paired result as the prose prints it: '0.0346x [0.0150, 0.0795]' or '+0.22 [-0.05, +0.49]' (points)
RATIO_IN_PROSE = re.compile(r"(\d[\d.e+-]*)x \[([\d.e+-]+), ([\d.e+-]+)\]")
POINTS_IN_PROSE = re.compile(r"([+−-]\d+\.\d+) \[([+−-]\d+\.\d+), ([+−-]\d+\.\d+)\]")


def _printed(value: str) -> tuple[float, int]:
    """A number as printed and its number of significant digits ('0.0150': 0.015, 3)."""
    digits = value.replace("−", "-").lstrip("+-").split("e")[0].replace(".", "").lstrip("0")
    return float(value.replace("−", "-")), max(len(digits), 1)


def _rounds_to(exact: float, printed: str, decimals: Optional[int] = None) -> bool:
    value, significant = _printed(printed)
    if decimals is not None:
        return round(exact, decimals) == pytest.approx(value, abs=1e-12)
    return math.isfinite(exact) and float(f"{exact:.{significant}g}") == pytest.approx(value, rel=1e-9)


def _paired_rows() -> pd.DataFrame:
    frames = [pd.read_csv(path) for path in sorted(TABLES.glob("*.csv"))]
    columns = ["statistic", "estimate", "ci_low", "ci_high"]
    return pd.concat([frame[columns] for frame in frames if set(columns) <= set(frame.columns)], ignore_index=True)


def prose_intervals_without_a_row(text: str, rows: pd.DataFrame) -> list[str]:
    """The paired results printed in ``text`` outside its generated blocks that no committed paired
    or contrast table holds (each number compared at the precision printed)."""
    text = re.sub(r"<!-- begin generated:.*?<!-- end generated -->", "", text, flags=re.S)
    ratios, points = rows[rows["statistic"] == "ratio"], rows[rows["statistic"] != "ratio"]
    missing = []
    for found in RATIO_IN_PROSE.finditer(text):
        if not any(all(_rounds_to(row[c], p) for c, p in zip(("estimate", "ci_low", "ci_high"), found.groups()))
                   for _, row in ratios.iterrows()):
            missing.append(found.group(0))
    for found in POINTS_IN_PROSE.finditer(text):
        decimals = len(found.group(1).split(".")[1])
        if not any(all(_rounds_to(row[c], p, decimals) for c, p in zip(("estimate", "ci_low", "ci_high"), found.groups()))
                   for _, row in points.iterrows()):
            missing.append(found.group(0))
    return missing


@pytest.mark.parametrize("document", ["README.md", *sorted(str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md")),
                                      "results/README.md"])
def test_every_paired_result_in_prose_is_a_committed_row(document: str) -> None:
    """A paired interval typed into prose ('28.3x [14.9, 53.6]') is a row of a committed table: a
    rerun that changes the table, or a number mistyped, leaves prose that fails here."""
    assert prose_intervals_without_a_row((REPO / document).read_text(), _paired_rows()) == []


def test_a_mistyped_interval_in_prose_is_caught() -> None:
    rows = _paired_rows()
    row = rows[rows["statistic"] == "ratio"].iloc[0]
    typed = f"ends at {row['estimate']:.3g}x [{row['ci_low']:.3g}, {row['ci_high']:.3g}] of"
    assert prose_intervals_without_a_row(typed, rows) == []
    wrong = typed.replace(f"{row['estimate']:.3g}x", f"{row['estimate'] * 1.1:.3g}x")
    assert prose_intervals_without_a_row(wrong, rows) == [wrong[len("ends at "):-len(" of")]]
