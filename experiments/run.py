"""Command line: ``python -m experiments.run [key=value ...]`` (Hydra; ``-m`` for sweeps).

Examples::

    python -m experiments.run                                   # one Helmholtz PINN run, DLRS
    python -m experiments.run task=cifar10 model=resnet18 schedule=static
    python -m experiments.run -m +experiment=fig2               # the ten runs of Fig. 2

A mistake the user can fix (unknown name, bad value, missing data) prints one line and exits 2.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
from pathlib import Path
from typing import NoReturn, Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

from .config_check import CONFIG_DIR, check_config, group_options
from .errors import UserError
from .naming import name_with_settings

GROUPS = ("task", "model", "schedule", "optimizer", "trainer", "experiment", "scale")
# settings that had a second name before: each is now set in one place only
RENAMED = {"task.lr": ("the learning rate", "optimizer.lr"), "task.epochs": ("the run length", "trainer.epochs"),
           "task.data_root": ("the dataset folder", "paths.data"), "model.lr": ("the learning rate", "optimizer.lr")}
_GROUP_OVERRIDE = re.compile(r"^[+~]{0,2}(?P<group>" + "|".join(GROUPS) + r")=(?P<value>.*)$")
log = logging.getLogger("experiments")


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(code)


def check_group_names(args: list[str]) -> None:
    """Unknown config-group options, caught before Hydra turns them into a multi-line report."""
    for arg in args:
        match = _GROUP_OVERRIDE.match(arg)
        if not match:
            continue
        group, value = match["group"], match["value"]
        if value.startswith("glob("):  # Hydra expands globs itself
            continue
        values = re.sub(r"^(choice|range)\((.*)\)$", r"\2", value).split(",")
        options = group_options(group)
        for option in values:
            if option.strip() and option.strip() not in options:
                fail(f"{group}={option.strip()} is not known; choose one of: {', '.join(options)}")


def _compose(args: list[str], hydra_config: bool = False, where: str = "") -> DictConfig:
    """One job's config (inside initialize_config_dir), or a one-line exit if Hydra cannot apply ``args``."""
    from hydra import compose

    try:
        return compose(config_name="config", overrides=args, return_hydra_config=hydra_config)
    except Exception as e:  # Hydra's override/composition errors
        fail(_composition_message(e, args) + where)


def _composition_message(e: Exception, args: list[str]) -> str:
    """Hydra's multi-line report as one actionable line."""
    from hydra import compose

    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()] or [type(e).__name__]
    unknown = re.match(r"Could not override '(?P<key>[^']+)'", lines[0])
    if unknown and "not in struct" in str(e.__cause__):
        key = unknown["key"]
        if key in RENAMED:
            what, name = RENAMED[key]
            return f"{key} is not a setting; {what} is set with {name}=..."
        section = key.rpartition(".")[0]
        try:  # the keys that do exist there, from the config without the bad override
            rest = [a for a in args if a.lstrip("+~").split("=")[0] != key]
            node = compose(config_name="config", overrides=rest)
            node = node if not section else OmegaConf.select(node, section)
            names = ", ".join(sorted(node)) if isinstance(node, DictConfig) else ""
            known = f"; {section or 'the config'} has: {names}" if names else ""
        except Exception:
            known = ""
        return f"{key} is not a known setting{known} (to add a new key, write +{key}=...)"
    if "--multirun" in str(e):  # a comma-separated value without -m
        return f"{lines[0]}: add -m to sweep over it, or write key=[a,b] for a list"
    return lines[0]


def check_single_run(args: list[str]) -> None:
    """Compose and validate a single run's config up front, so no Hydra traceback reaches the user."""
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = _compose(args)
    try:
        check_config(cfg)
    except UserError as e:
        fail(str(e))


def _sweep_jobs(args: list[str], preset_params: dict) -> Optional[list[list[str]]]:
    """The override lists of a basic sweep's jobs, in Hydra's order; None where we cannot tell."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    lines = [f"{k}={v}" for k, v in preset_params.items()] + args
    try:
        parsed = OverridesParser.create().parse_overrides(lines)
        choices: dict[str, list[str]] = {}  # later overrides of a key win, as in Hydra's BasicSweeper
        for line, override in zip(lines, parsed):
            key = override.get_key_element()
            if not override.is_sweep_override():
                choices[key] = [line]
            elif override.is_discrete_sweep():
                choices[key] = [f"{key}={v}" for v in override.sweep_string_iterator()]
            else:
                return None  # interval sweeps are for other sweepers
    except Exception:  # e.g. glob(): Hydra itself reports what it cannot parse
        return None
    return [list(job) for job in itertools.product(*choices.values())]


def check_sweep(args: list[str]) -> None:
    """Compose and validate every job of a ``-m`` sweep before the first one starts writing results."""
    from hydra import initialize_config_dir

    overrides = [a for a in args if a not in ("-m", "--multirun")]
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        first = _sweep_jobs(overrides, {})
        if not first:
            return
        sweeper = _compose(first[0], hydra_config=True).hydra.sweeper
        if not str(sweeper.get("_target_", "")).endswith("BasicSweeper"):
            return  # another sweeper picks its own jobs
        jobs = _sweep_jobs(overrides, dict(sweeper.get("params") or {})) or []
        for i, job in enumerate(jobs):
            swept = [o for o in job if o not in overrides] or job
            where = f" (sweep job {i + 1} of {len(jobs)}: {' '.join(swept)})"
            cfg = _compose(job, where=where)
            try:
                check_config(cfg)
            except UserError as e:
                fail(f"{e}{where}")


@hydra.main(config_path="../configs", config_name="config", version_base="1.3")
def _job(cfg: DictConfig) -> None:
    from .trainer import Interrupted, train  # imported here: a typo on the command line fails fast

    sweeping = HydraConfig.get().mode == RunMode.MULTIRUN
    # every setting given on the command line or by the sweep goes into the run's name
    cfg.run_name = name_with_settings(cfg, HydraConfig.get().overrides.task)
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
    if os.environ.get("RANK", "0") == "0":  # under torchrun, rank 0 speaks for all
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
    flags = {a.split("=")[0] for a in args if a.split("=")[0] in hydra_flags}
    if not flags:
        check_single_run(args)
    elif flags <= {"-m", "--multirun"}:
        check_sweep(args)
    try:
        _job()
    except KeyboardInterrupt:  # a second Ctrl-C: no traceback, the last checkpoint stays
        fail("aborted (Ctrl-C); checkpoints already written are kept: run the same command to resume", 130)


if __name__ == "__main__":
    main()
