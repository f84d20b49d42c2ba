"""Through the real command line, one case per class of mistake that used to end in a traceback
(every config value is checked by a declared schema): one ``error:`` line on stderr, exit 2,
no traceback, nothing written. And the other side: a real bug still shows its traceback, and the
largest seed the schema allows really runs. The cases run in a small pool, like
tests/test_cli_mistakes.py; most of them never import torch.
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


WARM_RESTARTS = "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts"  # a torch schedule without a schema


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
    Case("config-name-unknown", ["--config-name=no_such_config"], ["--config-name=no_such_config: no no_such_config.yaml in"]),
    # a value the class itself refuses, when the job builds it (no schema of its own): the class's message
    Case("schedule-class-refuses-value", ["schedule=static", f"schedule._target_={WARM_RESTARTS}", "+schedule.T_0=0"],
         ["schedule.T_0=0: Expected positive integer T_0, but got 0"]),
    Case("schedule-class-refuses-type", ["schedule=static", f"schedule._target_={WARM_RESTARTS}", "+schedule.T_0=abc"],
         ["schedule.T_0=abc: '<=' not supported between instances of 'str' and 'int'"]),
    # ... also where the class is built only when the warm-up ends
    Case("schedule-class-refuses-after-warm-up", ["schedule=cosine", f"schedule._target_={WARM_RESTARTS}",
                                                  "~schedule.T_max", "~schedule.eta_min", "+schedule.T_0=0",
                                                  "schedule.warmup_epochs=1", "trainer.epochs=2"],
         ["schedule.T_0=0: Expected positive integer T_0, but got 0"]),
    Case("optimizer-class-refuses-value", ["optimizer=sgd", "optimizer._target_=torch.optim.RMSprop",
                                           "+optimizer.alpha=-1"], ["optimizer.alpha=-1: Invalid alpha value: -1"]),
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


# Hydra's flags, read by argparse: its usage, then its one error line (exit 2), and nothing written
# (run_cli puts flags before the overrides: a flag's value goes after "=")
FLAGS = [(["--cfg=jobb"], "argument --cfg/-c: invalid choice: 'jobb' (choose from 'job', 'hydra', 'all')"),
         (["--info=nothing"], "argument --info/-i: invalid choice: 'nothing'"),
         (["--frobnicate"], "unrecognized arguments: --frobnicate")]


@pytest.mark.parametrize(("args", "expected"), FLAGS, ids=[" ".join(a) for a, _ in FLAGS])
def test_a_bad_flag_is_argparse_error_exit_2(args: list[str], expected: str, tmp_path: Path) -> None:
    proc = run_cli(args, cwd=tmp_path, timeout=180)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("usage: ") and f"error: {expected}" in proc.stderr.strip().splitlines()[-1]
    assert list(tmp_path.iterdir()) == []


def test_commands_that_run_no_job_are_answered_by_hydra(tmp_path: Path) -> None:
    """--cfg, --help, and a --package that is not in the config: Hydra's own answers; no job runs."""
    shown = run_cli(["--cfg=job", "--package=task"], cwd=tmp_path, timeout=180)
    assert shown.returncode == 0 and shown.stdout.startswith("# @package task"), shown.stderr
    helped = run_cli(["--help"], cwd=tmp_path, timeout=180)
    assert helped.returncode == 0 and "Powered by Hydra" in helped.stdout, helped.stderr
    missing = run_cli(["--cfg=job", "--package=no.such.node"], cwd=tmp_path, timeout=180)
    assert missing.returncode == 1 and "package 'no.such.node' not found" in missing.stderr, missing.stderr
    assert list(tmp_path.iterdir()) == []


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


def test_a_model_class_refusing_a_value_is_one_line_and_a_bug_is_not() -> None:
    """The model's settings are the class's too (in-process: build_model, as a task calls it)."""
    from experiments.builders import build_model, rejected_by
    from experiments.errors import UserError
    from experiments.schema.model import MODELS

    node = {"name": "dropout", "_target_": "torch.nn.Dropout", "p": 1.5}
    with pytest.raises(UserError, match=r"^model\.p=1\.5: dropout probability has to be between 0 and 1"):
        build_model(MODELS.pick(node).model_validate(node))
    with pytest.raises(ValueError, match="^unrelated$"):  # names no setting: not the user's, so not a UserError
        with rejected_by("model", {"width": 3}):
            raise ValueError("unrelated")
