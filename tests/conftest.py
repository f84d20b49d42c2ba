"""Shared fixtures: the real command line on a tiny CPU PINN run, and the same configs in-process.

``run_cli(args, cwd)`` runs ``python -m experiments.run`` exactly as a user would (a fresh
process, Hydra's argument parsing, exit codes); ``compose(overrides)`` builds the same config
in this process for tests that only need ``experiments.trainer.train``.

Timeouts: one policy for the whole suite. Every wait in a test (a subprocess, a poll for a file,
a notebook cell) takes ``scaled(seconds)``: the base number times ``TEST_TIMEOUT_SCALE`` (an
environment variable, default 1; set it to 3 on a very slow machine). pytest-timeout adds a
per-test backstop, the ``timeout`` ini option in pyproject.toml, scaled the same way here.
The base numbers are generous: a test never fails because the machine is busy, only because
something hangs.
"""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

import pytest
from omegaconf import DictConfig

from experiments.numerics import PINNED_ENV

# The test processes on the pinned numerical path from their start, as `python -m experiments.run`
# is (the default trainer.numerics): the libraries read these once, at their first call, so an
# in-process run and a command-line run of the same config give the same bits in any test order.
os.environ.update(PINNED_ENV)

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "configs"
PRESETS = sorted(p.stem for p in (CONFIG_DIR / "experiment").glob("*.yaml"))  # configs/experiment/
# A PINN run of a few seconds on one CPU core: 4 batches per epoch.
TINY = ("trainer.progress=log", "trainer.device=cpu", "task.n_points=200", "task.batch_size=50")
TIME_COLUMNS = ("epoch_time_s", "wall_time_s")
_TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def _timeout_scale() -> float:
    raw = os.environ.get("TEST_TIMEOUT_SCALE", "1")
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value > 0:
        raise pytest.UsageError(f"TEST_TIMEOUT_SCALE must be a number > 0, got {raw!r}")
    return value


TIMEOUT_SCALE = _timeout_scale()
CLI_TIMEOUT = 400.0  # base seconds for one command-line run of the tiny configs (seconds when idle, minutes when busy)


def scaled(seconds: float) -> float:
    """A timeout of ``seconds`` on this machine: the one place where every test timeout comes from."""
    return seconds * TIMEOUT_SCALE


def run_group(argv: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    """``subprocess.run(argv, capture_output=True, text=True)`` with ``timeout`` in base seconds, for
    commands that start processes of their own (torchrun's ranks, joblib's workers): the command runs
    in a session of its own, and a timeout (or a pytest-timeout backstop) kills that whole group, so
    no worker is left behind."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                          **kwargs) as proc:
        try:
            out, err = proc.communicate(timeout=scaled(timeout))
        except BaseException:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=scaled(30))
            raise
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def wait_until(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.02,
               alive: Optional[subprocess.Popen] = None, log: Optional[Path] = None) -> None:
    """Poll ``condition`` until it holds; fail after ``scaled(timeout)`` seconds, or at once if
    ``alive`` (a background process) has ended, with the end of ``log`` in the message."""
    deadline = time.monotonic() + scaled(timeout)

    def tail() -> str:
        return log.read_text()[-3000:] if log is not None and log.exists() else ""

    while not condition():
        if alive is not None and alive.poll() is not None:
            pytest.fail(f"the process ended (exit {alive.returncode}) before {what}:\n{tail()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {scaled(timeout):.0f} s waiting for {what}:\n{tail()}")
        time.sleep(poll)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Scale pytest-timeout's per-test backstop (ini ``timeout``) by TEST_TIMEOUT_SCALE, unless
    --timeout is given on the command line or a test sets its own marker."""
    if TIMEOUT_SCALE == 1 or not config.pluginmanager.hasplugin("timeout") or config.getoption("timeout"):
        return
    base = float(config.getini("timeout") or 0)
    if base > 0:
        for item in items:
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(scaled(base)))


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
            timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess:
    """Run the command line to the end; stdout and stderr are captured as text.
    ``timeout`` is in base seconds (scaled here)."""
    return run_group(cli_command(args, tiny), timeout, cwd=cwd, env=cli_env(env))


def start_cli(args: list[str], cwd: Path, log: Path, tiny: bool = True, env: Optional[dict[str, str]] = None,
              command: Optional[list[str]] = None) -> subprocess.Popen:
    """Start the command line in the background, stdout and stderr to ``log`` (for signal tests).
    ``command`` replaces ``python -m experiments.run`` (e.g. by tests/paused_cli.py)."""
    argv = cli_command(args, tiny)
    if command is not None:
        argv = [*command, *argv[3:]]  # drop "python -m experiments.run", keep flags and overrides
    with open(log, "w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(argv, cwd=cwd, env=cli_env(env), stdout=out, stderr=subprocess.STDOUT, text=True)


def job_config(overrides: list[str], hydra: bool = False) -> DictConfig:
    """The config ``python -m experiments.run <overrides>`` would compose (``hydra``: with Hydra's
    own node, e.g. a preset's sweep), composed in this process."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=hydra)


def compose_config(overrides: list[str], tiny: bool = True) -> DictConfig:
    """``job_config`` of the tiny CPU PINN (``TINY``) unless ``tiny=False``."""
    return job_config([*(TINY if tiny else ()), *overrides])


def read_metrics(run_dir: Path, drop_times: bool = True) -> list[dict[str, str]]:
    """metrics.csv as rows of strings (exact float text), without the timing columns."""
    with open(Path(run_dir) / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [{k: v for k, v in r.items() if not (drop_times and k in TIME_COLUMNS)} for r in rows]


def killed_in_epoch(monkeypatch: pytest.MonkeyPatch, start_run: Callable[[], object], epoch: int) -> None:
    """``start_run()`` with the trainer killed in ``epoch`` (1-based) as SIGKILL would leave it: that
    epoch trained, its row and any later checkpoint never written; the trainer is restored after."""
    from experiments import trainer as trainer_module

    original = trainer_module.Trainer._epoch_row

    def row(self, index: int, *args):
        if index == epoch - 1:
            raise RuntimeError("simulated kill")
        return original(self, index, *args)

    monkeypatch.setattr(trainer_module.Trainer, "_epoch_row", row)
    with pytest.raises(RuntimeError, match="simulated kill"):
        start_run()
    monkeypatch.setattr(trainer_module.Trainer, "_epoch_row", original)


def one_run_dir(runs: Path) -> Path:
    """The single run directory under ``runs`` (fails if there is not exactly one)."""
    (config,) = Path(runs).glob("*/*/config.yaml")
    return config.parent


@pytest.fixture(scope="session", autouse=True)
def one_intra_op_thread():
    """In-process training runs use one intra-op thread, as the CLI subprocesses do
    (OMP_NUM_THREADS=1): on two shared cores a second thread mostly spin-waits."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session", name="run_cli")
def run_cli_fixture() -> Callable[..., subprocess.CompletedProcess]:
    return run_cli


@pytest.fixture(scope="session", name="compose")
def compose_fixture() -> Callable[..., DictConfig]:
    return compose_config
