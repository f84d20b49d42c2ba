"""DLRS under PyTorch Lightning (the `lightning` extra): the callback, a scheduler returned from
configure_optimizers, and resuming from Lightning checkpoints. A tiny model on the CPU."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Optional

import pytest
import torch
from torch.optim.lr_scheduler import LinearLR, SequentialLR

try:
    import lightning.pytorch as L
except ImportError:  # CI installs the extra, so there it must be an error, not a skip
    if os.environ.get("CI", "").lower() == "true":
        raise
    pytest.skip("needs the lightning extra: pip install -e '.[lightning]'", allow_module_level=True)

from dlrs import DLRS, dlrs_lr
from dlrs.integrations.lightning import DLRSCallback, LossSchedulerCallback

BATCHES = 4  # per epoch


def close(x: float) -> object:
    return pytest.approx(x, rel=1e-12, abs=0.0)


class Tiny(L.LightningModule):
    """Linear regression; records each batch's loss and the rate it was trained with."""

    def __init__(self, register: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Linear(4, 1)
        self.register = register  # return DLRS from configure_optimizers and observe here
        self.losses: list[list[float]] = []
        self.rates: list[float] = []

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        if self.register:
            self.lr_schedulers().observe(loss)
        if batch_idx == 0:
            self.losses.append([])
            self.rates.append(self.trainer.optimizers[0].param_groups[0]["lr"])
        assert self.trainer.optimizers[0].param_groups[0]["lr"] == self.rates[-1]  # one rate per epoch
        self.losses[-1].append(float(loss.detach()))  # the test's own record
        return {"loss": loss}

    def configure_optimizers(self) -> Any:
        opt = torch.optim.Adam(self.parameters(), lr=5e-3)
        if self.register:
            return {"optimizer": opt, "lr_scheduler": {"scheduler": DLRS(opt, delta_i=0.5), "interval": "epoch"}}
        return opt


def loader() -> torch.utils.data.DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16 * BATCHES, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1 * torch.randn(16 * BATCHES, 1, generator=g)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)


def fit(model: Tiny, root: Path, epochs: int, callbacks: list, ckpt_path: Optional[Path] = None,
        checkpoints: bool = False) -> L.Trainer:
    if checkpoints:
        callbacks = [*callbacks, L.callbacks.ModelCheckpoint(dirpath=root / "ckpt", filename="{epoch}",
                                                             save_top_k=-1, every_n_epochs=1)]
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=checkpoints, callbacks=callbacks,
                        default_root_dir=root, num_sanity_val_steps=0)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*does not have many workers.*")
        warnings.filterwarnings("ignore", ".*LeafSpec.*")
        warnings.filterwarnings("ignore", ".*dirpath has changed.*")
        trainer.fit(model, loader(), ckpt_path=ckpt_path)
    return trainer


def expected_rates(start: float, losses: list[list[float]], **kwargs: float) -> list[float]:
    rates = [start]
    for window in losses:
        rates.append(dlrs_lr(rates[-1], window, **kwargs))
    return rates


def test_callback_moves_the_rate_by_the_rule(tmp_path: Path) -> None:
    model, callback = Tiny(), DLRSCallback(delta_i=0.5)
    fit(model, tmp_path, epochs=4, callbacks=[callback])
    assert [len(w) for w in model.losses] == [BATCHES] * 4
    expected = expected_rates(5e-3, model.losses, delta_i=0.5)
    assert model.rates == [close(r) for r in expected[:4]]
    assert callback.scheduler.get_last_lr() == [close(expected[4])] and callback.scheduler.last_epoch == 4
    assert len(set(model.rates)) == 4  # it moved every epoch


def test_callback_resumes_from_a_lightning_checkpoint(tmp_path: Path) -> None:
    straight = Tiny()
    callback = DLRSCallback(delta_i=0.5)
    fit(straight, tmp_path / "a", epochs=4, callbacks=[callback], checkpoints=True)
    ckpt = tmp_path / "a" / "ckpt" / "epoch=1.ckpt"  # written after the second epoch's step
    saved = torch.load(ckpt, weights_only=True)["callbacks"]
    (state,) = [v["scheduler"] for k, v in saved.items() if k.startswith("DLRSCallback")]
    assert state["last_epoch"] == 2 and state["last_lr"] == [close(straight.rates[2])]

    resumed, callback2 = Tiny(), DLRSCallback(delta_i=0.5)
    fit(resumed, tmp_path / "b", epochs=4, callbacks=[callback2], ckpt_path=ckpt, checkpoints=True)
    assert resumed.rates == straight.rates[2:] and resumed.losses == straight.losses[2:]
    assert callback2.scheduler.get_last_lr() == callback.scheduler.get_last_lr()
    assert callback2.scheduler.last_epoch == 4


