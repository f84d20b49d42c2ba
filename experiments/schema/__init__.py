"""The schema of the whole config: every key of every config group, with its type and what it allows.

One module per group: ``task``, ``model``, ``optimizer``, ``schedule`` (a schema per class that has
rules beyond its signature); the trainer's and paths' keys, the top level and the rules between groups
in ``config``; what they are written in, in ``base``. pydantic validates the resolved config once, at
the start of a job (``validate``), and the code below gets the validated objects; every problem
becomes one line naming the key, the bad value and what is allowed (``describe``). A key that a config
file has and the schema does not is an error too, so a new key cannot slip in unchecked.

Renaming or adding a key in configs/: change its one line in the group's module here.
"""

from __future__ import annotations

import re
import typing
from typing import Any, Iterator, Literal, Optional

from omegaconf import OmegaConf
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from .base import CONFIG_DIR, RULE, Group, SchemaError, group_options, keys_of
from .config import FIXED, REGISTRIES, Config

__all__ = ["CONFIG_DIR", "Config", "SchemaError", "declared", "group_options", "interpolations", "keys_of", "leaves",
           "option", "schema_for", "validate"]


def validate(data: dict[str, Any], origins: Optional[dict[str, str]] = None) -> Config:
    """The validated config; SchemaError (one line) for the first problem in ``data``, which is the
    plain, resolved config (``OmegaConf.to_container(cfg, resolve=True)``). ``origins`` maps keys
    whose value came from a ${...} to that text, so the line can say where a bad value came from."""
    try:
        return Config.for_data(data).model_validate(data).recording(data)
    except ValidationError as e:
        raise SchemaError(describe(e, data, origins or {})) from None


def option(group: str, choice: str, **overrides: Any) -> Group:
    """The validated task or model of configs/<group>/<choice>.yaml with ``overrides``: what code and
    tests that build a task or a model by hand pass it (the defaults are the YAML's)."""
    node = OmegaConf.load(CONFIG_DIR / group / f"{choice}.yaml")
    node = OmegaConf.merge(node.get(group, node), overrides)  # a task file also sets other groups' keys
    data = {group: OmegaConf.to_container(node, resolve=True)}
    try:
        return REGISTRIES[group].pick(data[group]).model_validate(data[group])
    except ValidationError as e:
        raise SchemaError(describe(e, data, prefix=(group,))) from None


def interpolations(node: Any) -> dict[str, str]:
    """{dotted key: its ${...} text} for every leaf of a plain, *unresolved* config that interpolates."""
    out = {}
    for path in leaves(node):
        value = _at(node, path)
        if isinstance(value, str) and "${" in value:
            out[".".join(path)] = value
    return out


def schema_for(path: tuple[str, ...], data: dict[str, Any]) -> type[BaseModel] | None:
    """The schema that declares the keys of the node at ``path`` (() for the top level), or None."""
    if not path:
        return Config
    if len(path) == 1 and path[0] in REGISTRIES:
        return REGISTRIES[path[0]].schema_for(data.get(path[0]))
    return FIXED.get(path[0]) if len(path) == 1 else None


def declared(path: tuple[str, ...], data: dict[str, Any]) -> bool:
    """Whether the key at ``path`` (e.g. ("task", "frequency")) is declared by the schema in use."""
    schema = schema_for(path[:-1], data)
    return schema is not None and path[-1] in keys_of(schema)


