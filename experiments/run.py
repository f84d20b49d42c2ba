"""Command line: ``python -m experiments.run [key=value ...]`` (Hydra; ``-m`` for sweeps).

Examples::

    python -m experiments.run                                   # one Helmholtz PINN run, DLRS
    python -m experiments.run task=cifar10 model=resnet18 schedule=static
    python -m experiments.run -m +experiment=fig2               # the ten runs of Fig. 2

A mistake the user can fix (an unknown flag, name or key, a bad value, sweep syntax the basic
sweeper does not take, missing data) prints one ``error:`` line and exits 2, before anything is
written: ``check_command_line`` reads the arguments as Hydra will, composes every job and
validates it against the schema (experiments/schema/) before Hydra starts.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import logging
import os
import re
import sys
from pathlib import Path
from typing import Any, Iterator, NoReturn, Optional

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.types import Glob
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from .config_check import CONFIG_DIR, check_config, group_options, resolve
from .errors import UserError
from .naming import name_with_settings

GROUPS = ("task", "model", "schedule", "optimizer", "trainer", "experiment", "scale")
# settings that had a second name before: each is now set in one place only
RENAMED = {"task.lr": ("the learning rate", "optimizer.lr"), "task.epochs": ("the run length", "trainer.epochs"),
           "task.data_root": ("the dataset folder", "paths.data"), "model.lr": ("the learning rate", "optimizer.lr")}
MAX_SWEEP_JOBS = 10_000  # more is a typo (range(1,100000)), not a study
log = logging.getLogger("experiments")


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(code)


# ---- the arguments, as Hydra reads them ---------------------------------------------------------
def parse_flags(args: list[str]) -> argparse.Namespace:
    """Hydra's own argument parser, with its usage text turned into one UserError line."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()

    def error(message: str) -> NoReturn:
        raise UserError(f"{message} (see --help; overrides are key=value)")

    parser.error = error  # type: ignore[method-assign]
    return parser.parse_args(args)


def _config_loader() -> Any:
    from hydra.core.global_hydra import GlobalHydra

    return GlobalHydra.instance().config_loader() if GlobalHydra.instance().is_initialized() else None


def parse_overrides(lines: list[str]) -> list[Any]:
    """Hydra's parsed overrides; UserError (one line) for syntax Hydra cannot read."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    parser = OverridesParser.create(config_loader=_config_loader())
    parsed = []
    for line in lines:  # one at a time, to name the one that fails
        try:
            parsed.extend(parser.parse_overrides([line]))
        except HydraException as e:
            parts = [p.strip() for p in str(e).splitlines()
                     if p.strip() and not p.startswith(("See ", "Error parsing override"))]
            raise UserError(f"cannot read {line!r}: {'; '.join(parts) or type(e).__name__} (the syntax: "
                            "https://hydra.cc/docs/advanced/override_grammar/basic/)") from None
    return parsed


def check_group_names(overrides: list[Any]) -> None:
    """Unknown config-group options, caught before Hydra turns them into a multi-line report."""
    for override in overrides:
        group = override.key_or_group
        if group not in GROUPS or override.package or override.is_delete():
            continue
        options = group_options(group)
        value = override.value()
        if override.is_sweep_override():
            if not override.is_discrete_sweep() or isinstance(value, Glob):
                continue  # interval sweeps and globs are checked with the sweep
            values = list(itertools.islice(override.sweep_string_iterator(), MAX_SWEEP_JOBS + 1))
        elif isinstance(value, (list, dict)):
            raise UserError(f"{group}={override.get_value_element_as_str()}: a config group takes one option; "
                            f"to run several, write -m {group}=a,b; choose from: {', '.join(options)}")
        else:
            values = [str(value)]
        for option in values:
            if option not in options:
                raise UserError(f"{group}={option} is not known; choose one of: {', '.join(options)}")


def check_sweep_syntax(overrides: list[Any]) -> None:
    """Sweeps that Hydra's basic sweeper cannot run."""
    for override in overrides:
        if override.is_interval_sweep():
            raise UserError(f"{override.input_line}: interval() is for sweepers that sample (Optuna, Nevergrad, Ax); "
                            "the basic sweeper takes a list a,b,c, choice(...), range(...) or, for a config group, "
                            "glob(...)")


