"""Start-up validation through the real command line: a bad name or value costs one line on
stderr, exit code 2, no traceback, and not a single file written.

Each case is its own ``python -m experiments.run`` process; they start together in a small
pool because interpreter start-up (torch, Hydra) dominates their cost.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest
import torch

from conftest import run_cli


class Case(NamedTuple):
    id: str
    args: list[str]
    expected: list[str]  # fragments of the one error line
    tiny: bool = True  # add the tiny PINN overrides (helmholtz only)


CASES = [
    # unknown names list the valid ones
    Case("unknown-task", ["task=imagenet"], ["task=imagenet is not known", "cifar10, fashion_mnist, helmholtz, mnist"]),
    Case("unknown-model", ["model=resnet50"], ["model=resnet50 is not known", "pinn_mlp", "resnet18", "simple_dla"]),
    Case("unknown-schedule", ["schedule=onecycle"], ["schedule=onecycle is not known", "adacomp, cosine, dlrs"]),
    Case("unknown-optimizer", ["optimizer=rmsprop"], ["optimizer=rmsprop is not known", "adam, prodigy, schedule_free_adamw, sgd"]),
    Case("unknown-key", ["trainer.epoch=3"], ["trainer.epoch is not a known setting", "trainer has:", "epochs"]),
    Case("model-task-mismatch", ["model=resnet18"], ["model=resnet18 does not fit task=helmholtz", "pinn_mlp"]),
    Case("mnist-cnn-on-cifar", ["task=cifar10", "model=mnist_cnn"], ["model=mnist_cnn takes 28x28 images"], tiny=False),
    # non-positive numbers say what is allowed
    Case("lr-zero", ["optimizer.lr=0"], ["optimizer.lr must be a finite number > 0, got 0"]),
    Case("lr-negative", ["optimizer.lr=-0.01"], ["optimizer.lr must be a finite number > 0, got -0.01"]),
    Case("epochs-zero", ["trainer.epochs=0"], ["trainer.epochs must be a positive integer, got 0"]),
    Case("batch-size-zero", ["task.batch_size=0"], ["task.batch_size must be a positive integer, got 0"]),
    Case("image-batch-size-negative", ["task=mnist", "model=mnist_cnn", "trainer.epochs=2", "task.batch_size=-8"],
         ["task.batch_size must be a positive integer, got -8"], tiny=False),
    Case("frequency-zero", ["task.frequency=0"], ["task.frequency must be a finite number > 0, got 0"]),
    Case("frequency-singular", ["task.frequency=340"], ["task.frequency=340 is a multiple of c/2 = 170 Hz"]),
    # DLRS factors and bounds
    Case("delta-d-negative", ["schedule=dlrs", "schedule.delta_d=-0.5"],
         ["schedule.delta_d must be a finite number >= 0, got -0.5"]),
    Case("delta-i-negative", ["schedule=dlrs", "schedule.delta_i=-1"],
         ["schedule.delta_i must be a finite number >= 0, got -1"]),
    Case("min-lr-above-max", ["schedule=dlrs", "schedule.min_lr=0.01", "schedule.max_lr=0.001"],
         ["schedule.min_lr (0.01) must be < schedule.max_lr (0.001)"]),
    Case("min-lr-equals-max", ["schedule=dlrs", "schedule.min_lr=0.01", "schedule.max_lr=0.01"],
         ["schedule.min_lr (0.01) must be < schedule.max_lr (0.01)"]),
    # the baselines' settings: one error line before anything is written
    Case("step-gamma-negative", ["schedule=step", "schedule.gamma=-0.5"], ["schedule.gamma must be a number in (0, 1]"]),
    Case("plateau-factor-one", ["schedule=plateau", "schedule.factor=1"], ["schedule.factor must be a number in (0, 1)"]),
    Case("cosine-eta-min-above-lr", ["schedule=cosine", "schedule.eta_min=0.1"],
         ["schedule.eta_min (0.1) is above the initial rate optimizer.lr (0.005)"]),
    Case("exponential-gamma-and-final", ["schedule=exponential", "schedule.gamma=0.9"],
         ["give exactly one of schedule.gamma and schedule.final_lr"]),
    Case("replay-missing-file", ["schedule=replay", "schedule.metrics_csv=nowhere/metrics.csv"],
         ["schedule.metrics_csv='nowhere/metrics.csv' is not a file"]),
    Case("replay-no-file-given", ["schedule=replay"], ["schedule.metrics_csv", "schedule.metrics_csv=..."]),
    Case("warmup-longer-than-run", ["schedule=cosine", "schedule.warmup_epochs=5", "trainer.epochs=5"],
         ["schedule.warmup_epochs must be an integer in [0, trainer.epochs=5), got 5"]),
    Case("adam-beta-out-of-range", ["optimizer.betas=[0.9,1.5]"], ["optimizer.betas must be two numbers in [0, 1)"]),
    # devices
    Case("device-unknown", ["trainer.device=tpu"], ["trainer.device='tpu' is not known", "auto, cpu, cuda"]),
    Case("device-cuda-missing", ["trainer.device=cuda"], ["CUDA is not available", "trainer.device=cpu"]),
    # a sweep is checked job by job before its first job writes anything
    Case("sweep-bad-job", ["-m", "optimizer.lr=0.005,-1", "trainer.epochs=1"],
         ["optimizer.lr must be a finite number > 0, got -1", "sweep job 2 of 2: optimizer.lr=-1"]),
    # ... whatever launcher the sweep chose: joblib would start the valid first job at once
    Case("sweep-bad-job-parallel", ["-m", "hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2",
                                    "optimizer.lr=0.005,-1", "trainer.epochs=1"],
         ["optimizer.lr must be a finite number > 0, got -1", "sweep job 2 of 2: optimizer.lr=-1"]),
    Case("comma-without-multirun", ["task.frequency=500,1000"], ["task.frequency=500,1000", "add -m"]),
]


def _run_case(case: Case, cwd: Path) -> subprocess.CompletedProcess:
    # paths.results is relative: it would land in cwd, which must stay empty
    return run_cli([*case.args, "paths.results=results"], cwd=cwd, tiny=case.tiny, timeout=180)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory):
    """All cases started at once (three at a time); each test waits for its own."""
    pool = ThreadPoolExecutor(max_workers=3)
    futures: dict[str, tuple[Path, Future]] = {}
    for case in CASES:
        cwd = tmp_path_factory.mktemp(case.id)
        futures[case.id] = (cwd, pool.submit(_run_case, case, cwd))
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def test_at_least_fifteen_bad_inputs() -> None:
    assert len({c.id for c in CASES}) == len(CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case: Case, outcomes) -> None:
    if case.id == "device-cuda-missing" and torch.cuda.is_available():
        pytest.skip("CUDA is available here, so trainer.device=cuda is valid")
    cwd, future = outcomes[case.id]
    proc = future.result()
    output = proc.stdout + proc.stderr
    assert proc.returncode == 2, output
    assert "Traceback" not in output
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    for fragment in case.expected:
        assert fragment in lines[0], lines[0]
    assert sorted(p.name for p in cwd.iterdir()) == [], "a rejected command must not write anything"


@pytest.mark.parametrize("args", [
    ["trainer.seed=50,51", "optimizer.lr=0.005,0.01", "trainer.epochs=3"],
    ["+experiment=fig2", "trainer.seed=range(50,52)"],  # a preset's hydra.sweeper.params, one key given again
    ["+experiment=dlrs_ablation", "task.frequency=choice(500,600)"],
])
def test_the_sweep_checked_is_the_sweep_hydra_launches(args: list[str]) -> None:
    """experiments/config_check.sweep_jobs lists a sweep's jobs as Hydra's basic sweeper does (the
    sweeper itself is the reference: a test may read Hydra's internals, the harness does not)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    from conftest import job_config
    from experiments.config_check import sweep_jobs

    parser = OverridesParser.create()
    settled = [o.input_line for o in parser.parse_overrides(args) if not o.is_sweep_override()]
    params = job_config(settled, hydra=True).hydra.sweeper.params or {}
    (hydra_jobs,) = BasicSweeper.split_arguments(parser.parse_overrides([*(f"{k}={v}" for k, v in params.items()),
                                                                          *args]), None)
    assert sweep_jobs(args, params) == hydra_jobs and len(hydra_jobs) > 1
