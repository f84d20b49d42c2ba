"""Start-up validation: every mistake in a config becomes one UserError line, before any file is
written or any data is loaded. The rules live in the schema (experiments/schema/: one module per
config group); this module resolves a job's config, names the run, validates it into the one
``Config`` the run gets (``check_job``), and turns what goes wrong into that line.

A sweep is checked whole before its launcher starts the first job: ``SweepCheck``, a Hydra callback
(``hydra.callbacks`` in configs/config.yaml), composes every job the basic sweeper will launch with
Hydra's compose API and checks it, so a bad value in the last job costs nothing, whatever the
launcher (joblib starts several jobs at once; SLURM runs them elsewhere).
Torch-free for the configs the repository ships with a schema of their own (schedule=replay reads
its metrics.csv; an image model or a class without its own schema is imported for its signature)."""

from __future__ import annotations

import itertools
import re
from typing import Any, Mapping, NamedTuple

from hydra import compose
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException, MissingConfigException, OverrideParseException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import (InterpolationKeyError, InterpolationResolutionError, MissingMandatoryValue,
                              OmegaConfBaseException)

from .constants import MOVED_TO
from .errors import UserError, fail
from .naming import name_with_settings
from .numerics import pin
from .schema import CONFIG_DIR, Config, group_options, interpolations, validate

__all__ = ["CONFIG_DIR", "CONFIG_NAME", "Job", "SweepCheck", "check_config", "check_job", "check_jobs", "compose_job",
           "group_options", "hydra_message", "resolve", "sweep_jobs"]

CONFIG_NAME = "config"  # configs/config.yaml
SYNTAX = "https://hydra.cc/docs/advanced/override_grammar/basic/"
GROUPS = ("task", "model", "optimizer", "schedule")


class Job(NamedTuple):
    """A checked job: its overrides (the command line's and the sweep's) and its config, named."""
    overrides: list[str]
    config: DictConfig


def resolve(cfg: DictConfig) -> dict[str, Any]:
    """The config as plain data with every ${...} resolved (Hydra's own ``hydra`` node left out);
    UserError (one line) for a ??? left unset or a ${...} that does not resolve."""
    data: dict[str, Any] = {}
    try:
        for key in cfg:
            if key == "hydra":
                continue
            value = cfg[key]  # a top-level leaf is resolved here
            data[str(key)] = (OmegaConf.to_container(value, resolve=True, throw_on_missing=True)
                              if OmegaConf.is_config(value) else value)
    except OmegaConfBaseException as e:
        raise UserError(_omegaconf_message(e, cfg)) from None
    return data


def _omegaconf_message(e: OmegaConfBaseException, cfg: DictConfig) -> str:
    key = getattr(e, "full_key", None) or ""
    if isinstance(e, InterpolationKeyError):
        # e names the key being resolved (run_dir), which may only point at the broken ${...} (paths.results)
        missing = re.search(r"'([^']+)'", str(e))
        raw = OmegaConf.to_container(cfg, resolve=False)
        holders = [k for k, text in interpolations(raw).items() if missing and "${" + missing[1] in text]
        key = holders[0] if holders else key
    message = " ".join(str(e).strip().splitlines()[0].split()) if str(e).strip() else type(e).__name__
    if isinstance(e, MissingMandatoryValue):
        return f"{key} has no value (???); set it on the command line ({key}=...)"
    if isinstance(e, (InterpolationKeyError, InterpolationResolutionError)):
        return f"{key}: {message}; fix the ${{...}} reference in {key}, or set {key}=... directly"
    return f"{key}: {message}; set it on the command line ({key}=...)" if key else message


def check_config(cfg: DictConfig) -> Config:
    """The validated config; UserError for the first invalid value in ``cfg``."""
    data = resolve(cfg)
    raw = OmegaConf.to_container(cfg, resolve=False)
    raw.pop("hydra", None)
    return validate(data, interpolations(raw))  # its SchemaError is a UserError


def check_job(cfg: DictConfig, hydra: DictConfig) -> Config:
    """A job's config as Hydra composed it (``hydra``: that job's Hydra node, for the options chosen
    and the overrides given), with its run named, validated: the one Config its run gets."""
    resolve(cfg)  # first: a ${...} that does not resolve, or a ??? left unset, named as such
    overrides = list(hydra.overrides.task)
    for group in GROUPS:
        chosen, name = hydra.runtime.choices.get(group), cfg[group].get("name")
        if chosen is None:  # task=[a,b] merges two options into one config
            given = next((o for o in overrides if o.startswith(f"{group}=")), group)
            raise UserError(f"{given}: a config group takes one option; to run several, write -m {group}=a,b; "
                            f"choose from: {', '.join(group_options(group))}")
        if name != chosen:  # task.name=mnist renames the helmholtz config; task=mnist chooses mnist's
            raise UserError(f"{group}.name={name!r} does not match the chosen {group} config ({group}={chosen}); "
                            f"to choose another {group}, write {group}={name}")
    # every setting given on the command line or by the sweep goes into the run's name
    cfg.run_name = name_with_settings(cfg, overrides)
    return check_config(cfg)


