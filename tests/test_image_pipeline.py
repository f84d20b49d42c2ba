"""Image classification end to end on fixture data in the real MNIST / CIFAR-10 formats:
training on learnable images lowers the loss, and a mini sweep goes all the way to a table and a
figure. Every model x task pair with its defaults: tests/test_model_task_defaults.py."""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, compose_config, one_run_dir, run_cli, scaled
from experiments.fixtures import write_cifar10, write_mnist
from experiments.trainer import train


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_mnist(root, n_train=16, n_test=8)
    write_cifar10(root, n_train=20, n_test=8)
    return root


def test_training_on_learnable_images_lowers_the_loss(tmp_path: Path) -> None:
    """Not only that it runs: five epochs of the fig5 preset (small CNN) on images whose class can
    be learnt bring the training loss well below its start and below chance, and the accuracy above chance."""
    write_mnist(tmp_path / "data", n_train=64, n_test=32, learnable=True)
    cfg = compose_config(["+experiment=fig5", "+scale=smoke", "model=mnist_cnn", "schedule=static",
                          "optimizer.lr=0.001",
                          "trainer.epochs=5", "task.subset=64", "task.batch_size=16", "task.test_subset=32",
                          "task.test_batch_size=32", f"paths.data={tmp_path / 'data'}",
                          f"paths.runs={tmp_path / 'runs'}", "task.download=false", "trainer.device=cpu"], tiny=False)
    assert train(cfg)["status"] == "completed"
    with open(one_run_dir(tmp_path / "runs") / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    losses = [float(r["train_loss"]) for r in rows]
    assert losses[-1] < 0.8 * losses[0] and losses[-1] < math.log(10), losses  # chance: ln 10
    assert min(losses[1:]) < losses[0] and losses[-1] == pytest.approx(min(losses), rel=0.05), losses
    assert max(float(r["test_acc"]) for r in rows) > 20.0  # chance: 10 %


def test_mini_sweep_to_table_and_figure(data_root: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    sweep = run_cli(["-m", "+experiment=fig5", "+scale=smoke", "task.batch_size=4,8", "task.subset=8",
                     "task.test_subset=8", "trainer.epochs=1", f"paths.data={data_root}", f"paths.results={results}"],
                    cwd=tmp_path, tiny=False)
    assert sweep.returncode == 0, sweep.stderr[-2000:]
    summaries = [json.loads(p.read_text()) for p in (results / "runs" / "fig5").glob("*/summary.json")]
    assert sorted((s["batch_size"], s["schedule"]) for s in summaries) == [
        (4, "dlrs"), (4, "static"), (8, "dlrs"), (8, "static")]
    assert all(s["status"] == "completed" and s["task"] == "mnist" for s in summaries)

    report = subprocess.run([sys.executable, str(REPO / "scripts" / "make_report.py"), "fig5",
                             "--runs", str(results / "runs"), "--out", str(results)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=scaled(120))
    assert report.returncode == 0, report.stderr
    with open(results / "tables" / "fig5.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    for name in ("fig5.png", "fig5.pdf", "fig5_lr.png"):
        assert (results / "figures" / name).stat().st_size > 1000
