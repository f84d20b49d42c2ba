"""Hydra launcher presets: joblib (parallel runs on this machine) and submitit (SLURM).

The SLURM preset is exercised up to the submission: fake ``srun``/``sbatch`` on PATH capture
the batch script that submitit writes, and the fake cluster then refuses the job.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import CLI_TIMEOUT, run_group
from experiments.run import CONFIG_DIR

ROOT = Path(__file__).resolve().parents[1]
TINY = ["task.n_points=100", "task.batch_size=50", "trainer.epochs=1", "trainer.device=cpu", "trainer.progress=none"]


def _compose(*overrides: str):
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)


def _run_cli(args: list[str], path_prefix: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    if path_prefix:
        env["PATH"] = f"{path_prefix}{os.pathsep}{env.get('PATH', '')}"
    return run_group([sys.executable, "-m", "experiments.run", *args], CLI_TIMEOUT, cwd=ROOT, env=env)


def test_local_parallel_preset_extends_joblib() -> None:
    launcher = _compose("hydra/launcher=local_parallel").hydra.launcher
    assert launcher._target_.endswith("JoblibLauncher")
    assert launcher.n_jobs == 4 and launcher.prefer == "processes"  # ours on top of the plugin's defaults


def test_slurm_preset_composes_without_submitting() -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    cfg = _compose("hydra/launcher=slurm", "+experiment=table1", "hydra.launcher.partition=gpu")
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.gpus_per_node, launcher.tasks_per_node, launcher.partition) == (1, 1, "gpu")
    assert launcher.timeout_min > 0
    # interpolations resolve against the run's config: job logs go under results/slurm/<experiment>/
    assert OmegaConf.select(cfg, "hydra.launcher.submitit_folder") == "results/slurm/table1/%j"


@pytest.mark.slow
def test_joblib_sweep_completes_both_runs(tmp_path: Path) -> None:
    proc = _run_cli(["-m", "hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2", *TINY,
                     f"paths.runs={tmp_path}", "trainer.seed=1,2"])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Joblib.Parallel(n_jobs=2" in proc.stdout + proc.stderr
    summaries = sorted(tmp_path.glob("default/*/summary.json"))
    assert [p.parent.name.rsplit("_", 1)[1] for p in summaries] == ["s1", "s2"]
    assert all(json.loads(p.read_text())["status"] == "completed" for p in summaries)


@pytest.mark.slow
def test_slurm_sweep_writes_a_job_array_script(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    fake_bin, captured = tmp_path / "bin", tmp_path / "job.sh"
    fake_bin.mkdir()
    (fake_bin / "srun").write_text("#!/bin/sh\nexit 1\n")  # submitit only checks that srun exists
    (fake_bin / "sbatch").write_text(f'#!/bin/sh\ncp "$1" {captured}\necho "sbatch: fake cluster" >&2\nexit 1\n')
    for tool in ("srun", "sbatch"):
        (fake_bin / tool).chmod(0o755)
    proc = _run_cli(["-m", "hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.timeout_min=90",
                     *TINY, f"paths.results={tmp_path / 'results'}", "trainer.seed=1,2"], path_prefix=str(fake_bin))
    assert proc.returncode != 0 and "fake cluster" in proc.stderr  # refused, as planned
    script = captured.read_text()
    for line in ("--array=0-1", "--gpus-per-node=1", "--partition=gpu", "--time=90", "--ntasks-per-node=1"):
        assert f"#SBATCH {line}" in script, script
    assert str(tmp_path / "results" / "slurm" / "default") in script
    assert not list((tmp_path / "results").glob("runs/*/*/summary.json"))  # nothing ran here
