"""What every group's schema is written in: pydantic models with pydantic's own strict,
finite-number and bound constraints, and the registry that picks a group's schema from its config.

A field says what it allows through its constraints (``Field(gt=0)``, ``Literal[...]``), or, where
words say it better, through its ``description`` (experiments.schema.describe turns either into
the one-line message). A scheduler, optimizer or image model without a schema of its own is
checked against the signature of the class its ``_target_`` names.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from pathlib import Path
from typing import Annotated, Any, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from ..errors import UserError

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
RULE = "config_rule"  # the error type of a broken rule between keys: its message is the whole line


class SchemaError(UserError):
    """The config breaks the schema; ``str()`` is one line for the user."""


def group_options(group: str) -> tuple[str, ...]:
    """The options of a config group (configs/<group>/*.yaml)."""
    return tuple(sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml")))


def rule(message: str) -> PydanticCustomError:
    """A broken rule between keys, as a complete one-line message (raise it from a validator)."""
    return PydanticCustomError(RULE, "{message}", {"message": message})


class Group(BaseModel):
    """One config node: every key declared (an undeclared key is an error), values strict (no
    string read as a number, no number as a bool) and finite. A rule that needs another group is
    not here but in experiments/schema/config.py, which imports every group (never the reverse)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def _text(max_bytes: int, what: str, directory: bool = False) -> Any:
    """A non-empty string of at most ``max_bytes`` bytes (and one directory's name), described as ``what``."""
    def ok(v: str) -> str:
        if not v.strip() or "\0" in v or len(v.encode()) > max_bytes or directory and ("/" in v or v in (".", "..")):
            raise ValueError(what)
        return v
    return Annotated[str, AfterValidator(ok), Field(description=what)]


PATH = _text(4096, "a path (a non-empty string of at most 4096 bytes)")


def name(max_bytes: int = 255) -> Any:
    """A string usable as one directory name."""
    return _text(max_bytes, f"a non-empty name without '/' of at most {max_bytes} bytes (it names a directory)", True)


Finite = float
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(gt=0, le=1)]           # (0, 1]
OpenFraction = Annotated[float, Field(gt=0, lt=1)]       # (0, 1)
PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]


def _true(v: bool) -> bool:
    if v is not True:
        raise ValueError("true")
    return v


# Literal[True] would let 1 and 1.0 through (they equal True); a strict bool that must be true does not
TRUE = Annotated[bool, AfterValidator(_true)]
Betas = Annotated[list[Annotated[float, Field(ge=0, lt=1)]],
                  Field(min_length=2, max_length=2, description="two numbers in [0, 1)")]


def keys_of(model: type[BaseModel]) -> list[str]:
    """The config keys a schema declares (aliases such as ``_target_`` included)."""
    return [field.alias or key for key, field in model.model_fields.items()]


def import_target(target: str) -> Any:
    """The class a ``_target_`` names (``package.module.Class``)."""
    module, _, attribute = target.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


@functools.lru_cache(maxsize=None)
def signature_schema(base: type[Group], target: str, supplied: tuple[str, ...]) -> type[Group]:
    """``base``'s keys plus every parameter of the class ``target`` names, required where the class
    has no default; ``supplied`` are the parameters the harness passes in (the optimizer, ...)."""
    parameters = inspect.signature(import_target(target)).parameters.values()
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    fields: dict[str, Any] = {
        p.name: (Any, ... if p.default is inspect.Parameter.empty else p.default) for p in parameters
        if p.kind in named and p.name not in supplied and p.name not in base.model_fields}
    return create_model(target.rpartition(".")[2], __base__=base, **fields)


class Registry:
    """The schemas of one config group, picked by the value of one key (``name`` or ``_target_``);
    with a ``base``, any other importable ``_target_`` gets its signature's schema."""

    def __init__(self, group: str, key: str, schemas: dict[str, type[Group]], base: Optional[type[Group]] = None,
                 supplied: tuple[str, ...] = ()) -> None:
        self.group, self.key, self.schemas, self.base, self.supplied = group, key, dict(schemas), base, supplied

    def pick(self, node: Any) -> type[Group]:
        """The schema for ``node``; SchemaError (one line) if there is none."""
        tag = node.get(self.key) if isinstance(node, dict) else None
        if isinstance(tag, str) and tag in self.schemas:
            return self.schemas[tag]
        key = f"{self.group}.{self.key}"
        where = f"{key} is missing" if tag is None else f"{key}={tag!r} is not known"
        if self.base is None:
            raise SchemaError(f"{where}; choose one of: {', '.join(self.schemas)}")
        if not isinstance(tag, str):
            raise SchemaError(f"{where}; give the class to build, as package.module.Class")
        try:
            return signature_schema(self.base, tag, self.supplied)
        except (ImportError, AttributeError, ValueError, TypeError) as e:
            raise SchemaError(f"{where}: it does not name an importable class ({type(e).__name__}: "
                              f"{' '.join(str(e).split())})") from None

    def schema_for(self, node: Any) -> type[Group] | None:
        """The schema for ``node``, or None."""
        try:
            return self.pick(node)
        except SchemaError:
            return None
