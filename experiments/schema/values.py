"""The value types the schema is written in: each says what it allows, in words.

A field is declared as ``Annotated[<python type>, <Check>]``: the python type documents it, the
``Check`` validates it (strictly: no string is read as a number, no number as a bool) and
names what is allowed for the one-line error, e.g. ``optimizer.lr must be a finite number > 0,
got -0.01``. Every check is a plain function of the value, so the schema imports neither torch
nor the code it configures.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from pydantic_core import PydanticCustomError, core_schema

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"

# pydantic error types of the one-line messages (experiments.schema.errors formats them)
VALUE, CHOICE, RULE = "config_value", "config_choice", "config_rule"


def group_options(group: str) -> tuple[str, ...]:
    """The options of a config group (configs/<group>/*.yaml); tests keep them equal to the
    registries in experiments.builders and models, which import torch."""
    return tuple(sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml")))


class Check:
    """A rule for one value: ``ok(value)`` decides, ``allowed`` says in words what passes."""

    def __init__(self, allowed: str, ok: Callable[[Any], bool], kind: str = VALUE, text: bool = False) -> None:
        self.allowed, self.ok, self.kind = allowed, ok, kind
        self.text = text  # a string value: a number given for it gets a hint to quote it

    def or_null(self) -> "Check":
        return Check(f"{self.allowed}, or null", lambda v: v is None or self.ok(v), self.kind, self.text)

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(self.validate)

    def validate(self, value: Any) -> Any:
        try:
            good = bool(self.ok(value))
        except (TypeError, ValueError, OverflowError):
            good = False
        if not good:
            raise PydanticCustomError(self.kind, "must be {allowed}", {"allowed": self.allowed, "text": self.text})
        return value

    def __repr__(self) -> str:
        return f"Check({self.allowed!r})"


def rule(message: str) -> PydanticCustomError:
    """A broken rule between keys, as a complete one-line message (raise it from a validator)."""
    return PydanticCustomError(RULE, "{message}", {"message": message})


# ---- numbers -------------------------------------------------------------------------------------
def is_number(v: Any) -> bool:
    """An int or a finite float; never a bool or a string."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def is_integer(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _bounds_text(gt: Any, ge: Any, lt: Any, le: Any) -> str:
    lo, hi = (gt if gt is not None else ge), (lt if lt is not None else le)
    if lo is not None and hi is not None:
        return f"in {'(' if gt is not None else '['}{lo}, {hi}{')' if lt is not None else ']'}"
    if lo is not None:
        return f"{'>' if gt is not None else '>='} {lo}"
    if hi is not None:
        return f"{'<' if lt is not None else '<='} {hi}"
    return ""


def _in_bounds(v: Any, gt: Any, ge: Any, lt: Any, le: Any) -> bool:
    return ((gt is None or v > gt) and (ge is None or v >= ge) and (lt is None or v < lt)
            and (le is None or v <= le))


def number(*, gt: Optional[float] = None, ge: Optional[float] = None, lt: Optional[float] = None,
           le: Optional[float] = None) -> Check:
    """A finite number (int or float) within the given bounds."""
    bounds = _bounds_text(gt, ge, lt, le)
    allowed = f"a number {bounds}" if bounds.startswith("in") else f"a finite number {bounds}".rstrip()
    return Check(allowed, lambda v: is_number(v) and _in_bounds(v, gt, ge, lt, le))


def integer(*, ge: Optional[int] = None, le: Optional[int] = None) -> Check:
    """A whole number (an int, not 2.0) within the given bounds."""
    if ge == 1 and le is None:
        allowed = "a positive integer"
    else:
        allowed = f"an integer {_bounds_text(None, ge, None, le)}".rstrip()
    return Check(allowed, lambda v: is_integer(v) and _in_bounds(v, None, ge, None, le))


POSITIVE = number(gt=0)
NON_NEGATIVE = number(ge=0)
FINITE = number()
FRACTION = number(gt=0, le=1)            # (0, 1]
OPEN_FRACTION = number(gt=0, lt=1)       # (0, 1)
POSITIVE_INT = integer(ge=1)
NON_NEGATIVE_INT = integer(ge=0)

# ---- everything else -----------------------------------------------------------------------------
BOOL = Check("true or false", lambda v: isinstance(v, bool))


def choice(options: Sequence[str]) -> Check:
    """One of the given strings (a config-group option, a mode, ...)."""
    options = tuple(options)
    return Check(", ".join(options), lambda v: isinstance(v, str) and v in options, kind=CHOICE)


def matching(pattern: str, allowed: str) -> Check:
    """A string matching ``pattern`` (fully), described to the user as ``allowed``."""
    compiled = re.compile(pattern)
    return Check(allowed, lambda v: isinstance(v, str) and compiled.fullmatch(v) is not None, kind=CHOICE)


def _name_ok(v: Any, max_bytes: int) -> bool:
    return (isinstance(v, str) and v.strip() != "" and "/" not in v and "\0" not in v and v not in (".", "..")
            and len(v.encode()) <= max_bytes)


def name(max_bytes: int = 255) -> Check:
    """A non-empty string usable as one directory name (no '/', at most ``max_bytes`` bytes)."""
    return Check(f"a non-empty name without '/' of at most {max_bytes} bytes (it names a directory)",
                 lambda v: _name_ok(v, max_bytes), text=True)


PATH = Check("a path (a non-empty string of at most 4096 bytes)",
             lambda v: isinstance(v, str) and v.strip() != "" and "\0" not in v and len(v.encode()) <= 4096, text=True)


def list_of(item: Check, *, length: Optional[int] = None, min_length: int = 1, what: str = "") -> Check:
    """A list whose every item passes ``item``; of exactly ``length`` items, or at least ``min_length``."""
    count = f"{length}" if length is not None else f"{min_length} or more" if min_length > 1 else "one or more"
    allowed = what or f"a list of {count} items, each {item.allowed}"

    def ok(v: Any) -> bool:
        if not isinstance(v, (list, tuple)):
            return False
        if (length is not None and len(v) != length) or len(v) < min_length:
            return False
        return all(item.ok(x) for x in v)

    return Check(allowed, ok)
