"""Redraw the paper's figures and tables from the run directories that exist so far.

    python scripts/make_report.py {fig2,fig5,fig8,table1,fig9,all} [--runs results/runs] [--out results]

Run it from anywhere (it puts the repository root on sys.path itself). Any other experiment name
with a folder under --runs (e.g. fig2_quick, default, demo) works too; `all` reports the five paper
experiments plus every other experiment folder found. The curated experiments (a preset of that name declares its
report.layout: fig2, fig2_quick, fig5, ..., baselines_pinn, lr_sensitivity) go to <out>/figures/ and <out>/tables/; any
other folder (ad-hoc runs such as `default`) gets its report beside its runs, in
<runs>/<experiment>/report/, never in the curated <out>/. A folder with runs of several tasks or
models is reported once per task (<experiment>-<task>). Prints the paths written. Safe to rerun at
any time, also while runs are still going.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

import pandas as pd  # noqa: E402

from experiments.errors import UserError  # noqa: E402
from experiments.report import EXPERIMENTS, declared_layout, make_report  # noqa: E402
from experiments.report.generated_docs import sync_documents  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def experiments_to_report(name: str, runs_dir: Path) -> list[str]:
    """The experiment names behind a command-line choice (validated)."""
    present = sorted(p.name for p in runs_dir.iterdir() if p.is_dir()) if runs_dir.is_dir() else []
    if name == "all":
        return list(EXPERIMENTS) + [p for p in present if p not in EXPERIMENTS]
    if declared_layout(name) is None and name not in present:
        raise UserError(f"unknown experiment {name!r}; choose one of {', '.join(EXPERIMENTS)}, all"
                        + (f", or a folder under {runs_dir}: {', '.join(present)}" if present else ""))
    return [name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", help=f"{', '.join(EXPERIMENTS)}, all, or another experiment folder name")
    parser.add_argument("--runs", type=Path, default=Path("results/runs"), help="folder of run directories")
    parser.add_argument("--with-runs", type=Path, default=None, metavar="CSV",
                        help="an earlier <experiment>_runs.csv: its runs count beside the run directories "
                             "(a directory with the same run_name wins); for seeds run elsewhere")
    parser.add_argument("--out", type=Path, default=Path("results"),
                        help="where the curated experiments' figures/ and tables/ go (others: beside their runs)")
    args = parser.parse_args(argv)
    try:
        if not args.runs.is_dir():
            raise UserError(f"runs folder {args.runs} does not exist; pass --runs <folder of experiments>")
        earlier = None
        if args.with_runs is not None:
            if not args.with_runs.is_file():
                raise UserError(f"--with-runs {args.with_runs}: no such file; give a tables/<experiment>_runs.csv")
            earlier = pd.read_csv(args.with_runs)
        written = []
        for name in experiments_to_report(args.experiment, args.runs):
            written += make_report(name, args.runs, args.out, earlier)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    if args.out.resolve() == REPO / "results":  # the committed tables changed: so do the blocks quoting them
        for document in sync_documents(REPO):
            print(f"{REPO / document} (generated blocks)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
