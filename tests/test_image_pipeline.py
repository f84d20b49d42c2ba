"""Image classification end to end on fixture data in the real MNIST / CIFAR-10 formats:
every model trains two batches and evaluates through the trainer, and a mini sweep goes all the
way to a table and a figure."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import REPO, compose_config, one_run_dir, run_cli
from experiments.fixtures import write_cifar10, write_mnist
from experiments.trainer import train


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("data")
    write_mnist(root, n_train=16, n_test=8)
    write_cifar10(root, n_train=20, n_test=8)
    return root


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two shared cores: a second thread only waits
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize(
    ("task", "model"),
    [("cifar10", "simple_dla"), ("cifar10", "vgg19"), ("cifar10", "resnet18"), ("cifar10", "googlenet"),
     ("cifar10", "mobilenetv2"), ("mnist", "simple_dla"), ("mnist", "mnist_cnn")],
)
def test_every_model_trains_two_batches_and_evaluates(task: str, model: str, data_root: Path, tmp_path: Path) -> None:
    cfg = compose_config([f"task={task}", f"model={model}", "schedule=dlrs", "trainer.epochs=1",
                          "task.subset=4", "task.batch_size=2", "task.test_subset=4", "task.test_batch_size=4",
                          f"paths.data={data_root}", f"paths.runs={tmp_path}", "task.download=false"], tiny=False)
    summary = train(cfg)
    assert summary["status"] == "completed" and summary["metric"] == "test_acc"
    with open(one_run_dir(tmp_path) / "metrics.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert 0.0 <= float(row["test_acc"]) <= 100.0 and float(row["test_loss"]) > 0
    assert row["dlrs_regime"] in ("divergent", "stagnant", "convergent")  # two losses: DLRS acted


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
                            capture_output=True, text=True, cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    with open(results / "tables" / "fig5.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4
    for name in ("fig5.png", "fig5.pdf", "fig5_lr.png"):
        assert (results / "figures" / name).stat().st_size > 1000
