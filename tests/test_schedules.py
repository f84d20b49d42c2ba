"""The harness's schedules (configs/schedule/*.yaml built with hydra.utils.instantiate):
every one builds from its config, follows its rule, survives a state_dict round trip, and
resumes to identical metrics through the trainer."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch

from experiments.builders import build_optimizer, build_schedule
from experiments.config_check import check_config, group_options

from conftest import killed_in_epoch, read_metrics

EPOCHS = 8
# these unit tests drive schedules without optimizer steps, which torch warns about
pytestmark = pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before")


def _make(compose, schedule: str, *overrides: str):
    config = check_config(compose([f"schedule={schedule}", f"trainer.epochs={EPOCHS}", *overrides]))
    model = torch.nn.Linear(2, 1)
    optimizer = build_optimizer(config, model.parameters())
    return config, optimizer, build_schedule(config, optimizer)


def _drive(schedule, optimizer, losses_per_epoch):
    """Feed each epoch's batch losses; return the rate used in each epoch."""
    used = []
    for losses in losses_per_epoch:
        used.append(optimizer.param_groups[0]["lr"])
        for loss in losses:
            schedule.observe(torch.tensor(loss))
        schedule.step(sum(losses) / len(losses))
    return used


def _losses(epochs: int, seed: int = 0) -> list[list[float]]:
    gen = torch.Generator().manual_seed(seed)
    return [(1.0 + torch.rand(5, generator=gen)).tolist() for _ in range(epochs)]


def _replay_csv(tmp_path: Path, rates: list[float]) -> Path:
    path = tmp_path / "metrics.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "lr", "train_loss"])
        writer.writerows([i + 1, r, 1.0] for i, r in enumerate(rates))
    return path


def _overrides(name: str, tmp_path: Path) -> list[str]:
    if name == "replay":
        rates = [0.005 / (i + 1) for i in range(EPOCHS)]
        return [f"schedule.metrics_csv={_replay_csv(tmp_path, rates)}"]
    return []


@pytest.mark.parametrize("name", group_options("schedule"))
def test_every_schedule_builds_and_round_trips(name, compose, tmp_path) -> None:
    """Built from its YAML; after a state_dict round trip half-way, the rates continue identically."""
    extra = _overrides(name, tmp_path)
    losses = _losses(EPOCHS)
    _, opt_a, sched_a = _make(compose, name, *extra)
    reference = _drive(sched_a, opt_a, losses)

    _, opt_b, sched_b = _make(compose, name, *extra)
    first = _drive(sched_b, opt_b, losses[:4])
    state, opt_state = sched_b.state_dict(), opt_b.state_dict()
    _, opt_c, sched_c = _make(compose, name, *extra)
    opt_c.load_state_dict(opt_state)
    sched_c.load_state_dict(state)
    assert first + _drive(sched_c, opt_c, losses[4:]) == reference
    assert all(math.isfinite(r) and r > 0 for r in reference)


def test_cosine_goes_from_the_rate_to_eta_min(compose) -> None:
    _, opt, sched = _make(compose, "cosine", "schedule.eta_min=1e-4")
    used = _drive(sched, opt, _losses(EPOCHS))
    assert used[0] == 0.005
    assert used == sorted(used, reverse=True)
    assert opt.param_groups[0]["lr"] == pytest.approx(1e-4)  # after the last epoch: T_max = trainer.epochs


def test_exponential_reaches_its_final_rate_and_stays(compose) -> None:
    _, opt, sched = _make(compose, "exponential", "schedule.final_lr=5e-5", "schedule.over_epochs=4")
    used = _drive(sched, opt, _losses(EPOCHS))
    assert used[:5] == pytest.approx([0.005 * 0.01 ** (e / 4) for e in range(5)], rel=1e-12)
    assert used[4:] == pytest.approx([5e-5] * 4, rel=1e-12)


def test_exponential_by_factor(compose) -> None:
    _, opt, sched = _make(compose, "exponential", "schedule.final_lr=null", "schedule.gamma=0.5")
    assert _drive(sched, opt, _losses(4)) == pytest.approx([0.005, 0.0025, 0.00125, 0.000625], rel=1e-12)


