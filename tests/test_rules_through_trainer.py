"""The schedules' rules, end to end through the trainer: the batch losses each schedule observes
are recorded (tests/probes.py wraps the built schedule's ``observe``), and the rates in
``metrics.csv`` (its ``lr`` is the rate *used* in that epoch) must follow ``dlrs_lr`` epoch by
epoch, and ``adacomp_lr`` every ``window`` steps counted over the whole run, to the last bit of
float rounding. The same under two ranks (torchrun, gloo, CPU) with a loss that differs per rank
(rank r's loss times 1 + r), so that every average over ranks must be a true mean: DLRS's window,
Adacomp's window ends and the trainer's epoch loss.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Sequence

import pytest

from conftest import CLI_TIMEOUT, REPO, cli_env, compose_config, one_run_dir, read_metrics, run_group
from dlrs import adacomp_lr, dlrs_decision
from experiments.fixtures import write_mnist
from experiments.io import load_checkpoint
from experiments.trainer import train
from probes import Probe

EXACT = 1e-12  # relative: only a different order of float rounding may differ
BATCHES = 4  # the tiny PINN: n_points=200 / batch_size=50
DLRS_KEYS = ("delta_d", "delta_o", "delta_i", "min_lr", "max_lr")


def _dlrs_params(cfg) -> dict[str, float]:
    return {k: float(cfg.schedule[k]) for k in DLRS_KEYS}


def _final_lr(run_dir: Path) -> float:
    return float(load_checkpoint(run_dir / "checkpoint.pt")["optimizer"]["param_groups"][0]["lr"])


def check_dlrs(rows: list[dict[str, str]], windows: Sequence[Sequence[float]], lr0: float,
               params: dict[str, float]) -> float:
    """metrics.csv against the rule applied to each epoch's window; returns the rate after the run."""
    assert len(rows) == len(windows)
    lr = lr0
    for row, window in zip(rows, windows):
        assert float(row["lr"]) == pytest.approx(lr, rel=EXACT, abs=0), f"epoch {row['epoch']}"
        decision = dlrs_decision(lr, window, **params)
        assert row["dlrs_regime"] == decision.regime, f"epoch {row['epoch']}"
        assert float(row["dlrs_slope"]) == pytest.approx(decision.slope, rel=EXACT, abs=0), f"epoch {row['epoch']}"
        lr = decision.lr
    return lr


def adacomp_rates(lr0: float, losses: Sequence[float], window: int, eps: float) -> tuple[list[float], float]:
    """SPEC §2 over the whole run: the rate each step used, and the rate after the last step."""
    lr, used, first, previous_last = lr0, [], None, None
    for i, loss in enumerate(losses):
        used.append(lr)
        if i % window == 0:
            first = loss
        if (i + 1) % window == 0:
            reference = first if previous_last is None else previous_last
            lr = adacomp_lr(lr, reference - loss, eps=eps)
            previous_last = loss
    return used, lr


def _by_epoch(observed: Sequence[dict], epochs: int) -> list[list[dict]]:
    out: list[list[dict]] = [[] for _ in range(epochs)]
    for o in observed:
        out[o["epoch"]].append(o)
    return out


# ---- one process -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mnist")
    write_mnist(root, n_train=32, n_test=16)
    return root


DLRS_RUNS = {
    "helmholtz": (["schedule=dlrs", "trainer.epochs=6"], True, BATCHES),
    "mnist": (["task=mnist", "model=mnist_cnn", "schedule=dlrs", "trainer.epochs=4", "task.subset=32",
               "task.batch_size=8", "task.test_subset=16", "task.test_batch_size=16", "task.download=false",
               "trainer.device=cpu", "trainer.progress=none"], False, 4),
}


@pytest.mark.parametrize("task", list(DLRS_RUNS))
def test_dlrs_rates_in_metrics_follow_dlrs_lr(task: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              mnist_root: Path) -> None:
    overrides, tiny, batches = DLRS_RUNS[task]
    cfg = compose_config([*overrides, f"paths.runs={tmp_path}", f"paths.data={mnist_root}"], tiny=tiny)
    with Probe(monkeypatch) as probe:
        assert train(cfg)["status"] == "completed"
    run_dir = one_run_dir(tmp_path)
    rows = read_metrics(run_dir)
    epochs = int(cfg.trainer.epochs)
    observed = _by_epoch([vars(o) for o in probe.observed], epochs)
    assert [len(w) for w in observed] == [batches] * epochs, "one observe() per batch, all inside their epoch"
    windows = [[o["loss"] for o in w] for w in observed]
    final = check_dlrs(rows, windows, float(cfg.optimizer.lr), _dlrs_params(cfg))
    assert _final_lr(run_dir) == pytest.approx(final, rel=EXACT, abs=0)
    for row, window in zip(rows, observed):
        assert {o["lr"] for o in window} == {float(row["lr"])}, "the rate stays put inside an epoch"
        mean = math.fsum(o["loss"] for o in window) / len(window)
        assert float(row["train_loss"]) == pytest.approx(mean, rel=1e-6)
    assert len({float(r["lr"]) for r in rows}) > epochs // 2, "the rule moved the rate: the check is not vacuous"


