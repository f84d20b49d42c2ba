"""notebooks/inspect_results.ipynb runs top to bottom on small results written by experiments.report."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from conftest import scaled
from test_report import write_fake_run

from experiments import report

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "inspect_results.ipynb"


def test_committed_notebook_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert 'RESULTS = Path(os.environ.get("DLRS_RESULTS", "results"))' in code[0].source
    assert any(c.cell_type == "markdown" for c in nb.cells)


def test_notebook_runs_on_fixture_results(tmp_path: Path, monkeypatch):
    results = tmp_path / "results"
    runs = results / "runs"
    for seed, acc in ((50, 90.0), (51, 92.0)):
        write_fake_run(runs, "fig9", schedule="adacomp", seed=seed, metric_values=(50.0, 80.0, acc))
    write_fake_run(runs, "fig9", schedule="dlrs", seed=50, metric_values=(50.0, 85.0, 95.0))
    written = report.make_report("fig9", runs, results)
    assert written

    nb = nbformat.read(NOTEBOOK, as_version=4)
    # which interpreter the kernel runs: it must be this venv's, with the project importable
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print('PREFIX=' + sys.prefix)"))
    monkeypatch.setenv("DLRS_RESULTS", str(results))
    NotebookClient(nb, kernel_name="python3", timeout=int(scaled(60)), startup_timeout=int(scaled(120)),
                   resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("<table" in h and "final_test_acc_mean" in h for h in html)  # the fig9 table
    assert any("<table" in h and "adacomp" in h and "completed" in h for h in html)  # the run summaries
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 3  # fig9.png, fig9_lr.png, fig9_paired.png
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert f"PREFIX={sys.prefix}" in text
    assert str(results.resolve()) in text


def test_notebook_without_results_explains(tmp_path: Path, monkeypatch):
    """An empty results folder prints what to do instead of failing."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    monkeypatch.setenv("DLRS_RESULTS", str(tmp_path))
    NotebookClient(nb, kernel_name="python3", timeout=int(scaled(60)), startup_timeout=int(scaled(120)),
                   resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert "make_report.py all" in "".join(o.get("text", "") for o in outputs)
