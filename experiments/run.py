"""Command line: ``python -m experiments.run [key=value ...]`` (Hydra; ``-m`` for sweeps).

Examples::

    python -m experiments.run                                   # one Helmholtz PINN run, DLRS
    python -m experiments.run task=cifar10 model=resnet18 schedule=static
    python -m experiments.run -m +experiment=fig2               # the ten runs of Fig. 2

Hydra reads the command line and composes each job's config once; the job validates it once
(experiments/config_check.py: ``check_job``) into the ``Config`` the trainer gets, and the trainer
builds the run's components before it makes the run directory. A sweep is checked whole before its
first job starts (``SweepCheck``, a Hydra callback). A mistake the user can fix (an unknown name
or key, a bad value, sweep syntax the basic sweeper does not take, a value a class rejects, missing
data) prints one ``error:`` line and exits 2, before anything is written. Hydra's own flags
(``--help``, ``--cfg``, ``--info``) are answered by Hydra, and a flag it does not know by argparse.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import hydra
from hydra import initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .config_check import (CONFIG_DIR, CONFIG_NAME, Job, check_job, check_jobs, compose_job, hydra_message)
from .errors import UserError, fail
from .numerics import pin

__all__ = ["CONFIG_DIR", "Job", "check_command_line", "main"]
log = logging.getLogger("experiments")


@hydra.main(config_path=str(CONFIG_DIR), config_name=CONFIG_NAME, version_base="1.3")
def _job(cfg: DictConfig) -> None:
    """One run, as Hydra composed it (a sweep calls it once per job). A UserError ends the command
    here: raised, Hydra would print its own line about the job first."""
    hydra_cfg = HydraConfig.get()
    try:
        config = check_job(cfg, hydra_cfg)
        pin(config.trainer.numerics)  # before the trainer imports torch: the libraries read it at first use
        from .trainer import Interrupted, train

        summary = train(config)
    except UserError as e:
        fail(str(e))
    except Interrupted as e:
        print(f"interrupted ({e}); checkpoint written in {config.run_dir}; run the same command to resume",
              file=sys.stderr)
        sys.exit(128 + e.signum)
    except Exception as e:
        if hydra_cfg.mode != RunMode.MULTIRUN:
            raise
        # one crashed run must not cost the sweep: it is recorded as failed in its summary.json
        log.exception("run %s failed: %s", config.run_name, e)
        return
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for all
        _report(Path(config.run_dir), summary)


def _report(run_dir: Path, summary: dict) -> None:
    metric = summary.get("metric")
    value = summary.get("final", {}).get(metric)
    print(f"run {summary['status']}: {summary['epochs_completed']}/{summary['epochs']} epochs, "
          f"final {metric} = {value:.4g}, {summary['total_time_s']:.1f} s" if isinstance(value, float) else
          f"run {summary['status']}")
    for label, name in (("metrics", "metrics.csv"), ("summary", "summary.json"), ("curves", "curves.png"),
                        ("field", "field.png")):
        if (run_dir / name).exists():
            print(f"  {label:8s} {run_dir / name}")


def check_command_line(args: list[str]) -> list[Job]:
    """The jobs ``python -m experiments.run <args>`` would run, each composed and checked as the
    command line checks it, without running them (for tests and tools); UserError (one line) for
    the first problem. ``args``: overrides, and ``-m`` for a sweep; Hydra's other flags are the
    command line's alone."""
    flags = [a for a in args if a.startswith("-") and a not in ("-m", "--multirun")]
    if flags:
        raise ValueError(f"check_command_line takes overrides and -m only, not {' '.join(flags)}")
    overrides = [a for a in args if a not in ("-m", "--multirun")]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        try:
            if len(overrides) < len(args):  # a sweep: the preset's hydra.sweeper.params join in
                parsed = OverridesParser.create().parse_overrides(overrides)
                settled = [o.input_line for o in parsed if not o.is_sweep_override()]
                params = OmegaConf.select(compose_job(settled)[1], "sweeper.params") or {}
                return check_jobs(overrides, params)
            cfg, hydra_cfg = compose_job(overrides)
            check_job(cfg, hydra_cfg)
            return [Job(overrides, cfg)]
        except (HydraException, OmegaConfBaseException) as e:
            raise UserError(hydra_message(e, args)) from None


def main() -> None:
    # Hydra raises what it cannot compose instead of printing its own report (its documented switch):
    # the line below names the problem
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        _job()  # a job's own UserError ends the command in the job (and a sweep's in SweepCheck)
    except (HydraException, OmegaConfBaseException) as e:
        fail(hydra_message(e, sys.argv[1:]))
    except KeyboardInterrupt:  # a second Ctrl-C: no traceback, the last checkpoint stays
        fail("aborted (Ctrl-C); checkpoints already written are kept: run the same command to resume", 130)


if __name__ == "__main__":
    main()