def test_adacomp_rates_follow_adacomp_lr_every_window_over_the_run(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # window 3 with 4 batches per epoch: windows straddle epoch ends, as they must
    # Adam: plain SGD at the PINN's rate diverges at once (the rule does not depend on the optimizer)
    cfg = compose_config(["schedule=adacomp", "optimizer=adam", "schedule.window=3", "trainer.epochs=5",
                          f"paths.runs={tmp_path}"])
    with Probe(monkeypatch) as probe:
        assert train(cfg)["status"] == "completed"
    run_dir = one_run_dir(tmp_path)
    losses, used = [o.loss for o in probe.observed], [o.lr for o in probe.observed]
    assert len(losses) == 5 * BATCHES
    expected, final = adacomp_rates(float(cfg.optimizer.lr), losses, int(cfg.schedule.window),
                                    float(cfg.schedule.eps))
    assert used == pytest.approx(expected, rel=EXACT, abs=0), "the rate each optimizer step used"
    rows = read_metrics(run_dir)
    assert [float(r["lr"]) for r in rows] == pytest.approx(expected[::BATCHES], rel=EXACT, abs=0)
    assert _final_lr(run_dir) == pytest.approx(final, rel=EXACT, abs=0)
    assert len({*expected, final}) == 1 + len(losses) // 3, "every window changed the rate"


# ---- two ranks ---------------------------------------------------------------------------------
DDP_BASE = ["task.n_points=200", "task.batch_size=50"]  # per rank: 100 points, 2 batches of 50
DDP_RUNS = {"dlrs": ["schedule=dlrs", "trainer.epochs=4"],
            "adacomp": ["schedule=adacomp", "optimizer=adam", "schedule.window=3", "trainer.epochs=6"]}


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, SimpleNamespace]:
    """Both schedules trained by one torchrun job of two CPU ranks (tests/ddp_probe.py)."""
    out = tmp_path_factory.mktemp("two_ranks")
    configs = [[*DDP_BASE, *extra, f"paths.runs={out / name}"] for name, extra in DDP_RUNS.items()]
    proc = run_group(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         str(REPO / "tests" / "ddp_probe.py"), str(out), json.dumps(configs)],
        CLI_TIMEOUT, cwd=REPO, env=cli_env())
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    runs = {}
    for i, (name, extra) in enumerate(DDP_RUNS.items()):
        ranks = [json.loads((out / f"rank{r}-{i}.json").read_text()) for r in range(2)]
        cfg = compose_config([*DDP_BASE, *extra])
        run_dir = one_run_dir(out / name)
        runs[name] = SimpleNamespace(ranks=ranks, cfg=cfg, run_dir=run_dir, rows=read_metrics(run_dir),
                                     summary=json.loads((run_dir / "summary.json").read_text()))
    return runs


def _rank_losses(run: SimpleNamespace) -> list[list[float]]:
    losses = [[o["loss"] for o in rank["observed"]] for rank in run.ranks]
    assert len(losses[0]) == len(losses[1]) > 0
    # the ranks' losses differ (rank 1's are scaled up): an average over ranks is visible
    assert all(b > 1.5 * a for a, b in zip(*losses))
    return losses


def _mean_over_ranks(losses: list[list[float]]) -> list[float]:
    return [(a + b) / 2 for a, b in zip(*losses)]


@pytest.mark.slow
def test_two_ranks_dlrs_rate_follows_dlrs_lr_on_the_mean_over_ranks(two_ranks: dict) -> None:
    run = two_ranks["dlrs"]
    epochs = int(run.cfg.trainer.epochs)
    assert run.summary["status"] == "completed" and run.summary["world_size"] == 2
    losses = _rank_losses(run)
    per_epoch = len(losses[0]) // epochs
    assert per_epoch == 2 and {o["epoch"] for o in run.ranks[0]["observed"]} == set(range(epochs))
    mean = _mean_over_ranks(losses)
    windows = [mean[e * per_epoch:(e + 1) * per_epoch] for e in range(epochs)]
    final = check_dlrs(run.rows, windows, float(run.cfg.optimizer.lr), _dlrs_params(run.cfg))
    assert run.summary["ranks"]["lr"] == pytest.approx([final, final], rel=EXACT, abs=0)
    assert run.summary["ranks"]["agree"] is True
    for rank in run.ranks:  # each rank's optimizer steps used the rate in metrics.csv
        for row, window in zip(run.rows, _by_epoch(rank["observed"], epochs)):
            assert {o["lr"] for o in window} == {float(row["lr"])}


@pytest.mark.slow
def test_two_ranks_epoch_loss_is_the_mean_over_ranks_and_batches(two_ranks: dict) -> None:
    for run in two_ranks.values():
        epochs = int(run.cfg.trainer.epochs)
        by_epoch = [_by_epoch(rank["observed"], epochs) for rank in run.ranks]
        for e, row in enumerate(run.rows):
            values = [o["loss"] for rank in by_epoch for o in rank[e]]
            assert len(values) == 4
            assert float(row["train_loss"]) == pytest.approx(math.fsum(values) / len(values), rel=1e-6)


@pytest.mark.slow
def test_two_ranks_adacomp_rate_follows_adacomp_lr_on_the_mean_over_ranks(two_ranks: dict) -> None:
    run = two_ranks["adacomp"]
    assert run.summary["status"] == "completed"
    losses = _rank_losses(run)
    expected, final = adacomp_rates(float(run.cfg.optimizer.lr), _mean_over_ranks(losses),
                                    int(run.cfg.schedule.window), float(run.cfg.schedule.eps))
    for rank in run.ranks:
        assert [o["lr"] for o in rank["observed"]] == pytest.approx(expected, rel=EXACT, abs=0), f"rank {rank['rank']}"
    per_epoch = len(losses[0]) // int(run.cfg.trainer.epochs)
    assert [float(r["lr"]) for r in run.rows] == pytest.approx(expected[::per_epoch], rel=EXACT, abs=0)
    assert run.summary["ranks"]["lr"] == pytest.approx([final, final], rel=EXACT, abs=0)
    assert len({*expected, final}) == 1 + len(losses[0]) // int(run.cfg.schedule.window), "every window moved it"
