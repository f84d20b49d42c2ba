"""Test-only probes into a real training run (a helper module, not a test).

``Probe(monkeypatch)`` wraps what ``experiments.trainer`` builds, on the built *instances*, so
it keeps working whatever classes the task and the schedule are:

* the task's ``train_batches(epoch)`` -> ``probe.epoch``, the 0-based epoch being trained;
* the task's ``loss`` -> the training batches (``record_batches``), an optional ``loss_hook``
  that may change the loss (e.g. scale it per rank), and the "train" phase;
* the task's ``evaluate`` -> the inputs the model sees in each evaluation (``record_batches``)
  and the "eval" phase;
* the schedule's ``observe`` -> every value it is given, with the epoch and the rate of
  param group 0 at that moment (the rate the batch's optimizer step used);
* the task's ``build_model`` -> the model, and with ``modes`` a global forward pre-hook that
  counts the ``training`` flag of each of the model's modules in every forward pass, by phase and
  epoch (other modules, e.g. torchvision's transforms, are not counted).

Use it as a context manager; the global hook is removed on exit.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import pytest
import torch


@dataclass
class Observation:
    epoch: Optional[int]  # 0-based
    loss: float
    lr: Optional[float]  # param group 0's rate when observe() was called


@dataclass
class Probe:
    monkeypatch: pytest.MonkeyPatch
    record_batches: bool = False
    modes: bool = False
    loss_hook: Optional[Callable[[torch.Tensor], torch.Tensor]] = None

    epoch: Optional[int] = None
    phase: Optional[str] = None
    evaluations: int = 0
    observed: list[Observation] = field(default_factory=list)
    train_batches: list[tuple[int, Any]] = field(default_factory=list)  # (epoch, batch)
    eval_inputs: list[list[torch.Tensor]] = field(default_factory=list)  # per evaluation, the model's inputs
    # (phase, epoch for "train" / evaluation number for "eval", module.training) -> forward calls
    forward_modes: Counter = field(default_factory=Counter)
    tasks: list[Any] = field(default_factory=list)
    models: list[torch.nn.Module] = field(default_factory=list)
    _model_modules: set[int] = field(default_factory=set)
    schedules: list[Any] = field(default_factory=list)
    _handle: Any = None

    def __enter__(self) -> "Probe":
        import experiments.builders
        import experiments.trainer

        for module in (experiments.trainer, experiments.builders):
            for name, wrap in (("build_task", self._wrap_task), ("build_schedule", self._wrap_schedule)):
                real = getattr(module, name, None)
                if real is not None and not getattr(real, "_probe", False):
                    self.monkeypatch.setattr(module, name, self._builder(real, wrap))
        if self.modes:
            self._handle = torch.nn.modules.module.register_module_forward_pre_hook(self._forward_hook)
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    # ---- wrappers ------------------------------------------------------------------------
    @staticmethod
    def _builder(real: Callable[..., Any], wrap: Callable[[Any], Any]) -> Callable[..., Any]:
        def build(*args: Any, **kwargs: Any) -> Any:
            return wrap(real(*args, **kwargs))

        build._probe = True  # type: ignore[attr-defined]
        return build

    def _wrap_task(self, task: Any) -> Any:
        probe = self
        self.tasks.append(task)
        train_batches, loss, evaluate, build_model = task.train_batches, task.loss, task.evaluate, task.build_model

        def probed_build_model(*args: Any, **kwargs: Any) -> torch.nn.Module:
            model = build_model(*args, **kwargs)
            probe.models.append(model)
            probe._model_modules.update(id(m) for m in model.modules())
            return model

        def probed_train_batches(epoch: int) -> Any:
            probe.epoch = epoch
            return train_batches(epoch)

        def probed_loss(model: torch.nn.Module, batch: Any) -> torch.Tensor:
            if probe.record_batches:
                probe.train_batches.append((probe.epoch, _detach(batch)))
            probe.phase = "train"
            try:
                value = loss(model, batch)
            finally:
                probe.phase = None
            return probe.loss_hook(value) if probe.loss_hook is not None else value

        def probed_evaluate(model: torch.nn.Module) -> dict[str, float]:
            inputs: list[torch.Tensor] = []
            handle = model.register_forward_pre_hook(lambda m, args: inputs.append(args[0].detach().clone()))
            probe.phase = "eval"
            try:
                return evaluate(model)
            finally:
                probe.phase = None
                handle.remove()
                probe.evaluations += 1
                if probe.record_batches:
                    probe.eval_inputs.append(inputs)

        task.train_batches, task.loss, task.evaluate = probed_train_batches, probed_loss, probed_evaluate
        task.build_model = probed_build_model
        return task

    def _wrap_schedule(self, schedule: Any) -> Any:
        probe = self
        self.schedules.append(schedule)
        observe = schedule.observe
        optimizer = getattr(schedule, "optimizer", None)

        def probed_observe(loss: Any, *args: Any, **kwargs: Any) -> Any:
            lr = float(optimizer.param_groups[0]["lr"]) if optimizer is not None else None
            value = float(loss.detach()) if isinstance(loss, torch.Tensor) else float(loss)
            probe.observed.append(Observation(probe.epoch, value, lr))
            return observe(loss, *args, **kwargs)

        schedule.observe = probed_observe
        return schedule

    def _forward_hook(self, module: torch.nn.Module, args: Any) -> None:
        if id(module) not in self._model_modules:
            return
        if self.phase == "train":
            self.forward_modes[("train", self.epoch, module.training)] += 1
        elif self.phase == "eval":
            self.forward_modes[("eval", self.evaluations, module.training)] += 1

    # ---- views ---------------------------------------------------------------------------
    def losses_by_epoch(self) -> dict[int, list[float]]:
        out: dict[int, list[float]] = {}
        for o in self.observed:
            out.setdefault(o.epoch, []).append(o.loss)
        return out


def _detach(batch: Any) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.detach().clone()
    if isinstance(batch, (tuple, list)):
        return type(batch)(_detach(b) for b in batch)
    return batch
