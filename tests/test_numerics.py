"""The numerical path is pinned (trainer.numerics=pinned, the default): a short PINN and a short image
run land on the same bits as when the committed studies were made, and every run records the CPU and
the path it took. A change of the numerics (a library's code path, the thread count, the order of an
operation in the loop) fails here first: then the studies must be rerun before it lands."""

from __future__ import annotations

import csv
import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, cli_env, one_run_dir, run_cli, scaled

pytestmark = pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"),
                                reason="the pinned path is MKL's and oneDNN's AVX2 path: x86-64 only")

# the last epoch's row of metrics.csv on the pinned path, one thread (the native path, on an AMD EPYC:
# lr 0.0055895183350361775, rel_error 0.9577858872158453)
PINN_ROW = {"epoch": "30", "lr": "0.00558945805106207", "train_loss": "103806.2875", "rel_error": "0.9577854560804169",
            "test_loss": "122099.109375"}
PINN_ARGS = ["trainer.epochs=30", "task.frequency=2000", "schedule=dlrs", "trainer.checkpoint_every=0"]


def _last_row(run_dir: Path, keys: list[str]) -> dict[str, str]:
    with open(run_dir / "metrics.csv", newline="") as f:
        row = list(csv.DictReader(f))[-1]
    return {key: row[key] for key in keys}


def test_a_short_pinn_run_lands_on_the_pinned_bits(tmp_path: Path) -> None:
    proc = run_cli([*PINN_ARGS, f"paths.results={tmp_path}"], cwd=REPO, tiny=False)
    assert proc.returncode == 0, proc.stderr
    run_dir = one_run_dir(tmp_path / "runs")
    assert _last_row(run_dir, list(PINN_ROW)) == PINN_ROW
    rerun = json.loads((run_dir / "summary.json").read_text())["rerun"]
    assert rerun["threads"] == 1 and rerun["MKL_CBWR"] == "AVX2" and rerun["cpu"] == "AVX2"
    assert rerun["cpu_vendor"] and rerun["cpu_model"]  # e.g. AuthenticAMD, AMD EPYC


# fixture images (experiments.fixtures, written in the real formats), the MNIST CNN, two epochs (the
# native path, on an AMD EPYC, gives another train_loss and lr in the last digits)
IMAGE_ROW = {"epoch": "2", "lr": "0.0009322984397058067", "train_loss": "2.3757669925689697",
             "test_loss": "2.3365862369537354", "test_acc": "8.59375", "dlrs_slope": "0.1107727496563114"}


def test_a_short_image_run_lands_on_the_pinned_bits(tmp_path: Path) -> None:
    data = tmp_path / "data"
    made = subprocess.run([sys.executable, "-m", "experiments.fixtures", "--root", str(data)], cwd=REPO,
                          env=cli_env(), capture_output=True, text=True, timeout=scaled(120))
    assert made.returncode == 0, made.stderr
    proc = run_cli(["task=fashion_mnist", "model=mnist_cnn", "+scale=smoke", f"paths.data={data}",
                    f"paths.results={tmp_path}"], cwd=REPO, tiny=False)
    assert proc.returncode == 0, proc.stderr
    assert _last_row(one_run_dir(tmp_path / "runs"), list(IMAGE_ROW)) == IMAGE_ROW