def test_step_multiplies_every_step_size_epochs(compose) -> None:
    _, opt, sched = _make(compose, "step", "schedule.step_size=3", "schedule.gamma=0.1")
    assert _drive(sched, opt, _losses(7)) == pytest.approx([5e-3] * 3 + [5e-4] * 3 + [5e-5], rel=1e-12)


def test_plateau_watches_the_mean_training_loss(compose) -> None:
    """The epoch means decide: falling means keep the rate; `patience` flat epochs halve it."""
    _, opt, sched = _make(compose, "plateau", "schedule.patience=1", "schedule.factor=0.5")
    # the batch losses rise within every epoch (DLRS would cut), but the epoch means fall, then stall:
    # epochs 4 and 5 bring no improvement, more than patience=1, so epoch 6 runs at half the rate
    epochs = [[1.0, 3.0], [0.5, 2.5], [0.25, 2.25], [0.25, 2.25], [0.25, 2.25], [0.25, 2.25]]
    assert _drive(sched, opt, epochs) == pytest.approx([5e-3] * 5 + [2.5e-3], rel=1e-12)


def test_replay_copies_the_rates_exactly(compose, tmp_path) -> None:
    rates = [0.004, 0.0031234567891234, 1e-4, 0.007, 0.002, 0.002, 0.001, 5.55e-5]
    path = _replay_csv(tmp_path, rates)
    _, opt, sched = _make(compose, "replay", f"schedule.metrics_csv={path}")
    assert _drive(sched, opt, _losses(EPOCHS)) == rates  # exact: no rescaling through the base rate


def test_warmup_is_a_prefix_for_any_schedule(compose) -> None:
    """Linear warm-up over 3 epochs, then DLRS from the full rate, seeing only post-warm-up losses."""
    from dlrs import dlrs_lr

    _, opt, sched = _make(compose, "dlrs", "schedule.warmup_epochs=3", "schedule.warmup_start_factor=0.25")
    losses = _losses(6)
    used = _drive(sched, opt, losses)
    assert used[:4] == pytest.approx([0.00125, 0.0025, 0.00375, 0.005], rel=1e-12)
    expected = dlrs_lr(0.005, losses[3], min_lr=5.55e-5, max_lr=9e-3)
    assert used[4] == pytest.approx(expected, rel=1e-12)
    assert used[5] == pytest.approx(dlrs_lr(expected, losses[4], min_lr=5.55e-5, max_lr=9e-3), rel=1e-12)


@pytest.mark.parametrize("name", ["cosine", "exponential", "step", "plateau", "replay"])
def test_trainer_resumes_each_schedule_to_identical_metrics(name, compose, tmp_path, monkeypatch) -> None:
    """A crash after the epoch-2 checkpoint (as SIGKILL would leave it), then the same command:
    metrics.csv equals that of an uninterrupted run, the rate column included."""
    from experiments import trainer as trainer_module

    extra = _overrides(name, tmp_path) + ["schedule.step_size=2", "schedule.patience=0", "schedule.threshold=0.5",
                                          "trainer.epochs=5",
                                          "trainer.checkpoint_every=2", "task.n_points=100"]
    extra = [o for o in extra if o.split("=")[0].split(".")[-1] in _keys(compose, name) or "schedule." not in o]

    def run(results: Path) -> Path:
        cfg = compose([f"schedule={name}", f"paths.results={results}", *extra])
        trainer_module.train(cfg)
        return Path(cfg.run_dir)

    reference = read_metrics(run(tmp_path / "a"))
    killed_in_epoch(monkeypatch, lambda: run(tmp_path / "b"), 3)
    resumed = read_metrics(run(tmp_path / "b"))
    assert resumed == reference
    assert len({r["lr"] for r in reference}) > 1, "the schedule should have moved the rate"


def _keys(compose, name: str) -> set[str]:
    return set(compose([f"schedule={name}"]).schedule)


def test_replay_of_a_shorter_run_is_one_error_line(run_cli, tmp_path) -> None:
    path = _replay_csv(tmp_path, [0.005, 0.004, 0.003])
    proc = run_cli(["schedule=replay", f"schedule.metrics_csv={path}", "trainer.epochs=4"], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"error: schedule.metrics_csv={path} has 3 epochs of rates, fewer than trainer.epochs=4; "
        "replay a longer run or set trainer.epochs=3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv"], "nothing may be written"
