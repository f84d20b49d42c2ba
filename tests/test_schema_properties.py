"""Property tests of the one-line contract: random wrong values (wrong type, out of range, negative,
huge, NaN and other strings) for random keys of random presets and group options. Whatever the
value, ``check_command_line`` (what ``python -m experiments.run`` checks before a job starts) either
accepts it or raises one UserError line that names the key; a value of the wrong kind is always
refused; and a value it accepts is one torch and the task accept too.

Deterministic by default (``derandomize``); ``HYPOTHESIS_PROFILE=explore`` draws new examples, more
of them. tests/test_schema_cli.py runs a handful through the real command line.
"""

from __future__ import annotations

import math
import os
import re
from functools import lru_cache
from typing import Any

import pytest
import torch
from hydra import compose, initialize_config_dir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf

from conftest import CONFIG_DIR, PRESETS
from experiments.config_check import resolve
from experiments.errors import UserError
from experiments.run import check_command_line
from experiments.schema import group_options, leaves

BASES = ([()] + [(f"+experiment={p}",) for p in PRESETS] + [(f"+experiment={p}", "+scale=smoke") for p in PRESETS]
         + [(f"schedule={s}",) for s in group_options("schedule") if s != "replay"]
         + [("task=mnist", "model=mnist_cnn"), ("task=cifar10",), ("task=fashion_mnist",), ("optimizer=sgd",)])

EXPLORE = os.environ.get("HYPOTHESIS_PROFILE") == "explore"
CHECKS = settings(max_examples=1000 if EXPLORE else 25, derandomize=not EXPLORE, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# what a user might type where the value belongs
WORDS = ["abc", "NaN", "nan", "-nan", "inf", "-inf", "1e999", "-1e999", "null", "''", "' '", "'nan'", "'1.5'", "true",
         "false", "[]", "[1,2]", "[a,b]", "[0.5,-1]", "{a:1}", "x/y", "tpu", "fp16", "..", "1_000", "0x10", "1e-400",
         "${task.nope}", "${trainer.seed}"]
NUMBERS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from([0, -1, 1, 2, 2**63 - 1, 2**63, 2**64, 10**20, -(2**63) - 1]).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from([0.0, -0.0, 0.5, 1.0, -0.5, 1.5, 1e-300, 1e308, -1e308, 5e-324]).map(repr),
)
VALUES = st.one_of(st.sampled_from(WORDS), NUMBERS)


@lru_cache(maxsize=None)
def _base(base: tuple[str, ...]) -> tuple[list[str], dict[str, Any]]:
    """The keys of a base config and their resolved values."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(base))
    raw = OmegaConf.to_container(cfg, resolve=False)
    values = {".".join(path): _get(resolve(cfg), path) for path in leaves(raw)}
    return sorted(values), values


def _get(node: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        node = node[key]
    return node


def _parsed(override: str) -> Any:
    """The value Hydra reads from ``key=value`` (after our own parse check passed)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    value = OverridesParser.create().parse_overrides([override])[0].value()
    return OmegaConf.to_container(OmegaConf.create({"v": value}), resolve=False)["v"] if value is not None else None


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _same_kind(original: Any, new: Any) -> bool:
    if _number(original):
        return _number(new) and math.isfinite(new)
    for kind in (bool, str, list):
        if isinstance(original, kind):
            return isinstance(new, kind)
    return True  # an optional key (null): either


def _torch_accepts(cfg: Any, key: str) -> None:
    """What the schema accepted, torch and the task accept: build what the key configures."""
    from experiments.builders import build_optimizer, build_schedule, build_task
    from experiments.config_check import check_config
    from experiments.tasks.base import TaskContext

    group = key.split(".")[0]
    if group in ("optimizer", "schedule") or key in ("task.lr", "task.min_lr", "task.max_lr"):
        optimizer = build_optimizer(check_config(cfg), [torch.nn.Parameter(torch.zeros(2))])
        build_schedule(check_config(cfg), optimizer)
    small = cfg.task.name == "helmholtz" and cfg.task.n_points <= 20_000 and cfg.task.eval_points <= 20_000
    if group in ("task", "model") and small and sum(cfg.model.hidden) <= 1_000:
        config = check_config(cfg)
        task = build_task(config.task, TaskContext(torch.device("cpu"), config.trainer.seed))
        model = task.build_model(config.model)
        task.loss(model, next(iter(task.train_batches(0)))).backward()
        task.evaluate(model)


@CHECKS
@given(data=st.data())
def test_any_value_for_any_key_is_accepted_or_refused_in_one_line(data: st.DataObject) -> None:
    base = data.draw(st.sampled_from(BASES), label="base")
    keys, values = _base(base)
    key = data.draw(st.sampled_from(keys), label="key")
    value = data.draw(VALUES, label="value")
    args = [*base, f"{key}={value}"]
    try:
        ((_, cfg),) = check_command_line(args)
    except UserError as e:
        message = str(e)
        assert message and "\n" not in message and "Traceback" not in message, message
        assert key in message, f"{args}: {message}"
        return
    new = _parsed(f"{key}={value}")
    # a name or path given as a number (run_name=NaN) is taken as its text, a ${...} as what it
    # resolves to: what counts is what the run gets
    if isinstance(values[key], str) and isinstance(OmegaConf.select(cfg, key), str) or "${" in value:
        new = OmegaConf.select(cfg, key)
    assert _same_kind(values[key], new), f"{args} accepted: {new!r} for a {type(values[key]).__name__}"
    _torch_accepts(cfg, key)


@settings(CHECKS, max_examples=100 if EXPLORE else 6)
@given(data=st.data())
def test_sweeps_of_wrong_values_name_the_job(data: st.DataObject) -> None:
    """The same, as the second value of a -m sweep: the line names the job."""
    keys, values = _base(())
    key = data.draw(st.sampled_from([k for k in keys if _number(values[k])]), label="key")
    value = data.draw(st.sampled_from(["abc", "nan", "-inf", "[1,2]", "'7'", "true"]), label="value")
    with pytest.raises(UserError) as error:
        check_command_line(["-m", "trainer.device=cpu,auto", f"{key}={values[key]},{value}"])
    message = str(error.value)
    assert "\n" not in message and key in message, message
    assert re.search(rf"\(sweep job 2 of 4: [^)]*{re.escape(key)}=", message), message