# ---- composing and validating each job ----------------------------------------------------------
@contextlib.contextmanager
def _configs() -> Iterator[None]:
    """Hydra's compose API on configs/, leaving Hydra's global state as it found it."""
    from hydra import initialize_config_dir

    previous = HydraConfig.instance().cfg
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            yield
    finally:
        HydraConfig.instance().cfg = previous


def _compose(args: list[str], where: str = "") -> DictConfig:
    """One job's config, with Hydra's config (for ${hydra:...}) set as in a real run (inside
    initialize_config_dir); UserError if Hydra cannot apply ``args``."""
    from hydra import compose

    try:
        cfg = compose(config_name="config", overrides=args, return_hydra_config=True)
    except Exception as e:  # Hydra's override/composition errors
        raise UserError(_composition_message(e, args) + where) from None
    HydraConfig.instance().set_config(cfg)
    return cfg


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
        return f"{key} is not a known setting{known}"
    if "--multirun" in str(e):  # a comma-separated value without -m
        return f"{lines[0]}: add -m to sweep over it, or write key=[a,b] for a list"
    return "; ".join(lines[:2])


def _check_job(args: list[str], where: str = "") -> DictConfig:
    cfg = _compose(args, where)
    try:
        resolve(cfg)  # first: a ${...} that does not resolve, or a ??? left unset, named as such
        _check_group_choices(cfg)
        with contextlib.suppress(OmegaConfBaseException):  # a broken ${...} in run_name: check_config says which
            cfg.run_name = name_with_settings(cfg, args)  # as the job will name it (_job)
        check_config(cfg)
    except UserError as e:
        raise UserError(f"{e}{where}") from None
    return cfg


def _check_group_choices(cfg: DictConfig) -> None:
    """``task.name=mnist`` renames the helmholtz config; ``task=mnist`` chooses the mnist one."""
    choices = cfg.hydra.runtime.choices
    for group in ("task", "model", "optimizer", "schedule"):
        chosen, name = choices.get(group), cfg[group].get("name")
        if chosen is not None and name != chosen:
            raise UserError(f"{group}.name={name!r} does not match the chosen {group} config ({group}={chosen}); "
                            f"to choose another {group}, write {group}={name}")


def validate_single_run(args: list[str]) -> DictConfig:
    """A single run's config, composed and validated up front; UserError (one line) if it cannot be."""
    with _configs():
        return _check_job(args)


def check_single_run(args: list[str]) -> DictConfig:
    """validate_single_run, as the command line reports it: one ``error:`` line and exit 2."""
    try:
        return validate_single_run(args)
    except UserError as e:
        fail(str(e))


def _sweep_jobs(args: list[str], preset_params: dict) -> list[list[str]]:
    """The override lists of a basic sweep's jobs, in Hydra's order (a shuffled sweep in some order);
    UserError for sweeps the basic sweeper cannot run or that select nothing."""
    lines = [f"{k}={v}" for k, v in preset_params.items()] + list(args)
    parsed = parse_overrides(lines)
    check_sweep_syntax(parsed)
    choices: dict[str, list[str]] = {}  # later overrides of a key win, as in Hydra's BasicSweeper
    for line, override in zip(lines, parsed):
        key = override.get_key_element()
        if not override.is_sweep_override():
            choices[key] = [line]
            continue
        values = list(itertools.islice(override.sweep_string_iterator(), MAX_SWEEP_JOBS + 1))
        if not values:
            group = override.key_or_group
            if not isinstance(override.value(), Glob):
                hint = "it selects nothing"
            elif group in GROUPS:
                hint = f"no {group} option matches; the options are: {', '.join(group_options(group))}"
            else:
                hint = f"glob() picks config-group options ({', '.join(GROUPS[:4])}), and {key} is not a config group"
            raise UserError(f"{line}: the sweep has no values: {hint}")
        choices[key] = [f"{key}={v}" for v in values]
    count = 1
    for values in choices.values():
        count *= len(values)
    if count > MAX_SWEEP_JOBS:
        raise UserError(f"the sweep has more than {MAX_SWEEP_JOBS} jobs; check its ranges (range(a,b) counts from a "
                        "to b-1)")
    return [list(job) for job in itertools.product(*choices.values())]


