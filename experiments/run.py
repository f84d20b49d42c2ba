"""Command line: ``python -m experiments.run [key=value ...]`` (Hydra; ``-m`` for sweeps).

Examples::

    python -m experiments.run                                   # one Helmholtz PINN run, DLRS
    python -m experiments.run task=cifar10 model=resnet18 schedule=static
    python -m experiments.run -m +experiment=fig2               # the ten runs of Fig. 2

A mistake the user can fix (an unknown flag, name or key, a bad value, sweep syntax the basic
sweeper does not take, missing data) prints one ``error:`` line and exits 2, before anything is
written: ``check_command_line`` first runs Hydra's command line with jobs that only validate the
config Hydra composed for them (experiments/schema/), a sweep through the dry-run launcher
(hydra_plugins/dlrs_dry_run/) with its files in a temporary folder. Then Hydra runs it for real.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import NamedTuple, NoReturn, Optional
from unittest import mock

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .config_check import CONFIG_DIR, check_config, group_options, resolve
from .errors import UserError
from .naming import name_with_settings
from .numerics import pin

# settings that had a second name before: each is now set in one place only
RENAMED = {"task.lr": ("the learning rate", "optimizer.lr"), "task.epochs": ("the run length", "trainer.epochs"),
           "task.data_root": ("the dataset folder", "paths.data"), "model.lr": ("the learning rate", "optimizer.lr")}
DRY_RUN_LAUNCHER = "hydra_plugins.dlrs_dry_run.DryRunLauncher"
SYNTAX = "https://hydra.cc/docs/advanced/override_grammar/basic/"
log = logging.getLogger("experiments")
hydra_app = hydra.main(config_path=str(CONFIG_DIR), config_name="config", version_base="1.3")


class Job(NamedTuple):
    """A validated job: its overrides (the command line's and the sweep's) and its config."""
    overrides: list[str]
    config: DictConfig


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(code)


# ---- the check: Hydra's command line with jobs that only validate ------------------------------
def check_command_line(args: list[str]) -> list[Job]:
    """Every job ``python -m experiments.run <args>`` would run, composed by Hydra and validated;
    UserError (one line) for the first problem. Nothing is written. Commands that run no job
    (``--cfg``, ``--info``, ``--help``) are answered here and return no jobs."""
    sweep = "-m" in args or "--multirun" in args
    checked: list[tuple[Job, Optional[UserError]]] = []

    def check(cfg: DictConfig) -> None:  # records rather than raises: Hydra adds lines to a failed job
        error = None
        try:
            check_job(cfg)
        except UserError as e:
            error = e
        checked.append((Job(_overrides(), cfg), error))

    with tempfile.TemporaryDirectory() as scratch:
        dry_run = [f"hydra.launcher._target_={DRY_RUN_LAUNCHER}", f"hydra.sweep.dir={scratch}"] if sweep else []
        with mock.patch.object(sys, "argv", [sys.argv[0], *args, *dry_run]), \
                mock.patch.dict(os.environ, HYDRA_FULL_ERROR="1"), \
                mock.patch.object(argparse.ArgumentParser, "error", _usage_error):
            # HYDRA_FULL_ERROR: Hydra raises what it cannot run instead of printing a report
            try:
                hydra_app(check)()
            except (HydraException, OmegaConfBaseException, ValueError) as e:
                raise UserError(_one_line(e, args)) from None
    if sweep and not checked:
        raise UserError(_empty_sweep(args))
    for i, (job, error) in enumerate(checked, 1):
        if error is not None:
            swept = [o for o in job.overrides if o not in args] or job.overrides  # what makes this job this job
            raise UserError(f"{error} (sweep job {i} of {len(checked)}: {' '.join(swept)})") if sweep else error
    return [job for job, _ in checked]


def check_job(cfg: DictConfig) -> None:
    """Inside a Hydra job: its config, named as the job names it, validated; UserError if invalid."""
    resolve(cfg)  # first: a ${...} that does not resolve, or a ??? left unset, named as such
    choices = HydraConfig.get().runtime.choices
    for group in ("task", "model", "optimizer", "schedule"):
        chosen, name = choices.get(group), cfg[group].get("name")
        if chosen is None:  # task=[a,b] merges two options into one config
            given = next((o for o in _overrides() if o.startswith(f"{group}=")), group)
            raise UserError(f"{given}: a config group takes one option; to run several, write -m {group}=a,b; "
                            f"choose from: {', '.join(group_options(group))}")
        if name != chosen:  # task.name=mnist renames the helmholtz config; task=mnist chooses mnist's
            raise UserError(f"{group}.name={name!r} does not match the chosen {group} config ({group}={chosen}); "
                            f"to choose another {group}, write {group}={name}")
    name_run(cfg)
    check_config(cfg)


def name_run(cfg: DictConfig) -> None:
    """Every setting given on the command line or by the sweep goes into the run's name."""
    cfg.run_name = name_with_settings(cfg, HydraConfig.get().overrides.task)


