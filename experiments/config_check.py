"""Start-up validation: every mistake in a config becomes one UserError line, before any file is
written or any data is loaded. The rules live in the schema (experiments/schema/: one module per
config group); this module resolves the config and turns what goes wrong into that line.
Torch-free for the configs the repository ships with a schema of their own (schedule=replay reads
its metrics.csv; an image model or a class without its own schema is imported for its signature)."""

from __future__ import annotations

import re
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import (InterpolationKeyError, InterpolationResolutionError, MissingMandatoryValue,
                              OmegaConfBaseException)

from .errors import UserError
from .schema import CONFIG_DIR, Config, group_options, interpolations, validate

__all__ = ["CONFIG_DIR", "check_config", "group_options", "resolve"]


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
