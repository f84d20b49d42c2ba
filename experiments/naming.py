"""Run names that never collide by accident.

The readable base name is ``run_name`` in configs/config.yaml (task and its tag, model, schedule,
optimizer, rate, seed). Every other setting given on the command line or by a sweep goes in before
the seed: ``trainer.epochs=50`` turns ``..._adam-lr0.005_s50`` into ``..._adam-lr0.005_epochs50_s50``,
so a run with other settings never meets a finished run's directory (overwriting one stays explicit:
``trainer.force=true``). Settings already in the base name, the preset (``+experiment=``, which
names the folder), where files go (``paths.*``) and settings that do not change what a run computes
(``trainer.device``, ...) add nothing; a ``run_name=...`` given by hand is used as it is. Torch-free.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
from typing import Any, Iterable

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import OverrideParseException
from omegaconf import DictConfig, OmegaConf

from .constants import EXECUTION_ONLY as EXECUTION_ONLY_SECTIONS, execution_only_keys

# keys (or key prefixes) that never go into the name: the folder, the name itself, and the sections
# that change nothing a run computes (where files go, how its report is drawn)
OUTSIDE_NAME = ("experiment", "experiment_name", "run_name", "hydra",
                *(section for section, keys in EXECUTION_ONLY_SECTIONS.items() if keys is None))
# the settings that change how a run executes, not what it computes
EXECUTION_ONLY = execution_only_keys()
MAX_VALUE = 24    # a longer value (a path, a list) is shown as a short hash
MAX_SUFFIX = 96   # a longer suffix is replaced by one hash: the settings are in the run's config.yaml
_REF = re.compile(r"\$\{(\.?[A-Za-z_][\w.]*)\}")


def _refs(template: Any, section: str = "") -> set[str]:
    """Config keys an interpolation string refers to (``${.x}`` relative to ``section``)."""
    out = set()
    for ref in _REF.findall(template if isinstance(template, str) else ""):
        out.add(f"{section}.{ref[1:]}" if ref.startswith(".") else ref)
    return out


def keys_in_base_name(cfg: DictConfig) -> set[str]:
    """The settings the base run name already shows, e.g. task.frequency (via task.tag) and optimizer.lr."""
    refs = _refs(OmegaConf.to_container(cfg, resolve=False).get("run_name"))
    for ref in list(refs):  # one level down: task.tag -> task.frequency
        section = ref.rpartition(".")[0]
        node = OmegaConf.select(cfg, section) if section else None
        if isinstance(node, DictConfig):
            refs |= _refs(OmegaConf.to_container(node, resolve=False).get(ref.rpartition(".")[2]), section)
    return refs


def _leaf_counts(node: Any, counts: dict[str, int]) -> dict[str, int]:
    if isinstance(node, dict):
        for key, value in node.items():
            counts[str(key)] = counts.get(str(key), 0) + 1
            _leaf_counts(value, counts)
    return counts


def _value_text(value: str) -> tuple[str, bool]:
    """The value as it may stand in a directory name, and whether it was shortened to a hash."""
    text = re.sub(r"[^A-Za-z0-9.+-]+", "-", value.strip().strip("'\"")).strip("-") or "empty"
    if len(text) > MAX_VALUE:
        return hashlib.sha1(value.encode()).hexdigest()[:8], True
    return text, False


@functools.lru_cache(maxsize=1)
def _parser() -> OverridesParser:
    """Hydra's override grammar, built once (every job of a sweep names itself with it)."""
    return OverridesParser.create()


def _parse(override: str) -> tuple[str, str | None, bool]:
    """(key, value, is_delete) of one override such as ``+trainer.epochs=5`` or ``~task.x``. A number or
    boolean is spelled as a sweep spells it (``true`` -> ``True``, ``1e-3`` -> ``0.001``), so a single
    run and the same sweep job share a directory; anything else as it was written."""
    key, sep, value = override.lstrip("+~").partition("=")
    if sep:
        with contextlib.suppress(OverrideParseException):  # text Hydra cannot read back (a resolved ${...})
            parsed = _parser().parse_override(override)
            if not parsed.is_sweep_override() and isinstance(parsed.value(), (bool, int, float)):
                value = parsed.get_value_element_as_str()
    return key.strip(), (value if sep else None), override.startswith("~")


def settings_label(cfg: DictConfig, overrides: Iterable[str]) -> str:
    """``epochs50_shuffle-True``: the settings in ``overrides`` the base name does not show ('' if none)."""
    in_name = keys_in_base_name(cfg)
    groups_in_name = {ref.rpartition(".")[0] for ref in in_name if ref.endswith(".name")}
    leaves = _leaf_counts(OmegaConf.to_container(cfg, resolve=False), {})
    # a later override of a key wins, as in Hydra
    chosen = {key: (value, delete) for key, value, delete in map(_parse, overrides)}
    parts = []
    for key in sorted(chosen):
        value, delete = chosen[key]
        root = key.split(".")[0].split("/")[0]
        if root in OUTSIDE_NAME or key in EXECUTION_ONLY or key in in_name:
            continue
        if "." not in key and (key in groups_in_name or "/" in key):  # task=mnist: the base name shows it
            continue
        leaf = key.rpartition(".")[2]
        label = leaf if leaves.get(leaf, 0) <= 1 else key  # min_lr is in task and schedule: keep the path
        if delete:
            parts.append(f"no-{label}")
        elif value is not None:
            text, hashed = _value_text(value)
            glue = "" if text[:1].isdigit() and not label[-1:].isdigit() and not hashed else "-"
            parts.append(f"{label}{glue}{text}")
    label = "_".join(parts)
    if len(label) > MAX_SUFFIX:
        label = "cfg-" + hashlib.sha1(label.encode()).hexdigest()[:10]
    return label


def name_with_settings(cfg: DictConfig, overrides: Iterable[str]) -> str:
    """The run name for ``cfg`` launched with ``overrides``: the base name, with the other settings
    inserted before the trailing ``_s<seed>`` (so the seeds of one setting sort together)."""
    overrides = list(overrides)
    base = str(cfg.run_name)
    if any(_parse(o)[0] == "run_name" for o in overrides):  # chosen by hand: taken as it is
        return base
    label = settings_label(cfg, overrides)
    if not label:
        return base
    seed_tail = f"_s{cfg.trainer.seed}"
    if base.endswith(seed_tail):
        return f"{base[: -len(seed_tail)]}_{label}{seed_tail}"
    return f"{base}_{label}"