def _overrides() -> list[str]:
    """The job's overrides as written (a ${...} in them left as it is)."""
    return OmegaConf.to_container(HydraConfig.get().overrides.task)  # type: ignore[return-value]


def _usage_error(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    """Hydra's argument parser, complaining in one line (argparse prints its usage text and exits)."""
    raise UserError(f"{message} (see --help; overrides are key=value)")


def _one_line(e: Exception, args: list[str]) -> str:
    """Hydra's report of a command it cannot run, as one actionable line."""
    lines = [line.strip() for line in str(e).strip().splitlines() if line.strip()] or [type(e).__name__]
    if isinstance(e, MissingConfigException) and e.options is not None:  # task=imagenet
        group, _, option = str(e.missing_cfg_file).rpartition("/")
        return f"{group}={option} is not known; choose one of: {', '.join(e.options)}"
    if isinstance(e, MissingConfigException):  # -cn / -cp: a primary config that is not there
        name = e.missing_cfg_file
        what = f"--config-name={name}: no {name}.yaml in the config search path" if name else lines[0]
        return f"{what}; this project's config is {CONFIG_DIR / 'config.yaml'} (leave out -cn/-cp)"
    cause = e.__cause__
    unknown = re.match(r"Could not override '(?P<key>[^']+)'", lines[0])
    if unknown and isinstance(cause, OmegaConfBaseException) and "not in struct" in str(cause):
        key = unknown["key"]
        if key in RENAMED:
            what, name = RENAMED[key]
            return f"{key} is not a setting; {what} is set with {name}=..."
        node, section = getattr(cause, "parent_node", None), str(getattr(cause, "full_key", "")).rpartition(".")[0]
        known = f"; {section or 'the config'} has: {', '.join(sorted(node))}" if isinstance(node, DictConfig) else ""
        return f"{key} is not a known setting{known}"
    interval = [a for a in args if "interval(" in a]
    if interval and "interval" in str(e).lower():
        return (f"{interval[0]}: interval() is for sweepers that sample (Optuna, Nevergrad, Ax); the basic sweeper "
                "takes a list a,b,c, choice(...), range(...) or, for a config group, glob(...)")
    if "--multirun" in str(e):  # a comma-separated value without -m
        return f"{lines[0]}: add -m to sweep over it, or write key=[a,b] for a list"
    if isinstance(e, OverrideParseException):
        quoted = re.search(r"'([^']+)'", lines[0])
        where = next((a for a in args if quoted and quoted[1] in a), "an override")
        reasons = [line for line in lines if not line.startswith(("See ", "Error parsing override"))]
        return f"cannot read {where!r}: {'; '.join(reasons) or lines[0]} (the syntax: {SYNTAX})"
    return "; ".join(lines[:2])


def _empty_sweep(args: list[str]) -> str:
    """Why a sweep has no job: a glob() that matches no option, or a range with no values."""
    parser = OverridesParser.create()
    for arg in (a for a in args if "glob(" in a):
        override = parser.parse_override(arg)
        group = override.key_or_group
        if not (CONFIG_DIR / group).is_dir():
            return (f"{arg}: the sweep has no values: glob() picks config-group options (task, model, schedule, "
                    f"optimizer), and {group} is not a config group")
        if not override.value().filter(list(group_options(group))):
            return f"{arg}: the sweep has no values: no {group} option matches; the options are: " \
                   f"{', '.join(group_options(group))}"
    return "the sweep has no jobs: one of its lists or ranges is empty (range(a,b) counts from a to b-1)"


# ---- the job --------------------------------------------------------------------------------------
@hydra_app
def _job(cfg: DictConfig) -> None:
    from .trainer import Interrupted, train  # imported here: a typo on the command line fails fast

    sweeping = HydraConfig.get().mode == RunMode.MULTIRUN
    name_run(cfg)
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
    try:
        jobs = check_command_line(sys.argv[1:])
    except UserError as e:
        fail(str(e))
    if not jobs:  # --cfg, --info and the like: answered by the check
        return
    # before the trainer imports torch: the libraries read the pinning variables once, at first use
    numerics = {job.config.trainer.numerics for job in jobs}
    if len(numerics) > 1:
        fail("trainer.numerics holds for the whole process: give one value per command, not a sweep over it")
    pin(numerics.pop())
    try:
        _job()
    except KeyboardInterrupt:  # a second Ctrl-C: no traceback, the last checkpoint stays
        fail("aborted (Ctrl-C); checkpoints already written are kept: run the same command to resume", 130)


if __name__ == "__main__":
    main()