# ---- a sweep, checked whole --------------------------------------------------------------------------
def sweep_jobs(overrides: list[str], params: Mapping[str, str]) -> list[list[str]]:
    """The overrides of each job of a sweep, in the basic sweeper's order: ``hydra.sweeper.params``
    (a preset's) and then the command line, one list of values per key (a later one replaces an
    earlier one in its place), crossed."""
    values: dict[str, list[str]] = {}
    for override in OverridesParser.create().parse_overrides([*(f"{k}={v}" for k, v in params.items()), *overrides]):
        key = override.get_key_element()
        if not override.is_sweep_override():
            values[key] = [f"{key}={override.get_value_element_as_str()}"]
        elif not override.is_discrete_sweep():
            raise UserError(_interval(override.input_line))
        elif override.value_type is not None and override.value_type.name == "GLOB_CHOICE_SWEEP":
            values[key] = [f"{key}={option}" for option in override.value().filter(list(group_options(key)))]
        else:
            values[key] = [f"{key}={value}" for value in override.sweep_string_iterator()]
    return [list(job) for job in itertools.product(*values.values())]


def compose_job(overrides: list[str]) -> tuple[DictConfig, DictConfig]:
    """(config, Hydra node) of the job with ``overrides``, composed as its launcher will compose it
    (Hydra initialised: by ``hydra.main``, or by ``initialize_config_dir``)."""
    cfg = compose(config_name=CONFIG_NAME, overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)  # a ${hydra:...} in a value resolves as it will in the job
    hydra = HydraConfig.get()
    with open_dict(cfg):
        del cfg["hydra"]
    return cfg, hydra


def check_jobs(overrides: list[str], params: Mapping[str, str]) -> list[Job]:
    """Every job of the sweep of ``overrides`` (and the preset's ``params``), composed and checked;
    UserError (one line, naming the job) for the first problem."""
    jobs = sweep_jobs(overrides, params)
    if not jobs:
        raise UserError(_empty_sweep(overrides))
    checked = []
    for i, job in enumerate(jobs, 1):
        try:
            cfg, hydra = compose_job(job)
            check_job(cfg, hydra)
        except (UserError, HydraException, OmegaConfBaseException) as e:
            line = str(e) if isinstance(e, UserError) else hydra_message(e, job)
            swept = [o for o in job if o not in overrides] or job  # what makes this job this job
            raise UserError(f"{line} (sweep job {i} of {len(jobs)}: {' '.join(swept)})") from None
        checked.append(Job(job, cfg))
    return checked


class SweepCheck(Callback):
    """Hydra calls it once per sweep (``-m``), before the sweeper writes or launches anything: a
    mistake in any job ends the command with one ``error:`` line and exit 2. Hydra turns what a
    callback raises into a warning, so it ends the command itself."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        try:
            jobs = check_jobs(list(config.hydra.overrides.task), config.hydra.sweeper.params or {})
        except UserError as e:
            fail(str(e))
        numerics = {job.config.trainer.numerics for job in jobs}
        if len(numerics) > 1:
            fail("trainer.numerics holds for the whole process: give one value per command, not a sweep over it")
        pin(numerics.pop())  # before any job imports torch, in this process and the ones it starts


# ---- Hydra's report of a command it cannot run, as one actionable line ---------------------------------
def hydra_message(e: Exception, args: list[str]) -> str:
    """The one line for what Hydra raised on the command line ``args``."""
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
        key = unknown["key"].lstrip("+")
        if key in MOVED_TO:
            return f"{key} is not a setting any more; it is set with {MOVED_TO[key]}=..."
        node, section = getattr(cause, "parent_node", None), str(getattr(cause, "full_key", "")).rpartition(".")[0]
        known = f"; {section or 'the config'} has: {', '.join(sorted(node))}" if isinstance(node, DictConfig) else ""
        return f"{key} is not a known setting{known}"
    interval = [a for a in args if "interval(" in a]
    if interval and "interval" in str(e).lower():
        return _interval(interval[0])
    if "--multirun" in str(e):  # a comma-separated value without -m
        return f"{lines[0]}: add -m to sweep over it, or write key=[a,b] for a list"
    if isinstance(e, OverrideParseException):
        quoted = re.search(r"'([^']+)'", lines[0])
        where = next((a for a in args if quoted and quoted[1] in a), "an override")
        reasons = [line for line in lines if not line.startswith(("See ", "Error parsing override"))]
        return f"cannot read {where!r}: {'; '.join(reasons) or lines[0]} (the syntax: {SYNTAX})"
    return "; ".join(lines[:2])


def _interval(arg: str) -> str:
    return (f"{arg}: interval() is for sweepers that sample (Optuna, Nevergrad, Ax); the basic sweeper takes a list "
            "a,b,c, choice(...), range(...) or, for a config group, glob(...)")


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