def test_callback_state_round_trip_keeps_a_partial_window() -> None:
    callback = DLRSCallback()
    callback.load_state_dict({"scheduler": None})
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.005)
    source = DLRSCallback()
    source.scheduler = DLRS(opt)
    source.scheduler.observe(torch.tensor(2.0))
    state = source.state_dict()
    callback.load_state_dict(state)  # before fit start: kept until the optimizer exists
    assert callback.state_dict() == state

    class FakeTrainer:
        lr_scheduler_configs: list = []
        optimizers = [torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.9)]

    callback.on_fit_start(FakeTrainer(), None)
    assert callback.scheduler.state_dict()["window"] == [2.0] and callback.scheduler.get_last_lr() == [0.005]


def test_callback_observes_without_reading_the_device() -> None:
    callback = DLRSCallback()

    class FakeTrainer:
        lr_scheduler_configs: list = []
        optimizers = [torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)]

    callback.on_fit_start(FakeTrainer(), None)
    meta = torch.tensor(1.0, device="meta")  # any read of a meta tensor raises
    callback.on_train_batch_end(None, None, {"loss": meta}, None, 0)
    callback.on_train_batch_end(None, None, meta, None, 1)
    callback.on_train_batch_end(None, None, None, None, 2)  # a skipped batch
    assert len(callback.scheduler._window) == 2


def test_scheduler_returned_from_configure_optimizers(tmp_path: Path) -> None:
    model = Tiny(register=True)
    trainer = fit(model, tmp_path, epochs=3, callbacks=[], checkpoints=True)
    (config,) = trainer.lr_scheduler_configs
    assert isinstance(config.scheduler, DLRS) and config.interval == "epoch"  # Lightning took it as it is
    expected = expected_rates(5e-3, model.losses, delta_i=0.5)
    assert model.rates == [close(r) for r in expected[:3]]
    assert config.scheduler.get_last_lr() == [close(expected[3])]
    # Lightning checkpoints it, and resumes it
    ckpt = tmp_path / "ckpt" / "epoch=0.ckpt"
    assert torch.load(ckpt, weights_only=True)["lr_schedulers"][0]["last_epoch"] == 1
    resumed = Tiny(register=True)
    fit(resumed, tmp_path / "b", epochs=3, callbacks=[], ckpt_path=ckpt, checkpoints=True)
    assert resumed.rates == model.rates[1:]


def test_callback_checks_its_arguments_at_once() -> None:
    with pytest.raises(ValueError, match="min_lr"):
        DLRSCallback(min_lr=1.0, max_lr=0.5)
    with pytest.raises(TypeError):
        DLRSCallback(delta=0.1)


def test_lightning_callback_checks_the_new_options_at_construction() -> None:
    DLRSCallback(slope="epoch_mean", every=10)
    with pytest.raises(ValueError, match="slope"):
        DLRSCallback(slope="median")
    with pytest.raises(ValueError, match="every"):
        DLRSCallback(every=0)


def test_callback_refuses_a_scheduler_lightning_already_steps(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="configure_optimizers already returns DLRS"):
        fit(Tiny(register=True), tmp_path, epochs=1, callbacks=[DLRSCallback()])


def test_callback_with_a_warmup_sequence(tmp_path: Path) -> None:
    def build(opt: torch.optim.Optimizer) -> SequentialLR:
        return SequentialLR(opt, [LinearLR(opt, start_factor=0.1, total_iters=2), DLRS(opt)], milestones=[2])

    model, callback = Tiny(), LossSchedulerCallback(build)
    fit(model, tmp_path, epochs=5, callbacks=[callback])
    # LinearLR for epochs 0 and 1; the hand-over (end of epoch 1) keeps the rate it left;
    # then DLRS updates from epoch 2's losses on, ignoring what it was shown during the warm-up.
    expected = [5e-4, 5e-3 * (0.1 + 0.9 / 2)]
    expected.append(expected[-1])
    for window in model.losses[2:4]:
        expected.append(dlrs_lr(expected[-1], window))
    assert model.rates == [close(r) for r in expected]
