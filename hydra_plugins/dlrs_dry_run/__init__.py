"""A Hydra launcher that runs a sweep's jobs one after another in this process, whatever launcher
the sweep chose: ``python -m experiments.run -m ...`` first runs the sweep through it, with a job
that only validates its config, so that every job is checked before the chosen launcher (local,
joblib, SLURM) starts the first one (experiments/run.py). Hydra finds launchers only in the
``hydra_plugins`` package, hence this folder."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from hydra.core.utils import JobReturn, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict


class DryRunLauncher(Launcher):
    """Hydra's basic launcher without its log lines; the chosen launcher's settings are ignored."""

    def __init__(self, **_launcher_settings: Any) -> None:  # n_jobs, partition, ...: not ours to use
        self.config: Optional[DictConfig] = None
        self.context: Optional[HydraContext] = None
        self.task_function: Optional[TaskFunction] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config, self.context, self.task_function = config, hydra_context, task_function

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        assert self.config is not None and self.context is not None and self.task_function is not None
        setup_globals()
        returns = []
        for idx, overrides in enumerate(job_overrides, initial_job_idx):
            cfg = self.context.config_loader.load_sweep_config(self.config, list(overrides))
            with open_dict(cfg):  # numbered as Hydra's own launchers number them
                cfg.hydra.job.id = cfg.hydra.job.num = idx
            returns.append(run_job(hydra_context=self.context, task_function=self.task_function, config=cfg,
                                   job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir",
                                   configure_logging=False))
        return returns
