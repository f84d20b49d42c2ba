"""experiments.report and scripts/make_report.py on hand-made run directories (and one real PINN run)."""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any, Optional, Sequence

import matplotlib.figure
import numpy as np
import pandas as pd
import pytest
import yaml

from experiments import report

REPO = Path(__file__).resolve().parents[1]
NAN = float("nan")


def write_fake_run(runs: Path, experiment: str, *, schedule: str, seed: int, task: str = "mnist",
                   model: str = "simple_dla", batch_size: int = 64, frequency: Optional[float] = None,
                   status: Optional[str] = "completed", losses: Sequence[float] = (1.0, 0.5, 0.25),
                   metric_values: Sequence[float] = (50.0, 70.0, 90.0), summary_text: Optional[str] = None,
                   epochs: Optional[int] = None, metrics: bool = True, lr: float = 0.01,
                   subset: Optional[int] = None) -> Path:
    """A run directory in the trainer's format; status=None leaves out summary.json."""
    helm = task == "helmholtz"
    metric = "rel_error" if helm else "test_acc"
    run_name = f"{task}_{model}_{schedule}_bs{batch_size}_f{frequency}_lr{lr}_s{seed}"
    run_dir = runs / experiment / run_name
    run_dir.mkdir(parents=True)
    rows, wall = [], 0.0
    for i, (loss, value) in enumerate(zip(losses, metric_values)):
        wall += 2.0
        rows.append({"epoch": i + 1, "lr": lr * (1 + i if schedule == "dlrs" else 1), "train_loss": loss,
                     "test_loss": loss * 1.1, metric: value, "dlrs_slope": -0.5 if schedule == "dlrs" else "",
                     "dlrs_regime": "convergent" if schedule == "dlrs" else "", "epoch_time_s": 2.0,
                     "wall_time_s": wall})
    if metrics:
        pd.DataFrame(rows).to_csv(run_dir / "metrics.csv", index=False)
    config = {"experiment_name": experiment, "run_name": run_name,
              "task": {"name": task, "batch_size": batch_size, "subset": subset,
                       **({"frequency": frequency} if helm else {})},
              "model": {"name": model}, "schedule": {"name": schedule}, "optimizer": {"name": "adam", "lr": lr},
              "trainer": {"seed": seed, "epochs": epochs or len(rows)}}
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    if summary_text is not None:
        (run_dir / "summary.json").write_text(summary_text)
    elif status is not None:
        last = rows[-1]
        finished = status in ("completed", "diverged")
        best = (max if not helm else min)(rows, key=lambda r: r[metric] if math.isfinite(r[metric]) else -1e9)
        summary = {"status": status, "experiment": experiment, "run_name": run_name, "task": task, "model": model,
                   "schedule": schedule, "optimizer": "adam", "lr": lr, "batch_size": batch_size,
                   "frequency": frequency, "seed": seed, "epochs": epochs or len(rows),
                   "epochs_completed": len(rows) if finished else 0, "metric": metric, "higher_is_better": not helm,
                   "final": {k: last[k] for k in ("train_loss", "test_loss", metric)} if finished else {},
                   "best": {metric: best[metric], "epoch": best["epoch"]} if finished else {},
                   "total_time_s": wall if finished else 0.0, "message": None,
                   "diverged_at_epoch": len(rows) if status == "diverged" else None}
        (run_dir / "summary.json").write_text(json.dumps(summary))
    if helm:
        x = [i / 10 for i in range(11)]
        exact = [1 - 2 * v for v in x]
        pred = [NAN] * 11 if status == "diverged" else [e + 0.01 for e in exact]
        pd.DataFrame({"x": x, "exact": exact, "predicted": pred}).to_csv(run_dir / "field.csv", index=False)
    return run_dir


def make_fig5_runs(runs: Path) -> None:
    """Three seeds, a diverged seed, an all-diverged cell, a missing summary, a running run, corrupt JSON."""
    for seed, acc in zip((50, 51, 52), (90.0, 92.0, 94.0)):
        write_fake_run(runs, "fig5", schedule="static", seed=seed, metric_values=(80.0, acc + 1, acc))
    for seed, acc in zip((50, 51), (95.0, 96.0)):
        write_fake_run(runs, "fig5", schedule="dlrs", seed=seed, metric_values=(80.0, 85.0, acc))
    write_fake_run(runs, "fig5", schedule="dlrs", seed=52, status="diverged", losses=(1.0, 50.0, NAN),
                   metric_values=(60.0, 10.0, 10.0))
    write_fake_run(runs, "fig5", schedule="static", seed=50, batch_size=128, metric_values=(70.0, 80.0, 80.0))
    for seed in (50, 51):
        write_fake_run(runs, "fig5", schedule="dlrs", seed=seed, batch_size=128, status="diverged",
                       losses=(1.0, NAN), metric_values=(30.0, 10.0))
    write_fake_run(runs, "fig5", schedule="static", seed=50, batch_size=256, status=None,
                   metric_values=(60.0, 75.0, 70.0), losses=(1.0, 0.4, 0.3))
    write_fake_run(runs, "fig5", schedule="dlrs", seed=50, batch_size=256, summary_text="{not json")
    (runs / "fig5" / "empty_dir").mkdir()
    write_fake_run(runs, "fig5", schedule="dlrs", seed=50, batch_size=512, status="running", epochs=10,
                   losses=(1.0, 0.8), metric_values=(40.0, 55.0))


