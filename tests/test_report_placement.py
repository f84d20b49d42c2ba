"""Where reports go: one per task, beside ad-hoc runs, into results/ only for a preset's folder."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO, cli_env, run_cli, scaled
from experiments import report
from test_report import write_fake_run


def test_two_tasks_in_one_folder_give_two_reports_beside_the_runs(tmp_path: Path, capsys) -> None:
    runs, out = tmp_path / "runs", tmp_path / "out"
    for schedule in ("static", "dlrs"):
        write_fake_run(runs, "mix", schedule=schedule, seed=50, task="helmholtz", model="pinn_mlp", frequency=1000.0,
                       batch_size=1000, metric_values=(0.9, 0.5, 0.1))
        write_fake_run(runs, "mix", schedule=schedule, seed=50, task="mnist", model="mnist_cnn")
    written = report.make_report("mix", runs, out)
    assert "reported separately as mix-helmholtz, mix-mnist" in capsys.readouterr().out
    assert not out.exists(), "an ad-hoc folder's report went into the curated results"
    folder = runs / "mix" / "report"
    assert {p.relative_to(folder).as_posix() for p in written} >= {
        "tables/mix-helmholtz.csv", "tables/mix-mnist.csv", "figures/mix-helmholtz.png", "figures/mix-mnist.png"}
    pinn = pd.read_csv(folder / "tables" / "mix-helmholtz.csv")
    assert list(pinn.frequency) == [1000, 1000] and pinn.final_rel_error_mean.notna().all()
    images = pd.read_csv(folder / "tables" / "mix-mnist.csv")
    assert list(images.batch_size) == [64, 64] and images.final_test_acc_mean.notna().all()
    with warnings.catch_warnings():  # the report folder is not read back as a run (no "skipped" warning)
        warnings.simplefilter("error")
        assert len(report.load_runs(runs, "mix")) == 4


def test_curated_folder_with_a_stray_task_and_models(tmp_path: Path, capsys) -> None:
    runs, out = tmp_path / "runs", tmp_path / "out"
    write_fake_run(runs, "fig2", schedule="dlrs", seed=50, task="helmholtz", model="pinn_mlp", frequency=500.0,
                   batch_size=1000, metric_values=(0.9, 0.5, 0.1))
    write_fake_run(runs, "fig2", schedule="dlrs", seed=50, task="mnist", model="simple_dla")
    names = {p.name for p in report.make_report("fig2", runs, out)}
    assert {"fig2-helmholtz.csv", "fig2-mnist.csv"} <= names and (out / "tables" / "fig2-mnist.csv").exists()
    # one task, two models in a batch-size layout: one report per model
    for model in ("simple_dla", "mnist_cnn"):
        write_fake_run(runs, "fig5", schedule="dlrs", seed=50, model=model)
    names = {p.name for p in report.make_report("fig5", runs, out)}
    assert {"fig5-mnist-mnist_cnn.csv", "fig5-mnist-simple_dla.csv"} <= names
    # models are the columns of table1, and lr_sensitivity compares tasks on purpose: one report each
    for model in ("resnet18", "vgg19"):
        write_fake_run(runs, "table1", schedule="dlrs", seed=50, task="cifar10", model=model)
    assert {p.name for p in report.make_report("table1", runs, out)} >= {"table1.csv", "table1.png"}
    write_fake_run(runs, "lr_sensitivity", schedule="dlrs", seed=50, task="helmholtz", model="pinn_mlp",
                   frequency=1000.0, batch_size=1000, metric_values=(0.9, 0.5, 0.1))
    write_fake_run(runs, "lr_sensitivity", schedule="dlrs", seed=50, task="mnist", model="mnist_cnn")
    assert {p.name for p in report.make_report("lr_sensitivity", runs, out)} >= {"lr_sensitivity.csv"}
    assert set(pd.read_csv(out / "tables" / "lr_sensitivity.csv").task) == {"helmholtz", "mnist"}
    capsys.readouterr()


def test_make_report_all_keeps_ad_hoc_reports_beside_their_runs(tmp_path: Path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "results"
    write_fake_run(runs, "default", schedule="dlrs", seed=50, task="helmholtz", model="pinn_mlp", frequency=1000.0,
                   batch_size=1000, metric_values=(0.9, 0.5, 0.1))
    write_fake_run(runs, "fig9", schedule="dlrs", seed=50)
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "make_report.py"), "all", "--runs", str(runs),
                           "--out", str(out)], capture_output=True, text=True, env=cli_env(), timeout=scaled(300))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (out / "tables").iterdir()) == ["fig9.csv", "fig9.md", "fig9_runs.csv"]
    assert not list(out.glob("*/default*"))
    assert (runs / "default" / "report" / "tables" / "default.md").exists()
    assert str(runs / "default" / "report" / "figures" / "default.png") in proc.stdout


@pytest.mark.slow
def test_a_sweep_over_two_tasks_into_one_folder(tmp_path: Path) -> None:
    """The acceptance case through the command line: one -m sweep, a PINN and an MNIST run in one
    folder, then make_report.py: two reports, each of one task, beside the runs."""
    from experiments.fixtures import write_mnist

    write_mnist(tmp_path / "data", n_train=16, n_test=8)
    proc = run_cli(["-m", "experiment_name=mix", "task=helmholtz,mnist", "+scale=smoke", "trainer.epochs=1",
                    "task.subset=16", "task.test_subset=8", "task.batch_size=8", f"paths.data={tmp_path / 'data'}",
                    "paths.results=results", "trainer.device=cpu"], cwd=tmp_path, tiny=False,
                   timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    runs = tmp_path / "results" / "runs"
    rep = subprocess.run([sys.executable, str(REPO / "scripts" / "make_report.py"), "mix", "--runs", str(runs),
                          "--out", str(tmp_path / "results")], capture_output=True, text=True, env=cli_env(),
                         cwd=tmp_path, timeout=scaled(300))
    assert rep.returncode == 0, rep.stderr
    assert "reported separately as mix-helmholtz, mix-mnist" in rep.stdout
    tables = runs / "mix" / "report" / "tables"
    assert pd.read_csv(tables / "mix-helmholtz.csv").frequency.tolist() == [1000]
    assert pd.read_csv(tables / "mix-mnist.csv").batch_size.tolist() == [8]
    assert not (tmp_path / "results" / "tables").exists() and not (tmp_path / "results" / "figures").exists()


def test_the_layout_is_the_presets_not_the_names_first_word(tmp_path: Path, capsys):
    """Folders named like a preset family (dlrs_*, lr_*, images_*) but made by hand are ad hoc: their
    report goes beside the runs, never into the curated out/; a preset's layout is inherited from
    its parent preset unless it declares its own."""
    runs, out = tmp_path / "runs", tmp_path / "out"
    for name in ("dlrs_mine", "lr_mine", "images_mine"):
        write_fake_run(runs, name, schedule="dlrs", seed=50)
        report.make_report(name, runs, out)
        assert (runs / name / "report" / "tables" / f"{name}.md").is_file()
    assert not out.exists()
    assert report.declared_layout("fig2_quick") == "pinn"  # fig2's
    assert report.declared_layout("images_high_lr") == "rate"  # its own, over images_cpu's batch layout
    capsys.readouterr()
