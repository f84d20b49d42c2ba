"""Helmholtz PINN: exact solution, trial solution, forward-mode derivatives, task plumbing."""

from __future__ import annotations

import csv
import math

import pytest
import torch

from experiments.errors import UserError
from experiments.schema import option
from experiments.tasks.base import TaskContext
from experiments.tasks.helmholtz import (
    Helmholtz,
    exact_solution,
    residual_loss,
    trial_second_derivative,
    trial_solution,
    wavenumber,
)
from models.pinn_mlp import PINNMLP

F64 = torch.float64


def make_task(seed: int = 50, rank: int = 0, world_size: int = 1, **over) -> Helmholtz:
    """The task of configs/task/helmholtz.yaml on 200 points in batches of 64, with ``over``."""
    cfg = option("task", "helmholtz", **{"n_points": 200, "batch_size": 64, **over})
    return Helmholtz(cfg, TaskContext(torch.device("cpu"), seed, rank, world_size))


MODEL_CFG = option("model", "pinn_mlp")  # 100, 100, 100 with sin, cos, sin


def test_wavenumber():
    assert wavenumber(340.0, 340.0) == pytest.approx(2 * math.pi)


@pytest.mark.parametrize("f", [250.0, 1000.0, 2000.0])
@pytest.mark.parametrize("p0,p1", [(1.0, -1.0), (0.3, 2.0)])
def test_exact_solution_solves_the_boundary_value_problem(f, p0, p1):
    k = wavenumber(f, 340.0)
    x = torch.linspace(0, 1, 101, dtype=F64, requires_grad=True)
    p = exact_solution(x, k, p0, p1)
    (dp,) = torch.autograd.grad(p.sum(), x, create_graph=True)
    (d2p,) = torch.autograd.grad(dp.sum(), x)
    scale = k * k * p.abs().max()
    assert (d2p + k * k * p).abs().max() < 1e-10 * scale
    assert p[0].item() == pytest.approx(p0, abs=1e-12)
    assert p[-1].item() == pytest.approx(p1, abs=1e-10)


def test_exact_solution_matches_spec_form():
    k = wavenumber(1000.0, 340.0)
    x = torch.linspace(0, 1, 50, dtype=F64)
    spec = torch.cos(k * x) - (1 / math.sin(k) + 1 / math.tan(k)) * torch.sin(k * x)
    torch.testing.assert_close(exact_solution(x, k, 1.0, -1.0), spec, rtol=1e-12, atol=1e-12)


def test_trial_solution_meets_boundaries_for_any_network():
    torch.manual_seed(1)
    model = PINNMLP().double()
    x = torch.tensor([[0.0], [1.0]], dtype=F64)
    p = trial_solution(x, model(x), 0.7, -2.5)
    assert p[0].item() == 0.7 and p[1].item() == -2.5


def test_forward_mode_matches_autograd():
    torch.manual_seed(2)
    model = PINNMLP().double()
    x = torch.rand(64, 1, dtype=F64, requires_grad=True)
    n, dn, d2n = model(x, order=2)
    n0 = model(x)
    (g1,) = torch.autograd.grad(n0.sum(), x, create_graph=True)
    (g2,) = torch.autograd.grad(g1.sum(), x)
    for a, b in [(n, n0), (dn, g1), (d2n, g2)]:
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    # and the trial second derivative formula agrees with differentiating p̂ directly
    p = trial_solution(x, model(x), 1.0, -1.0)
    (dp,) = torch.autograd.grad(p.sum(), x, create_graph=True)
    (d2p,) = torch.autograd.grad(dp.sum(), x)
    torch.testing.assert_close(trial_second_derivative(x, n, dn, d2n), d2p, rtol=1e-10, atol=1e-10)


