"""Command line: ``python -m experiments.run [key=value ...]`` (Hydra; ``-m`` for sweeps).

Examples::

    python -m experiments.run                                   # one Helmholtz PINN run, DLRS
    python -m experiments.run task=cifar10 model=resnet18 schedule=static
    python -m experiments.run -m +experiment=fig2               # the ten runs of Fig. 2

A mistake the user can fix (unknown name, bad value, missing data) prints one line and exits 2.
"""

from __future__ import annotations

import logging
import re
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from .errors import UserError
from .trainer import Interrupted, train

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
GROUPS = ("task", "model", "schedule", "optimizer", "trainer", "experiment", "scale")
_GROUP_OVERRIDE = re.compile(r"^[+~]{0,2}(?P<group>" + "|".join(GROUPS) + r")=(?P<value>.*)$")
log = logging.getLogger("experiments")


def fail(message: str, code: int = 2) -> None:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def check_group_names(args: list[str]) -> None:
    """Unknown config-group options, caught before Hydra turns them into a multi-line report."""
    for arg in args:
        match = _GROUP_OVERRIDE.match(arg)
        if not match:
            continue
        group, value = match["group"], match["value"]
        values = re.sub(r"^(choice|range)\((.*)\)$", r"\2", value).split(",")
        options = sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))
        for option in values:
            if option.strip() and option.strip() not in options:
                fail(f"{group}={option.strip()} is not known; choose one of: {', '.join(options)}")


def check_single_run(args: list[str]) -> None:
    """Compose and validate a single run's config up front, so no Hydra traceback reaches the user."""
    from hydra import compose, initialize_config_dir

    from .config_check import check_config

    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose(config_name="config", overrides=args)
    except Exception as e:  # Hydra's override/composition errors
        fail(str(e).strip().splitlines()[0])
    try:
        check_config(cfg)
    except UserError as e:
        fail(str(e))


@hydra.main(config_path="../configs", config_name="config", version_base="1.3")
def _job(cfg: DictConfig) -> None:
    sweeping = HydraConfig.get().mode == RunMode.MULTIRUN
    try:
        summary = train(cfg)
    except UserError as e:
        fail(str(e))
    except Interrupted as e:
        print(f"interrupted ({e}); checkpoint written in {cfg.run_dir}; run the same command to resume",
              file=sys.stderr)
        sys.exit(128 + e.signum)
    except Exception as e:
        if not sweeping:
            raise
        # one crashed run must not cost the sweep: it is recorded as failed in its summary.json
        log.exception("run %s failed: %s", cfg.run_name, e)
        return
    _report(cfg, summary)


def _report(cfg: DictConfig, summary: dict) -> None:
    run_dir = Path(cfg.run_dir)
    metric = summary.get("metric")
    value = summary.get("final", {}).get(metric)
    print(f"run {summary['status']}: {summary['epochs_completed']}/{summary['epochs']} epochs, "
          f"final {metric} = {value:.4g}, {summary['total_time_s']:.1f} s" if isinstance(value, float) else
          f"run {summary['status']}")
    for label, name in (("metrics", "metrics.csv"), ("summary", "summary.json"), ("curves", "curves.png"),
                        ("field", "field.png")):
        if (run_dir / name).exists():
            print(f"  {label:8s} {run_dir / name}")


def main() -> None:
    args = sys.argv[1:]
    check_group_names(args)
    hydra_flags = {"-m", "--multirun", "--help", "-h", "--hydra-help", "--cfg", "-c", "--info", "--shell-completion",
                   "--version", "-p", "--package", "--resolve", "-cp", "-cn", "--config-path", "--config-name",
                   "--config-dir", "-cd"}
    if not any(a.split("=")[0] in hydra_flags for a in args):
        check_single_run(args)
    _job()


if __name__ == "__main__":
    main()
