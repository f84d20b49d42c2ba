"""Through the real command line, one case per class of mistake that used to end in a traceback
(issue: every config value checked by a declared schema): one ``error:`` line on stderr, exit 2,
no traceback, nothing written. And the other side: a real bug still shows its traceback, and the
largest seed the schema allows really runs. The cases run in a small pool, like
tests/test_cli_validation.py; most of them never import torch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, NamedTuple, Optional

import numpy as np
import pytest

from conftest import REPO, cli_env, compose_config, one_run_dir, run_cli, scaled
from experiments.fixtures import _write_idx, write_mnist
from experiments.trainer import train


class Case(NamedTuple):
    id: str
    args: list[str]
    expected: list[str]
    tiny: bool = True
    prepare: Optional[Callable[[Path], list[str]]] = None  # writes inputs under the case's folder, returns extra args


def _inconsistent_mnist(root: Path) -> list[str]:
    raw = write_mnist(root / "data", 64, 32)
    _write_idx(raw / "train-labels-idx1-ubyte", np.zeros(60, np.uint8))  # 64 images, 60 labels
    return [f"paths.data={root / 'data'}"]


def _damaged_run(root: Path) -> list[str]:
    runs = root / "runs"
    train(compose_config(["trainer.epochs=1", "trainer.progress=none", f"paths.runs={runs}"]))
    run_dir = one_run_dir(runs)
    (run_dir / "summary.json").write_text('["completed"]')
    # the command line names runs after their settings: point it at this run's directory
    return [f"paths.runs={runs}", f"run_name={run_dir.name}"]


CASES = [
    Case("momentum-negative", ["optimizer=sgd", "optimizer.momentum=-0.5"],
         ["optimizer.momentum must be a finite number >= 0, got -0.5"]),
    Case("betas-out-of-range", ["optimizer.betas=[0.9,1.5]"], ["optimizer.betas must be two numbers in [0, 1)"]),
    Case("word-in-task-key", ["task.p0=abc"], ["task.p0 must be a finite number, got 'abc'"]),
    Case("seed-beyond-64-bit", ["trainer.seed=18446744073709551616"],
         ["trainer.seed must be an integer in [0, 9223372036854775807], got 18446744073709551616"]),
    Case("run-name-missing-key", ["run_name=${task.nope}"], ["run_name: Interpolation key 'task.nope' not found"]),
    Case("interval-sweep", ["-m", "task.frequency=interval(500,600)"], ["interval() is for sweepers that sample"]),
    Case("glob-on-a-key", ["-m", "task.frequency=glob(*)"], ["glob() picks config-group options"]),
    Case("cfg-typo", ["--cfg=jobb"], ["argument --cfg/-c: invalid choice: 'jobb'"]),
    Case("num-workers-negative", ["task=mnist", "model=mnist_cnn", "task.loader=torchvision", "task.num_workers=-1"],
         ["task.num_workers must be an integer in [0, 256], got -1"], tiny=False),
    Case("data-inconsistent", ["task=mnist", "model=mnist_cnn", "trainer.epochs=1", "trainer.device=cpu"],
         ["MNIST training files under", "are inconsistent: 64 images but 60 labels"], tiny=False,
         prepare=_inconsistent_mnist),
    Case("summary-not-an-object", ["trainer.epochs=1"], ["summary.json is damaged (it holds list, not an object)"],
         prepare=_damaged_run),
]


def _snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory):
    pool = ThreadPoolExecutor(max_workers=3)
    futures: dict[str, tuple[Path, Path, dict, Future]] = {}
    for case in CASES:
        cwd, inputs = tmp_path_factory.mktemp(case.id), tmp_path_factory.mktemp(f"{case.id}-inputs")
        extra = case.prepare(inputs) if case.prepare else []
        # paths.results is relative: it would land in cwd, which must stay empty
        futures[case.id] = (cwd, inputs, _snapshot(inputs), pool.submit(
            run_cli, [*case.args, *extra, "paths.results=results"], cwd=cwd, tiny=case.tiny, timeout=180))
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_mistake_is_one_line_exit_2_and_writes_nothing(case: Case, outcomes) -> None:
    cwd, inputs, before, future = outcomes[case.id]
    proc = future.result()
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for fragment in case.expected:
        assert fragment in lines[0], lines[0]
    assert list(cwd.iterdir()) == [], "a rejected command must not write anything"
    assert _snapshot(inputs) == before, "nor touch the run directories and data it was given"


def test_a_real_bug_still_shows_its_traceback(tmp_path: Path) -> None:
    """An exception inside the model is not a user's mistake: the traceback is printed (exit 1)."""
    driver = tmp_path / "buggy_model.py"
    driver.write_text(
        "import runpy, sys\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "import models.pinn_mlp\n"
        "def forward(self, *args, **kwargs):\n"
        "    raise RuntimeError('boom inside the model')\n"
        "models.pinn_mlp.PINNMLP.forward = forward\n"
        "runpy.run_module('experiments.run', run_name='__main__', alter_sys=True)\n")
    proc = subprocess.run([sys.executable, str(driver), "trainer.epochs=1", "trainer.device=cpu", "task.n_points=100",
                           "task.batch_size=50", "trainer.progress=none", f"paths.results={tmp_path / 'results'}"],
                          cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=scaled(180))
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Traceback" in proc.stderr and "RuntimeError: boom inside the model" in proc.stderr
    assert not proc.stderr.startswith("error: ")
    (summary,) = (tmp_path / "results").glob("runs/*/*/summary.json")
    assert json.loads(summary.read_text())["status"] == "failed"


def test_the_largest_seed_runs_with_reshuffled_batches(tmp_path: Path) -> None:
    """2**63 - 1 is allowed, so it must run, through the PINN's per-epoch shuffle too (in-process)."""
    cfg = compose_config(["trainer.seed=9223372036854775807", "task.shuffle=true", "trainer.epochs=2",
                          "trainer.progress=none", f"paths.runs={tmp_path}"])
    assert train(cfg)["status"] == "completed"