def check_sweep(args: list[str]) -> None:
    """validate_sweep, as the command line reports it: one ``error:`` line and exit 2."""
    try:
        validate_sweep(args)
    except UserError as e:
        fail(str(e))


def validate_sweep(args: list[str]) -> None:
    """Compose and validate every job of a ``-m`` sweep before the first one starts writing results;
    UserError (one line, naming the job) for the first problem."""
    overrides = [a for a in args if a not in ("-m", "--multirun")]
    with _configs():
        first = _sweep_jobs(overrides, {})
        sweeper = _compose(first[0]).hydra.sweeper
        if not str(sweeper.get("_target_", "")).endswith("BasicSweeper"):
            return  # another sweeper picks its own jobs
        jobs = _sweep_jobs(overrides, dict(sweeper.get("params") or {}))
        for i, job in enumerate(jobs):
            swept = [o for o in job if o not in overrides] or job
            _check_job(job, where=f" (sweep job {i + 1} of {len(jobs)}: {' '.join(swept)})")


def check_inspection(args: list[str], flags: argparse.Namespace) -> None:
    """--cfg / --info / --resolve: the config must compose (its values are shown, not checked)."""
    with _configs():
        job = _sweep_jobs(args, {})[0] if flags.multirun else args
        cfg = _compose(job)
        package = None if flags.package in (None, "_global_") else flags.package
        if package is not None and OmegaConf.select(cfg, package) is None:
            raise UserError(f"--package {flags.package}: the config has no such node; give a group or key, "
                            "e.g. --package task")


def _primary_config_exists(flags: argparse.Namespace) -> None:
    """-cn/-cp/-cd: the primary config must be there (another config is not this schema's to check)."""
    name = flags.config_name or "config"
    here = Path(__file__).resolve().parent
    base = CONFIG_DIR if flags.config_path is None else (here / flags.config_path).resolve()
    dirs = [base] + ([Path(flags.config_dir).resolve()] if flags.config_dir else [])
    file = name if name.endswith(".yaml") else f"{name}.yaml"
    if not any((d / file).is_file() for d in dirs):
        raise UserError(f"--config-name={name}: no {file} in {', '.join(map(str, dirs))}; this project's config is "
                        f"{CONFIG_DIR / 'config.yaml'} (leave out -cn/-cp)")


def check_command_line(args: list[str]) -> Optional[DictConfig]:
    """Everything Hydra would reject, and every job's config against the schema; UserError (one
    line) for the first problem. Nothing is written. Returns a single run's config."""
    flags = parse_flags(args)
    if flags.help or flags.hydra_help or flags.shell_completion or flags.experimental_rerun:
        return None  # nothing is run
    if flags.config_name or flags.config_path or flags.config_dir:
        _primary_config_exists(flags)
        parse_overrides(flags.overrides)
        return None
    overrides = parse_overrides(flags.overrides)
    check_group_names(overrides)
    check_sweep_syntax(overrides)
    if flags.cfg or flags.info or flags.resolve or flags.package:
        check_inspection(flags.overrides, flags)
    elif flags.multirun:
        validate_sweep(flags.overrides)
    else:
        return validate_single_run(flags.overrides)
    return None


# ---- the job --------------------------------------------------------------------------------------
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
    try:
        check_command_line(sys.argv[1:])
    except UserError as e:
        fail(str(e))
    try:
        _job()
    except KeyboardInterrupt:  # a second Ctrl-C: no traceback, the last checkpoint stays
        fail("aborted (Ctrl-C); checkpoints already written are kept: run the same command to resume", 130)


if __name__ == "__main__":
    main()