def leaves(node: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """The path of every leaf of a plain config (lists are leaves)."""
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from leaves(value, (*prefix, str(key)))
    elif prefix:
        yield prefix


def _at(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        node = node[key]
    return node


# ---- one line per problem --------------------------------------------------------------------------
def _key_path(loc: tuple[Any, ...], data: Any) -> tuple[str, ...]:
    """The config keys of an error location: up to a list's item, the list (it is one value)."""
    path, node = [], data
    for part in loc:
        if not isinstance(node, dict):
            break
        path.append(str(part))
        node = node.get(part)
    return tuple(path)


def _bounds(meta: list[Any]) -> tuple[str, bool]:
    """The bounds in ``meta`` (annotated_types Gt, Ge, Lt, Le) as text, and whether both ends are set."""
    b = {k: getattr(m, k) for m in meta for k in ("gt", "ge", "lt", "le") if getattr(m, k, None) is not None}
    lo, hi = b.get("gt", b.get("ge")), b.get("lt", b.get("le"))
    if lo is not None and hi is not None:
        return f"in {'(' if 'gt' in b else '['}{lo}, {hi}{')' if 'lt' in b else ']'}", True
    if lo is not None:
        return f"{'>' if 'gt' in b else '>='} {lo}", False
    return (f"{'<' if 'lt' in b else '<='} {hi}", False) if hi is not None else ("", False)


def allowed(annotation: Any, meta: list[Any]) -> str:
    """What a field allows, in words, from its type and pydantic constraints."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is typing.Annotated:  # a list's items, an Optional's value
        inner = [m for a in args[1:] for m in (a.metadata if isinstance(a, FieldInfo) else [a])]
        return allowed(args[0], [*meta, *inner])
    if type(None) in args:
        return allowed(next(a for a in args if a is not type(None)), meta) + ", or null"
    if typing.get_origin(annotation) is Literal:
        return ", ".join(str(a) for a in args)
    if annotation is bool:
        return "true or false"
    bounds, both = _bounds(meta)
    if annotation is int:
        return "a positive integer" if bounds == ">= 1" else f"an integer {bounds}".rstrip()
    if annotation is float:
        return f"a number {bounds}" if both else f"a finite number {bounds}".rstrip()
    return "a string" if annotation is str else "a valid value"


def _field(path: tuple[str, ...], data: dict[str, Any]) -> FieldInfo | None:
    schema = schema_for(path[:-1], data)
    fields = {f.alias or k: f for k, f in schema.model_fields.items()} if schema else {}
    return fields.get(path[-1]) if path else None


def _line(error: dict[str, Any], data: dict[str, Any], prefix: tuple[str, ...]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    path = _key_path((*prefix, *error["loc"]), data)
    key = ".".join(path)
    if kind == RULE:
        return ctx["message"]
    if kind == "missing":
        return f"{key} is missing; set it on the command line (+{key}=...)"
    if kind == "extra_forbidden":
        schema = schema_for(path[:-1], data)
        section = ".".join(path[:-1]) or "the config"
        known = f"; {section} has: {', '.join(sorted(keys_of(schema)))}" if schema else ""
        return f"{key} is not a known setting{known}"
    field, value = _field(path, data), _at(data, path)
    if field is None:  # not expected: every key's field is found
        return f"{key}: {error['msg']}, got {value!r}"
    what = field.description or allowed(field.annotation, field.metadata)
    if any(getattr(m, "pattern", None) for m in field.metadata) or (
            typing.get_origin(field.annotation) is Literal and not field.description):
        return f"{key}={value!r} is not known; choose one of: {what}"
    text = field.annotation is str and isinstance(value, (int, float)) and not isinstance(value, bool)
    hint = f"; to give a number as text, quote it: {key}=\"'{value}'\"" if text else ""
    return f"{key} must be {what}, got {value!r}{hint}"


def describe(e: ValidationError, data: dict[str, Any], origins: Optional[dict[str, str]] = None,
             prefix: tuple[str, ...] = ()) -> str:
    """The first problem as one line: where its values came from (a ${...}), and which other keys
    have problems too. ``prefix``: where the validated node sits in ``data``."""
    errors = e.errors(include_url=False)
    line = _line(errors[0], data, prefix)
    named = [key for key in (origins or {}) if re.search(rf"(?<![\w.]){re.escape(key)}(?![\w])", line)]
    if named:
        line += " (" + "; ".join(f"{key} is {origins[key]}" for key in named) + ")"
    if len(errors) > 1:
        others = sorted({".".join(_key_path((*prefix, *err["loc"]), data)) or "the config" for err in errors[1:]})
        line += f" (also check: {', '.join(others)})"
    return " ".join(line.split())
