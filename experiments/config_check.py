"""Start-up validation: every mistake in a config becomes one UserError line, before any
file is written or any data is loaded. Torch-free, so a typo costs a second, not an import."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from .errors import UserError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"

PRECISIONS = ("fp32", "bf16")
PROGRESS = ("auto", "bar", "log", "none")
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?|mps)$")


def group_options(group: str) -> tuple[str, ...]:
    """The options of a config group (configs/<group>/*.yaml); tests keep them equal to the
    registries in experiments.builders and models, which import torch."""
    return tuple(sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml")))


def _choice(value: Any, allowed: Any, key: str) -> None:
    if value not in allowed:
        raise UserError(f"{key}={value!r} is not known; choose one of: {', '.join(map(str, allowed))}")


def _positive(value: Any, key: str, integer: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    if ok and integer and int(value) != value:
        ok = False
    if not ok:
        kind = "a positive integer" if integer else "a finite number > 0"
        raise UserError(f"{key} must be {kind}, got {value!r}")


def _non_negative(value: Any, key: str) -> None:
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0):
        raise UserError(f"{key} must be a finite number >= 0, got {value!r}")


def check_config(cfg: DictConfig) -> None:
    """Raise UserError for the first invalid value in ``cfg``."""
    try:
        _check(cfg)
    except OmegaConfBaseException as e:  # a missing value or an interpolation that does not resolve
        key = getattr(e, "full_key", None)
        message = str(e).strip().splitlines()[0]
        raise UserError(f"{key}: {message}; set it on the command line ({key}=...)" if key else message) from None


def _check(cfg: DictConfig) -> None:
    for group in ("task", "model", "schedule", "optimizer"):
        _choice(cfg[group].name, group_options(group), f"{group}.name")
    if (cfg.task.name == "helmholtz") != (cfg.model.name == "pinn_mlp"):
        raise UserError(f"model={cfg.model.name} does not fit task={cfg.task.name}: "
                        "the helmholtz task uses model=pinn_mlp, image tasks use an image model")
    if cfg.model.name == "mnist_cnn" and cfg.task.name not in ("mnist", "fashion_mnist"):
        raise UserError(f"model=mnist_cnn takes 28x28 images and does not fit task={cfg.task.name}; "
                        "use it with task=mnist or task=fashion_mnist, or pick another model")

    t = cfg.trainer
    _positive(t.epochs, "trainer.epochs", integer=True)
    if not isinstance(t.seed, int) or isinstance(t.seed, bool) or t.seed < 0:
        raise UserError(f"trainer.seed must be an integer >= 0, got {t.seed!r}")
    if not isinstance(t.device, str) or not _DEVICE.match(t.device):
        raise UserError(f"trainer.device={t.device!r} is not known; use auto, cpu, cuda, cuda:N or mps")
    _choice(t.precision, PRECISIONS, "trainer.precision")
    _choice(t.progress, PROGRESS, "trainer.progress")
    if not isinstance(t.checkpoint_every, int) or t.checkpoint_every < 0:
        raise UserError(f"trainer.checkpoint_every must be an integer >= 0, got {t.checkpoint_every!r}")

    _positive(cfg.optimizer.lr, "optimizer.lr")
    _non_negative(cfg.optimizer.weight_decay, "optimizer.weight_decay")
    _positive(cfg.task.batch_size, "task.batch_size", integer=True)
    if "test_batch_size" in cfg.task:
        _positive(cfg.task.test_batch_size, "task.test_batch_size", integer=True)
    if cfg.task.get("subset") is not None:
        _positive(cfg.task.subset, "task.subset", integer=True)
    if cfg.task.name == "helmholtz":
        _positive(cfg.task.frequency, "task.frequency")
        _positive(cfg.task.n_points, "task.n_points", integer=True)
        speed = cfg.task.get("speed_of_sound", 340.0)
        _positive(speed, "task.speed_of_sound")
        # the task checks this too, but only when a sweep reaches the run: catch it at start-up
        if abs(math.sin(2 * math.pi * cfg.task.frequency / speed)) < 1e-6:
            raise UserError(f"task.frequency={cfg.task.frequency:g} is a multiple of c/2 = {speed / 2:g} Hz, where the "
                            "exact solution is undefined (sin k = 0); pick another frequency")
    if cfg.task.get("test_subset") is not None:
        _positive(cfg.task.test_subset, "task.test_subset", integer=True)

    o = cfg.optimizer
    if "betas" in o:
        betas = list(o.betas)
        if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
            raise UserError(f"optimizer.betas must be two numbers in [0, 1), got {betas!r}")
    if "momentum" in o:
        _non_negative(o.momentum, "optimizer.momentum")
    _check_schedule(cfg)


def _fraction(value: Any, key: str, allow_one: bool = True) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value and (
        value <= 1 if allow_one else value < 1)
    if not ok:
        raise UserError(f"{key} must be a number in (0, {'1]' if allow_one else '1)'}, got {value!r}")


def _check_schedule(cfg: DictConfig) -> None:
    s, lr, epochs = cfg.schedule, cfg.optimizer.lr, cfg.trainer.epochs
    if not isinstance(s.warmup_epochs, int) or isinstance(s.warmup_epochs, bool) or not 0 <= s.warmup_epochs < epochs:
        raise UserError(f"schedule.warmup_epochs must be an integer in [0, trainer.epochs={epochs}), "
                        f"got {s.warmup_epochs!r}")
    _fraction(s.warmup_start_factor, "schedule.warmup_start_factor")
    if s.get("_target_") == "dlrs.DLRS":  # the paper's rule and its ablations (dlrs_symmetric)
        for key in ("delta_d", "delta_o", "delta_i"):
            _non_negative(s[key], f"schedule.{key}")
        _positive(s.min_lr, "schedule.min_lr")
        _positive(s.max_lr, "schedule.max_lr")
        if s.min_lr >= s.max_lr:
            raise UserError(f"schedule.min_lr ({s.min_lr}) must be < schedule.max_lr ({s.max_lr})")
    elif s.name in ("dlrs_authors_pinn", "dlrs_authors_cifar"):
        _positive(s.min_lr, "schedule.min_lr")
        for key in ("delta_d", "delta_i", "max_lr"):
            if key in s:
                _non_negative(s[key], f"schedule.{key}")
        if "max_lr" in s and s.min_lr >= s.max_lr:
            raise UserError(f"schedule.min_lr ({s.min_lr}) must be < schedule.max_lr ({s.max_lr})")
    elif s.name == "adacomp":
        _positive(s.window, "schedule.window", integer=True)
        _non_negative(s.eps, "schedule.eps")
    elif s.name == "cosine":
        _positive(s.T_max, "schedule.T_max", integer=True)
        _non_negative(s.eta_min, "schedule.eta_min")
        if s.eta_min > lr:
            raise UserError(f"schedule.eta_min ({s.eta_min:g}) is above the initial rate optimizer.lr ({lr:g}); "
                            "cosine annealing goes down to eta_min")
    elif s.name == "exponential":
        if (s.gamma is None) == (s.final_lr is None):
            raise UserError("schedule: give exactly one of schedule.gamma and schedule.final_lr "
                            f"(got gamma={s.gamma}, final_lr={s.final_lr}); set the other to null")
        if s.gamma is not None:
            _fraction(s.gamma, "schedule.gamma")
        else:
            _positive(s.final_lr, "schedule.final_lr")
            _positive(s.over_epochs, "schedule.over_epochs", integer=True)
            if s.final_lr > lr:
                raise UserError(f"schedule.final_lr ({s.final_lr:g}) is above the initial rate optimizer.lr "
                                f"({lr:g}); exponential decay goes down to it")
    elif s.name == "step":
        _positive(s.step_size, "schedule.step_size", integer=True)
        _fraction(s.gamma, "schedule.gamma")
    elif s.name == "plateau":
        _choice(s.mode, ("min",), "schedule.mode")  # it watches the training loss
        _fraction(s.factor, "schedule.factor", allow_one=False)
        if not isinstance(s.patience, int) or isinstance(s.patience, bool) or s.patience < 0:
            raise UserError(f"schedule.patience must be an integer >= 0, got {s.patience!r}")
        _non_negative(s.threshold, "schedule.threshold")
        _non_negative(s.min_lr, "schedule.min_lr")
        if s.min_lr > lr:
            raise UserError(f"schedule.min_lr ({s.min_lr:g}) is above the initial rate optimizer.lr ({lr:g})")
    elif s.name == "replay":
        _check_replay(s.metrics_csv, epochs)


def _check_replay(path: Any, epochs: int) -> None:
    from .schedules import read_lr_column  # imports torch only when replay is chosen

    if not isinstance(path, str) or not Path(path).is_file():
        raise UserError(f"schedule.metrics_csv={path!r} is not a file; give the metrics.csv of the run to replay")
    try:
        rates = read_lr_column(Path(path))
    except (OSError, UnicodeDecodeError, ValueError, KeyError) as e:
        raise UserError(f"schedule.metrics_csv={path}: cannot read its lr column ({e})") from None
    if len(rates) < epochs:
        raise UserError(f"schedule.metrics_csv={path} has {len(rates)} epochs of rates, fewer than "
                        f"trainer.epochs={epochs}; replay a longer run or set trainer.epochs={len(rates)}")