def test_residual_loss_methods_agree_in_value_and_weight_gradient():
    torch.manual_seed(3)
    model = PINNMLP().double()
    x = torch.rand(32, 1, dtype=F64)
    k = wavenumber(500.0, 340.0)
    grads = []
    for method in ("forward", "autograd"):
        model.zero_grad()
        loss = residual_loss(model, x, k, 1.0, -1.0, method=method)
        loss.backward()
        grads.append((loss.detach(), [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-10, atol=0)
    for a, b in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(a, b, rtol=1e-8, atol=1e-8)


def test_model_is_glorot_initialised_and_validates():
    model = PINNMLP()
    assert [tuple(l.weight.shape) for l in model.layers] == [(100, 1), (100, 100), (100, 100), (1, 100)]
    assert all((l.bias == 0).all() for l in model.layers)
    with pytest.raises(ValueError):
        PINNMLP(hidden=[10, 10], activations=["sin"])
    with pytest.raises(ValueError):
        PINNMLP(hidden=[10], activations=["relu"])


def test_short_training_run_lowers_the_loss():
    # 100 Hz: low enough for a few hundred steps, high enough that the linear boundary
    # interpolant alone is 7 % off, so only a right second derivative passes the error check.
    task = make_task(frequency=100.0, n_points=256, batch_size=64)
    model = task.build_model(option("model", "pinn_mlp", hidden=[20, 20], activations=["sin", "cos"]))
    opt = torch.optim.Adam(model.parameters(), lr=5e-3)
    before = task.evaluate(model)
    for epoch in range(50):  # 4 batches per epoch: 200 steps
        for batch in task.train_batches(epoch):
            opt.zero_grad()
            task.loss(model, batch).backward()
            opt.step()
    after = task.evaluate(model)
    assert after["test_loss"] < 0.1 * before["test_loss"]
    assert after["rel_error"] < 0.01 < before["rel_error"]  # ~0.2 % in practice


def test_train_batches_are_deterministic_and_sharded():
    task = make_task(n_points=203, batch_size=50)
    a, b = list(task.train_batches(3)), list(make_task(n_points=203, batch_size=50).train_batches(3))
    assert [t.shape for t in a] == [(50, 1)] * 4 + [(3, 1)]
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    # task.shuffle=false (the default, the authors' code): the same batches every epoch; true: a new order
    assert torch.equal(torch.cat(a), torch.cat(list(task.train_batches(4))))
    shuffled = make_task(n_points=203, batch_size=50, shuffle=True)
    assert not torch.equal(torch.cat(list(shuffled.train_batches(3))), torch.cat(list(shuffled.train_batches(4))))
    assert torch.equal(torch.cat(list(shuffled.train_batches(3))).sort(0).values, shuffled.points.sort(0).values)
    assert torch.equal(torch.cat(a).sort(0).values, task.points.sort(0).values)  # a permutation
    shards = [torch.cat(list(make_task(rank=r, world_size=2, n_points=203, batch_size=50).train_batches(0)))
              for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 101
    assert len(set(torch.cat(shards).flatten().tolist())) == 202  # disjoint
    assert len(torch.cat(list(make_task(subset=30).train_batches(0)))) == 30


def test_evaluate_and_artifacts(tmp_path):
    task = make_task()
    model = task.build_model(MODEL_CFG)
    metrics = task.evaluate(model)
    assert set(metrics) == {"rel_error", "test_loss"} and all(math.isfinite(v) for v in metrics.values())
    paths = task.save_artifacts(model, tmp_path)
    assert {p.name for p in paths} == {"field.csv", "field.png"} and all(p.stat().st_size > 0 for p in paths)
    with open(tmp_path / "field.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1000 and float(rows[0]["x"]) == 0.0 and float(rows[-1]["x"]) == 1.0
    assert float(rows[0]["predicted"]) == pytest.approx(1.0) and float(rows[-1]["exact"]) == pytest.approx(-1.0)


def test_build_model_is_seeded():
    w = [make_task(seed=s).build_model(MODEL_CFG).layers[1].weight for s in (7, 7, 8)]
    assert torch.equal(w[0], w[1]) and not torch.equal(w[0], w[2])


@pytest.mark.parametrize("over,fragment", [
    (dict(frequency=0.0), "frequency"),
    (dict(frequency=340.0), "sin k = 0"),
    (dict(n_points=0), "n_points"),
    (dict(batch_size=-1), "batch_size"),
    (dict(derivatives="finite"), "derivatives"),
])
def test_bad_config_raises_user_error(over, fragment):
    """A hand-built task is validated by the same schema as a configured one."""
    with pytest.raises(UserError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        make_task(**over)
