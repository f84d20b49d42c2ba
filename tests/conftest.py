"""Shared fixtures: the real command line on a tiny CPU PINN run, and the same configs in-process.

``run_cli(args, cwd)`` runs ``python -m experiments.run`` exactly as a user would (a fresh
process, Hydra's argument parsing, exit codes); ``compose(overrides)`` builds the same config
in this process for tests that only need ``experiments.trainer.train``.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Optional

import pytest
from omegaconf import DictConfig

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "configs"
# A PINN run of a few seconds on one CPU core: 4 batches per epoch.
TINY = ("trainer.progress=log", "trainer.device=cpu", "task.n_points=200", "task.batch_size=50")
TIME_COLUMNS = ("epoch_time_s", "wall_time_s")
_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def cli_env(extra: Optional[dict[str, str]] = None) -> dict[str, str]:
    """The environment of a CLI subprocess: this checkout first on the path, one thread, no network."""
    env = {k: v for k, v in os.environ.items() if k not in _TORCHRUN_VARS}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    # A closed local port as proxy: a dataset download fails at once, with or without network.
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[var] = "http://127.0.0.1:9"
    env["no_proxy"] = env["NO_PROXY"] = ""
    env.update(extra or {})
    return env


def cli_command(args: list[str], tiny: bool = True) -> list[str]:
    # Hydra's parser wants its flags (-m) before the overrides
    flags = [a for a in args if a.startswith("-")]
    overrides = [a for a in args if not a.startswith("-")]
    return [sys.executable, "-m", "experiments.run", *flags, *(TINY if tiny else ()), *overrides]


def run_cli(args: list[str], cwd: Path, env: Optional[dict[str, str]] = None, tiny: bool = True,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """Run the command line to the end; stdout and stderr are captured as text."""
    return subprocess.run(cli_command(args, tiny), cwd=cwd, env=cli_env(env), capture_output=True, text=True,
                          timeout=timeout)


def start_cli(args: list[str], cwd: Path, log: Path, tiny: bool = True) -> subprocess.Popen:
    """Start the command line in the background, stdout and stderr to ``log`` (for signal tests)."""
    with open(log, "w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(cli_command(args, tiny), cwd=cwd, env=cli_env(), stdout=out,
                                stderr=subprocess.STDOUT, text=True)


def compose_config(overrides: list[str], tiny: bool = True) -> DictConfig:
    """The config ``python -m experiments.run <overrides>`` would run, composed in this process."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=[*(TINY if tiny else ()), *overrides])


def read_metrics(run_dir: Path, drop_times: bool = True) -> list[dict[str, str]]:
    """metrics.csv as rows of strings (exact float text), without the timing columns."""
    with open(Path(run_dir) / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in r.items() if not (drop_times and k in TIME_COLUMNS)} for r in rows]


def one_run_dir(runs: Path) -> Path:
    """The single run directory under ``runs`` (fails if there is not exactly one)."""
    (config,) = Path(runs).glob("*/*/config.yaml")
    return config.parent


@pytest.fixture(scope="session", name="run_cli")
def run_cli_fixture() -> Callable[..., subprocess.CompletedProcess]:
    return run_cli


@pytest.fixture(scope="session", name="compose")
def compose_fixture() -> Callable[..., DictConfig]:
    return compose_config
