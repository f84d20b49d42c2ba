"""The schema of the whole config: every key of every config group, with its type and what it allows.

One module per group: ``task`` (helmholtz, mnist, fashion_mnist, cifar10), ``model``, ``optimizer``, ``schedule``
(one schema per scheduler class), ``trainer``, ``paths``; the top-level keys and the rules
between groups in ``config``; the value types in ``values``. pydantic validates the resolved
config against it (``validate``) and every problem becomes one line naming the key, the bad value
and what is allowed (``SchemaError``). A key that a config file has and the schema does not is an
error too, so a new key cannot slip in unchecked (tests/test_schema.py composes every preset).

Renaming or adding a key in configs/: change its one line in the group's module here.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Optional

from pydantic import BaseModel, ValidationError

from .base import keys_of
from .config import FIXED, REGISTRIES, Config
from .values import CHOICE, CONFIG_DIR, RULE, VALUE, group_options

__all__ = ["CONFIG_DIR", "Config", "SchemaError", "declared", "group_options", "interpolations", "leaves", "schema_for",
           "validate"]


class SchemaError(ValueError):
    """The config breaks the schema; ``str()`` is one line for the user."""


def validate(data: dict[str, Any], origins: Optional[dict[str, str]] = None) -> Config:
    """The validated config; SchemaError (one line) for the first problem in ``data``, which is the
    plain, resolved config (``OmegaConf.to_container(cfg, resolve=True)``). ``origins`` maps keys
    whose value came from a ${...} to that text, so the line can say where a bad value came from."""
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise SchemaError(describe(e, data, origins or {})) from None


def interpolations(node: Any) -> dict[str, str]:
    """{dotted key: its ${...} text} for every leaf of a plain, *unresolved* config that interpolates."""
    out = {}
    for path in leaves(node):
        value = node
        for key in path:
            value = value[key]
        if isinstance(value, str) and "${" in value:
            out[".".join(path)] = value
    return out


def schema_for(path: tuple[str, ...], data: dict[str, Any]) -> type[BaseModel] | None:
    """The schema that declares the keys of the node at ``path`` (() for the top level), or None."""
    schema: type[BaseModel] | None = Config
    node: Any = data
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
        if schema is Config and key in REGISTRIES:
            schema = REGISTRIES[key].schema_for(node)
        elif schema is Config and key in FIXED:
            schema = FIXED[key]
        else:
            return None
    return schema


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


# ---- one line per problem --------------------------------------------------------------------------
def _key_path(loc: tuple[Any, ...], data: Any) -> tuple[str, ...]:
    """The config keys of an error location, without the union tags pydantic puts in between."""
    path, node = [], data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            path.append(str(part))
            node = node[part]
        elif i == len(loc) - 1:
            path.append(str(part))  # a missing or undeclared key
    return tuple(path)


def _line(error: dict[str, Any], data: dict[str, Any]) -> str:
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    path = _key_path(error["loc"], data)
    key = ".".join(path)
    if kind == RULE:
        return ctx["message"]
    if kind == CHOICE and "key" in ctx:  # a group's schema is picked by this key (a union tag)
        key, value = f"{key}.{ctx['key']}", value.get(ctx["key"]) if isinstance(value, dict) else value
    if kind == CHOICE:
        return f"{key}={value!r} is not known; choose one of: {ctx['allowed']}"
    if kind == VALUE:
        quote = ctx.get("text") and isinstance(value, (int, float)) and not isinstance(value, bool)
        hint = f"; to give a number as text, quote it: {key}=\"'{value}'\"" if quote else ""
        return f"{key} must be {ctx['allowed']}, got {value!r}{hint}"
    if kind == "missing":
        return f"{key} is missing; set it on the command line (+{key}=...)"
    if kind == "extra_forbidden":
        schema = schema_for(path[:-1], data)
        section = ".".join(path[:-1]) or "the config"
        known = f"; {section} has: {', '.join(sorted(keys_of(schema)))}" if schema else ""
        return f"{key} is not a known setting{known}"
    return f"{key}: {error['msg']}, got {value!r}"  # not expected: every field has its own check


def describe(e: ValidationError, data: dict[str, Any], origins: Optional[dict[str, str]] = None) -> str:
    """The first problem as one line: where its values came from (a ${...}), and which other keys
    have problems too."""
    errors = e.errors(include_url=False)
    line = _line(errors[0], data)
    named = [key for key in (origins or {}) if re.search(rf"(?<![\w.]){re.escape(key)}(?![\w])", line)]
    if named:
        line += " (" + "; ".join(f"{key} is {origins[key]}" for key in named) + ")"
    if len(errors) > 1:
        others = sorted({".".join(_key_path(err["loc"], data)) or "the config" for err in errors[1:]})
        line += f" (also check: {', '.join(others)})"
    return " ".join(line.split())