@pytest.fixture(scope="module")
def fig5(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("fig5")
    make_fig5_runs(root / "runs")
    return root / "runs", root / "out"


class FigureLog(dict):
    """file name -> the matplotlib Figure saved under it (filled by ``capture_figures``)."""


def capture_figures(monkeypatch: pytest.MonkeyPatch) -> FigureLog:
    """Record every Figure saved from now on, whatever function draws it, by its file name."""
    figures, real = FigureLog(), matplotlib.figure.Figure.savefig

    def savefig(self, fname, *args, **kwargs):
        figures[Path(fname).name] = self
        return real(self, fname, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", savefig)
    return figures


def series(ax: Any) -> dict[str, tuple[list[float], list[float]]]:
    """The labelled lines of an axes: label -> (x, y)."""
    return {line.get_label(): (np.asarray(line.get_xdata(), float).tolist(),
                               np.asarray(line.get_ydata(), float).tolist())
            for line in ax.get_lines() if not line.get_label().startswith("_")}


def unlabelled(ax: Any) -> list[tuple[str, list[float]]]:
    """(line style, y) of the lines without a legend entry (e.g. diverged seeds drawn one by one)."""
    return [(line.get_linestyle(), np.asarray(line.get_ydata(), float).tolist())
            for line in ax.get_lines() if line.get_label().startswith("_")]


def legend(ax: Any) -> list[str]:
    found = ax.get_legend()
    return [t.get_text() for t in found.get_texts()] if found is not None else []


def figure_legend(fig: Any) -> list[str]:
    """The labels of the figure's one legend (the panels share their schedules)."""
    assert len(fig.legends) == 1, f"{len(fig.legends)} figure legends"
    return [t.get_text() for t in fig.legends[0].get_texts()]


def row(fig: Any, columns: int, ylabel: str) -> list[Any]:
    """The row of a figure's panel grid (``columns`` wide) whose first panel has this y label."""
    axes = fig.axes[: len(fig.axes) // columns * columns]
    rows = [axes[i:i + columns] for i in range(0, len(axes), columns)]
    found = [r for r in rows if r[0].get_ylabel() == ylabel]
    assert len(found) == 1, f"rows by y label: {[r[0].get_ylabel() for r in rows]}"
    return found[0]


def same(a: Sequence[float], b: Sequence[float]) -> bool:
    """Equal lists of floats, NaN equal to NaN."""
    return len(a) == len(b) and all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a, b))


class Written(list):
    """The paths make_report returned, and (``figures``) the Figures it saved."""

    figures: FigureLog


@pytest.fixture(scope="module")
def fig5_report(fig5) -> Written:
    """make_report("fig5") once for the module: drawing is the slow part."""
    runs_dir, out = fig5
    with pytest.MonkeyPatch.context() as mp:
        figures = capture_figures(mp)
        with pytest.warns(UserWarning):
            written = Written(report.make_report("fig5", runs_dir, out))
    written.figures = figures
    return written


def test_load_runs_keeps_partial_results_and_skips_unreadable(fig5):
    runs_dir, _ = fig5
    with pytest.warns(UserWarning) as caught:
        runs = report.load_runs(runs_dir, "fig5")
    messages = " ".join(str(w.message) for w in caught)
    assert "summary.json is unreadable" in messages and "empty_dir" in messages
    assert len(runs) == 12  # 13 folders: the corrupt-JSON run is kept via metrics.csv + config.yaml, empty_dir not
    by_bs = runs.set_index(["batch_size", "schedule", "seed"])
    assert by_bs.loc[(256, "static", 50), "status"] == "incomplete"
    assert by_bs.loc[(256, "static", 50), "final_test_acc"] == 70.0
    assert by_bs.loc[(256, "static", 50), "best_test_acc"] == 75.0
    assert by_bs.loc[(256, "dlrs", 50), "status"] == "incomplete"
    running = by_bs.loc[(512, "dlrs", 50)]
    assert (running["status"], running["final_test_acc"], running["epochs_completed"]) == ("running", 55.0, 2)
    assert by_bs.loc[(64, "static", 51), "best_test_acc"] == 93.0
    assert by_bs.loc[(64, "dlrs", 52), "status"] == "diverged"


def test_load_runs_missing_experiment_is_empty(tmp_path: Path):
    runs = report.load_runs(tmp_path, "fig8")
    assert runs.empty and {"status", "schedule", "run_dir"} <= set(runs.columns)


def test_load_curves_long_format(fig5):
    runs_dir, _ = fig5
    with pytest.warns(UserWarning):
        curves = report.load_curves(runs_dir, "fig5")
    assert {"epoch", "lr", "train_loss", "test_acc", "schedule", "batch_size", "seed", "run_dir"} <= set(curves)
    assert len(curves) == 6 * 3 + 3 + 2 * 2 + 3 + 3 + 2  # rows of every readable metrics.csv
    assert curves[(curves.batch_size == 512)]["status"].eq("running").all()


def test_batch_table_mean_std_and_diverged(fig5, fig5_report):
    runs_dir, out = fig5
    paths = fig5_report
    table = pd.read_csv(out / "tables" / "fig5.csv")
    assert list(zip(table.batch_size, table.schedule)) == [(64, "static"), (64, "dlrs"), (128, "static"),
                                                          (128, "dlrs"), (256, "static"), (256, "dlrs"),
                                                          (512, "dlrs")]
    row = table.set_index(["batch_size", "schedule"])
    assert row.loc[(64, "static"), "final_test_acc_mean"] == pytest.approx(92.0)
    assert row.loc[(64, "static"), "final_test_acc_std"] == pytest.approx(2.0)  # sample std of 90, 92, 94
    assert row.loc[(64, "static"), "best_test_acc_mean"] == pytest.approx(93.0)
    assert row.loc[(64, "dlrs"), "final_test_acc_mean"] == pytest.approx(95.5)  # diverged seed left out
    assert row.loc[(64, "dlrs"), "final_test_acc_std"] == pytest.approx(0.5**0.5)
    assert (row.loc[(64, "dlrs"), "n_seeds"], row.loc[(64, "dlrs"), "n_diverged"]) == (3, 1)
    assert row.loc[(64, "dlrs"), "status"] == "2 completed, 1 diverged"
    assert math.isnan(row.loc[(128, "static"), "final_test_acc_std"])
    assert row.loc[(128, "dlrs"), "status"] == "diverged"
    md = (out / "tables" / "fig5.md").read_text()
    assert "| 64         | Static   | 92.00 ± 2.00" in md
    assert "95.50 ± 0.71" in md and "80.00 ± —" in md
    dlrs128 = next(line for line in md.splitlines() if line.startswith("| 128") and "DLRS" in line)
    assert dlrs128.count("diverged") == 5  # four value cells and the status
    assert out / "tables" / "fig5.md" in paths


def test_figures_written(fig5, fig5_report):
    runs_dir, out = fig5
    paths = fig5_report
    for stem in ("fig5", "fig5_lr"):
        png, pdf = out / "figures" / f"{stem}.png", out / "figures" / f"{stem}.pdf"
        assert png in paths and pdf in paths
        assert png.read_bytes()[:4] == b"\x89PNG" and pdf.read_bytes()[:4] == b"%PDF"
        assert fig5_report.figures[png.name] is fig5_report.figures[pdf.name], "PNG and PDF: the same figure"


BATCH_TITLES = ["batch size 64", "batch size 128", "batch size 256", "batch size 512"]


def test_fig5_figure_content(fig5_report):
    """The paper's figure: one column per batch size; train loss on top, test accuracy in a row
    below, one line per schedule (the mean over seeds, diverged seeds left out of it and drawn dotted)."""
    fig = fig5_report.figures["fig5.png"]
    assert fig._suptitle is not None and fig._suptitle.get_text() == "fig5. Scale: 2, 3, 10 epochs, seeds 50, 51, 52"
    assert fig.axes[0].get_ylabel() == "train loss"
    top, bottom = row(fig, 4, "train loss"), row(fig, 4, "test accuracy (%)")
    assert [ax.get_title() for ax in top] == BATCH_TITLES
    assert all(ax.get_xlabel() == "epoch" for ax in bottom)
    assert top[0].get_yscale() == "log"  # losses over more than a decade (1 ... 50)

    loss64 = series(top[0])
    assert loss64 == {"Static (3 seeds)": ([1, 2, 3], [1.0, 0.5, 0.25]),
                      "DLRS (3 seeds, 1 diverged, dotted)": ([1, 2, 3], [1.0, 0.5, 0.25])}
    ((style, diverged),) = unlabelled(top[0])
    assert style == ":" and same(diverged, [1.0, 50.0, math.nan])
    # one legend for the figure, every label once, none over the curves
    assert figure_legend(fig) == list(dict.fromkeys(label for ax in top for label in series(ax)))
    assert set(loss64) <= set(figure_legend(fig)) and not any(legend(ax) for ax in top)
    acc64 = series(bottom[0])
    assert acc64 == {"Static (3 seeds)": ([1, 2, 3], [80.0, 93.0, 92.0]),  # mean of (80, acc + 1, acc)
                     "DLRS (3 seeds, 1 diverged, dotted)": ([1, 2, 3], [80.0, 85.0, 95.5])}  # seeds 50, 51
    assert unlabelled(bottom[0]) == [(":", [60.0, 10.0, 10.0])]

    acc128 = series(bottom[1])
    assert acc128["Static"] == ([1, 2, 3], [70.0, 80.0, 80.0])
    assert [ln.get_linestyle() for ln in bottom[1].get_lines()] == ["-", ":", ":"]  # both DLRS seeds diverged
    assert "DLRS (2 seeds, diverged)" in acc128
    assert series(bottom[3]) == {"DLRS": ([1, 2], [40.0, 55.0])}  # the running run, as far as it got


def test_fig5_learning_rate_figure_content(fig5_report):
    fig = fig5_report.figures["fig5_lr.png"]
    assert fig._suptitle.get_text() == "fig5: learning rate used in each epoch"
    assert [ax.get_title() for ax in fig.axes] == BATCH_TITLES
    assert fig.axes[0].get_ylabel() == "learning rate"
    lr64 = series(fig.axes[0])
    assert lr64["Static (3 seeds)"] == ([1, 2, 3], [0.01, 0.01, 0.01])
    assert lr64["DLRS (3 seeds, 1 diverged, dotted)"] == ([1, 2, 3], [0.01, 0.02, 0.03])
    assert figure_legend(fig) == list(dict.fromkeys(label for ax in fig.axes for label in series(ax))), \
        "the legend names every panel's schedules"


def test_initial_rate_layout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """images_high_lr: one table row and one figure column per initial rate; the rate row plots each
    epoch's rate (metrics.csv's lr), not the initial one; the scale names the image subset."""
    runs = tmp_path / "runs"
    for lr, accs in ((0.01, (80.0, 82.0)), (0.05, (10.0, 12.0))):
        for seed, acc in zip((50, 51), accs):
            for schedule in ("static", "dlrs"):
                write_fake_run(runs, "images_high_lr", task="fashion_mnist", model="mnist_cnn", schedule=schedule,
                               seed=seed, lr=lr, subset=6000, metric_values=(50.0, 60.0, acc))
    figures = capture_figures(monkeypatch)
    report.make_report("images_high_lr", runs, tmp_path / "out")
    table = pd.read_csv(tmp_path / "out" / "tables" / "images_high_lr.csv")
    assert sorted(zip(table["lr"], table["schedule"])) == [(0.01, "dlrs"), (0.01, "static"), (0.05, "dlrs"),
                                                           (0.05, "static")]
    assert table.set_index(["lr", "schedule"]).loc[(0.05, "static"), "final_test_acc_mean"] == 11.0
    md = (tmp_path / "out" / "tables" / "images_high_lr.md").read_text()
    assert "| Initial lr |" in md and "the first 6 000 training images" in md and "seeds 50, 51" in md
    fig = figures["images_high_lr.png"]
    assert [ax.get_title() for ax in row(fig, 2, "train loss")] == ["initial lr 0.01", "initial lr 0.05"]
    rates = series(row(fig, 2, "learning rate")[1])
    assert rates["DLRS (2 seeds)"][1] == pytest.approx([0.05, 0.10, 0.15])
    assert rates["Static (2 seeds)"][1] == pytest.approx([0.05] * 3)


def test_a_study_over_two_tasks_states_each_tasks_scale():
    """lr_sensitivity runs the PINN for 3000 epochs and the images for 8 on a subset: the scale line
    says which is which instead of '8, 3000 epochs'."""
    runs = pd.DataFrame([
        {"task": "helmholtz", "metric": "rel_error", "epochs": 3000, "subset": None, "seed": 50},
        {"task": "fashion_mnist", "metric": "test_acc", "epochs": 8, "subset": 6000, "seed": 51}])
    assert report.tables.scale_text(runs) == ("Scale: fashion_mnist: 8 epochs, the first 6 000 training images; "
                                              "helmholtz: 3000 epochs; seeds 50, 51")
    assert report.tables.scale_text(runs[:1]) == "Scale: 3000 epochs, seed 50"


def test_log_axes_shade_the_range_over_seeds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Mean - std of losses that spread over decades is below zero; on a log axis the band is the
    seeds' range instead (it would vanish off the bottom otherwise), on a linear axis ± std."""
    runs = tmp_path / "runs"
    for seed, losses, accs in ((50, (1.0, 0.01, 1e-3), (10.0, 50.0, 60.0)), (51, (1.0, 1.0, 0.5), (10.0, 20.0, 30.0)),
                               (52, (1.0, 0.02, 1e-4), (10.0, 40.0, 80.0))):
        write_fake_run(runs, "fig5", schedule="static", seed=seed, losses=losses, metric_values=accs)
    figures = capture_figures(monkeypatch)
    report.make_report("fig5", runs, tmp_path / "out")
    fig = figures["fig5.png"]
    (loss_ax,), (acc_ax,) = row(fig, 1, "train loss"), row(fig, 1, "test accuracy (%)")
    assert loss_ax.get_yscale() == "log" and acc_ax.get_yscale() == "linear"

    def band(ax: Any) -> np.ndarray:
        (poly,) = ax.collections  # fill_between's polygon: its y values are the band's edges
        return poly.get_paths()[0].vertices[:, 1]

    ys = band(loss_ax)
    assert ys.min() == pytest.approx(1e-4) and ys.max() == pytest.approx(1.0)  # min and max over the seeds
    ys = band(acc_ax)
    accs = np.array([60.0, 30.0, 80.0])
    assert ys.min() == pytest.approx(min(10.0, accs.mean() - accs.std(ddof=1)))
    assert ys.max() == pytest.approx(accs.mean() + accs.std(ddof=1))


def test_table1_beside_paper(tmp_path: Path):
    runs = tmp_path / "runs"
    for seed, acc in ((50, 90.0), (51, 91.0)):
        write_fake_run(runs, "table1", task="cifar10", schedule="static", seed=seed, batch_size=128,
                       metric_values=(50.0, acc))
    write_fake_run(runs, "table1", task="cifar10", schedule="dlrs", seed=50, batch_size=128, metric_values=(60.0, 92.0))
    write_fake_run(runs, "table1", task="cifar10", model="vgg19", schedule="static", seed=50, batch_size=128,
                   status="diverged", losses=(2.0, NAN), metric_values=(10.0, 10.0))
    write_fake_run(runs, "table1", task="cifar10", model="vgg19", schedule="dlrs", seed=50, batch_size=128,
                   metric_values=(50.0, 91.98))
    paths = report.make_report("table1", runs, tmp_path / "out")
    table = pd.read_csv(tmp_path / "out" / "tables" / "table1.csv").set_index("model")
    assert list(table.index) == ["simple_dla", "vgg19", "resnet18", "googlenet", "mobilenetv2"]
    dla = table.loc["simple_dla"]
    assert (dla.normal_mean, dla.normal_paper, dla.dlrs_paper) == (90.5, 90.88, 91.30)
    assert dla.normal_std == pytest.approx(0.5**0.5)
    assert dla.normal_vs_paper == pytest.approx(-0.38) and dla.dlrs_vs_paper == pytest.approx(0.70)
    assert dla.gain == pytest.approx(1.5) and dla.paper_gain == pytest.approx(0.42)
    assert table.loc["vgg19", "normal_status"] == "diverged" and table.loc["resnet18", "dlrs_status"] == "missing"
    md = (tmp_path / "out" / "tables" / "table1.md").read_text()
    vgg = next(line for line in md.splitlines() if line.startswith("| VGG-19"))
    assert "diverged" in vgg and "91.98 ± —" in vgg and "89.28" in vgg
    assert "| SimpleDLA" in md and "90.50 ± 0.71" in md and "+1.50" in md
    assert all(p.stat().st_size > 0 for p in paths) and len(paths) == 7


def test_fig2_from_fake_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    runs = tmp_path / "runs"
    for f in (250.0, 500.0):
        for sched, err in (("static", 0.2), ("dlrs", 0.004)):
            status = "diverged" if (f, sched) == (500.0, "static") else "completed"
            for seed in (50, 51):
                write_fake_run(runs, "fig2", task="helmholtz", model="pinn_mlp", schedule=sched, seed=seed,
                               batch_size=1000, frequency=f, status=status,
                               losses=(10.0, 1.0, NAN if status == "diverged" else 0.1),
                               metric_values=(0.9, 0.5, err * (1 + (seed - 50))))
    figures = capture_figures(monkeypatch)
    paths = report.make_report("fig2", runs, tmp_path / "out")
    fig = figures["fig2.png"]
    top, fields = row(fig, 2, "train loss"), row(fig, 2, "p(x)")
    assert [ax.get_title() for ax in top] == ["f = 250 Hz", "f = 500 Hz"]
    assert all(ax.get_xlabel() == "x" for ax in fields)
    assert series(top[1])["DLRS (2 seeds)"] == ([1, 2, 3], [10.0, 1.0, 0.1])
    assert series(top[1])["Static (2 seeds, diverged)"][0] == [1, 2, 3]
    x = [i / 10 for i in range(11)]
    field250, field500 = series(fields[0]), series(fields[1])
    assert field250["exact"] == field500["exact"] == (x, [1 - 2 * v for v in x])
    # each prediction is labelled with its schedule, seed and relative error (or "diverged")
    assert "DLRS s50: rel. err 4.00e-03" in field250 and "Static s50: rel. err 2.00e-01" in field250
    assert field250["DLRS s50: rel. err 4.00e-03"][1] == pytest.approx([1 - 2 * v + 0.01 for v in x])
    assert "Static s50: diverged" in field500 and "DLRS s50: rel. err 4.00e-03" in field500
    assert all(label == "exact" or label.startswith(("Static s", "DLRS s")) for label in [*field250, *field500])
    assert legend(fields[0]) == list(field250)
    lr = figures["fig2_lr.png"].axes
    assert series(lr[0])["DLRS (2 seeds)"] == ([1, 2, 3], [0.01, 0.02, 0.03])
    table = pd.read_csv(tmp_path / "out" / "tables" / "fig2.csv")
    assert list(zip(table.frequency, table.schedule)) == [(250, "static"), (250, "dlrs"), (500, "static"),
                                                          (500, "dlrs")]
    dlrs = table.set_index(["frequency", "schedule"]).loc[(250.0, "dlrs")]
    assert dlrs.final_rel_error_mean == pytest.approx(0.006)  # seeds: 0.004 and 0.008
    assert dlrs.final_rel_error_std == pytest.approx(0.004 / 2**0.5)
    assert dlrs.total_time_s_mean == pytest.approx(6.0)
    md = (tmp_path / "out" / "tables" / "fig2.md").read_text()
    assert "| 500            | Static   | 2     | diverged" in md  # the table has a Seeds column
    assert {p.name for p in paths} == {"fig2.csv", "fig2.md", "fig2_runs.csv", "fig2.png", "fig2.pdf", "fig2_lr.png",
                                       "fig2_lr.pdf", "fig2_paired.csv", "fig2_paired.md", "fig2_paired.png",
                                       "fig2_paired.pdf"}
    # DLRS against the constant rate, paired by seed; a frequency where every static seed diverged pairs nothing
    paired = pd.read_csv(tmp_path / "out" / "tables" / "fig2_paired.csv")
    assert set(paired["method"]) == {"static"} and (paired["reference"] == "dlrs").all()
    # every seed's own numbers, in the table's order, without machine paths or all-empty columns
    per_run = pd.read_csv(tmp_path / "out" / "tables" / "fig2_runs.csv")
    assert list(zip(per_run.frequency, per_run.schedule, per_run.seed)) == [
        (f, s, seed) for f in (250, 500) for s in ("static", "dlrs") for seed in (50, 51)]
    assert per_run.final_rel_error[2:4].tolist() == pytest.approx([0.004, 0.008])
    assert per_run.status.tolist()[4:6] == ["diverged", "diverged"]
    assert "run_dir" not in per_run and "test_subset" not in per_run


def test_no_runs_writes_nothing(tmp_path: Path, capsys):
    assert report.make_report("fig8", tmp_path / "runs", tmp_path / "out") == []
    assert "no runs" in capsys.readouterr().out
    assert not (tmp_path / "out").exists()


def test_markdown_writer_escapes_pipes():
    md = report.to_markdown(pd.DataFrame({"a": ["x|y", "z"], "bb": [1, 22]}))
    assert md.splitlines() == ["| a    | bb |", "|------|----|", "| x\\|y | 1  |", "| z    | 22 |"]


def _cli():
    spec = importlib.util.spec_from_file_location("make_report_cli", REPO / "scripts" / "make_report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli(tmp_path: Path, capsys):
    runs_dir, out = tmp_path / "runs", tmp_path / "out"
    write_fake_run(runs_dir, "fig9", schedule="adacomp", seed=50)
    write_fake_run(runs_dir, "fig9", schedule="adacomp", seed=51, status="failed", metrics=False)
    write_fake_run(runs_dir, "fig9_extra", schedule="dlrs", seed=50)
    cli = _cli()
    assert cli.main(["all", "--runs", str(runs_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out / "tables" / "fig9.csv") in printed  # a preset's folder: curated
    assert str(runs_dir / "fig9_extra" / "report" / "figures" / "fig9_extra_lr.pdf") in printed  # no preset: ad hoc
    assert "fig2: no runs" in printed
    assert pd.read_csv(out / "tables" / "fig9.csv").status.tolist() == ["1 completed, 1 failed"]
    assert cli.main(["fig7", "--runs", str(runs_dir)]) == 2
    assert cli.main(["fig5", "--runs", str(runs_dir / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_fig2_from_a_real_pinn_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from hydra import compose, initialize_config_dir

    from experiments.trainer import train

    overrides = ["experiment_name=fig2", "task.frequency=250", "schedule=dlrs", "trainer.epochs=3",
                 "task.n_points=200", "task.batch_size=100", f"paths.runs={tmp_path / 'runs'}",
                 "trainer.progress=none", "trainer.device=cpu"]
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    figures = capture_figures(monkeypatch)
    summary = train(cfg)
    # the run's own curves.png: train loss, rate and error against epoch, the values of metrics.csv
    rows = pd.read_csv(next((tmp_path / "runs").glob("*/*/metrics.csv")))
    curves = figures["curves.png"].axes
    assert [(ax.get_xlabel(), ax.get_ylabel()) for ax in curves] == [
        ("epoch", "train_loss"), ("epoch", "lr"), ("epoch", "rel_error")]
    for ax, column in zip(curves, ("train_loss", "lr", "rel_error")):
        ((x, y),) = [(np.asarray(ln.get_xdata(), float).tolist(), np.asarray(ln.get_ydata(), float).tolist())
                     for ln in ax.get_lines()]
        assert x == [1.0, 2.0, 3.0] and y == rows[column].tolist()
    paths = report.make_report("fig2", tmp_path / "runs", tmp_path / "out")
    assert {"fig2.png", "fig2_lr.png"} <= set(figures)
    assert series(figures["fig2.png"].axes[0])["DLRS"] == ([1, 2, 3], rows["train_loss"].tolist())
    table = pd.read_csv(tmp_path / "out" / "tables" / "fig2.csv")
    assert len(table) == 1 and table.status[0] == "completed"
    assert table.final_rel_error_mean[0] == pytest.approx(summary["final"]["rel_error"])
    curves = report.load_curves(tmp_path / "runs", "fig2")
    assert list(curves.epoch) == [1, 2, 3] and curves.schedule.eq("dlrs").all()
    assert all(p.exists() and p.stat().st_size > 0 for p in paths)


RULE_STUDIES = {  # a study whose layout asks for the rule's statistics: its task, model, metric values
    "dlrs_ablation": dict(task="helmholtz", model="pinn_mlp", batch_size=1000, frequency=1000.0,
                          metric_values=(0.9, 0.5, 0.3, 0.2, 0.1, 0.05)),
    "images_long": dict(task="fashion_mnist", model="mnist_cnn", batch_size=64,
                        metric_values=(50.0, 60.0, 70.0, 75.0, 80.0, 85.0)),
}


@pytest.mark.parametrize("study", RULE_STUDIES)
def test_a_rule_statistics_table_shows_what_the_rule_saw(tmp_path: Path, study: str):
    """Stagnant share, early |slope|, first epoch at min_lr and time there, by hand for six epochs, in
    the PINN's table (the ablation) and in the accuracy table (images_long)."""
    kind = RULE_STUDIES[study]
    run_dir = write_fake_run(tmp_path / "runs", study, schedule="dlrs", seed=50, losses=(6, 5, 4, 3, 2, 1), **kind)
    metrics = pd.read_csv(run_dir / "metrics.csv")
    metrics["dlrs_slope"] = [-0.4, 0.2, 0.1, -0.1, 0.3, 0.05]
    metrics["dlrs_regime"] = ["convergent", "stagnant", "stagnant", "convergent", "stagnant", "stagnant"]
    metrics["lr"] = [1e-3, 2e-4, 1.04e-4, 1e-4, 1.2e-4, 1e-4]  # min_lr 1e-4; 1.04e-4 is within 5 %, 1.2e-4 not
    metrics.to_csv(run_dir / "metrics.csv", index=False)
    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    config["task"]["shuffle"] = True
    config["schedule"]["min_lr"] = 1e-4
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config))
    write_fake_run(tmp_path / "runs", study, schedule="static", seed=50, losses=(6, 5, 4, 3, 2, 1), **kind)
    report.make_report(study, tmp_path / "runs", tmp_path / "out")
    table = pd.read_csv(tmp_path / "out" / "tables" / f"{study}.csv").set_index("schedule")
    dlrs = table.loc["dlrs"]
    assert dlrs.stagnant_pct_mean == pytest.approx(400 / 6)
    assert dlrs.early_abs_slope_mean == pytest.approx(0.3)  # first third: |-0.4| and |0.2|
    assert dlrs.first_epoch_at_min_lr_mean == 3 and dlrs.n_at_min_lr == 1
    assert dlrs.at_min_lr_pct_mean == pytest.approx(50.0)  # epochs 3, 4 and 6
    assert table.loc["static", ["stagnant_pct_mean", "early_abs_slope_mean", "at_min_lr_pct_mean"]].isna().all()
    md = (tmp_path / "out" / "tables" / f"{study}.md").read_text()
    assert "| Stagnant epochs (%) | Mean abs. slope, first third | First epoch at min lr (seeds) | Epochs at min lr (%) |" in md
    assert "| 67 ± —  " in md and "| 3 (1/1) " in md and md.count("| —  ") >= 1
    assert "the share of epochs they called stagnant" in md


def test_a_preset_names_the_references_of_its_paired_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """dlrs_robust's report.references: each robust slope against the others and cosine, once per pair,
    within each (frequency, shuffle) cell; a preset without the key compares against DLRS alone."""
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", lambda self, *a, **k: None)  # the numbers count
    finals = {"dlrs": 0.4, "dlrs_lsq": 0.2, "dlrs_epoch_mean": 0.1, "cosine": 0.3}
    for schedule, final in finals.items():
        for seed in (50, 51):
            write_fake_run(tmp_path / "runs", "dlrs_robust", task="helmholtz", model="pinn_mlp", schedule=schedule,
                           seed=seed, batch_size=1000, frequency=1000.0, metric_values=(0.9, 0.5, final * seed / 50))
    report.make_report("dlrs_robust", tmp_path / "runs", tmp_path / "out")
    paired = pd.read_csv(tmp_path / "out" / "tables" / "dlrs_robust_paired.csv")
    assert list(zip(paired["reference"], paired["method"])) == [
        ("dlrs_epoch_mean", "dlrs"), ("dlrs_epoch_mean", "dlrs_lsq"), ("dlrs_epoch_mean", "cosine"),
        ("dlrs_lsq", "dlrs"), ("dlrs_lsq", "cosine"), ("dlrs", "cosine")]
    assert paired["estimate"].tolist() == pytest.approx([0.25, 0.5, 1 / 3, 0.5, 2 / 3, 4 / 3])
    assert report.declared_references("baselines_pinn") == ("dlrs",)


def test_the_rate_figure_counts_runs_known_only_from_an_earlier_table(tmp_path: Path) -> None:
    """lr_sensitivity's figure is the final metric against the initial rate: rows of a committed
    `_runs.csv` (seeds run elsewhere) are drawn beside the run directories, not skipped."""
    from experiments import report

    for lr in (1e-3, 1e-2):
        write_fake_run(tmp_path / "runs", "lr_sensitivity", task="helmholtz", model="pinn_mlp", schedule="dlrs",
                       seed=50, frequency=1000, lr=lr, metric_values=(0.5, 0.1, 0.01))
    earlier_dir = tmp_path / "elsewhere"
    write_fake_run(earlier_dir, "lr_sensitivity", task="helmholtz", model="pinn_mlp", schedule="dlrs_uncapped",
                   seed=50, frequency=1000, lr=1e-2, metric_values=(0.5, 0.2, 0.02))
    earlier = report.load_runs(earlier_dir, "lr_sensitivity").drop(columns="run_dir")
    written = report.make_report("lr_sensitivity", tmp_path / "runs", tmp_path / "out", earlier)
    assert tmp_path / "out" / "figures" / "lr_sensitivity.png" in written
    assert "dlrs_uncapped" in set(pd.read_csv(tmp_path / "out" / "tables" / "lr_sensitivity_runs.csv")["schedule"])


@pytest.mark.parametrize("task, paper", [("fashion_mnist", False), ("cifar10", True)])
def test_the_table1_layout_shows_the_paper_only_beside_cifar10(tmp_path: Path, task: str, paper: bool) -> None:
    """table1_cpu (Fashion-MNIST) against table1 (CIFAR-10): the paper's Table 1 numbers stand beside
    CIFAR-10 runs only; both show seconds per epoch."""
    from experiments import report

    experiment = "table1_cpu" if task == "fashion_mnist" else "table1"
    for schedule in ("static", "dlrs"):
        write_fake_run(tmp_path / "runs", experiment, task=task, model="resnet18", schedule=schedule, seed=50)
    report.make_report(experiment, tmp_path / "runs", tmp_path / "out")
    md = (tmp_path / "out" / "tables" / f"{experiment}.md").read_text()
    assert ("Normal (paper)" in md) == paper and ("not comparable" in md) == (not paper)
    assert "Normal: s / epoch" in md and "DLRS: s / epoch" in md
