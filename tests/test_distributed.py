"""DistributedDataParallel through torchrun: two CPU processes (gloo) on a tiny PINN run.

Two ranks with batch 50 each must train exactly like one process with batch 100: DDP averages
the gradients of the two half-batches, and DLRS averages their losses over ranks.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from conftest import CLI_TIMEOUT, run_group
from experiments.run import CONFIG_DIR
from experiments.schema import option
from experiments.tasks.base import TaskContext
from experiments.tasks.helmholtz import Helmholtz

ROOT = Path(__file__).resolve().parents[1]
LR0 = 0.005  # the helmholtz task's initial rate
TINY = ["task.n_points=200", "trainer.epochs=3", "trainer.device=cpu", "trainer.progress=log", "schedule=dlrs"]


def _run_dir(runs: Path) -> Path:
    (summary,) = runs.glob("*/*/summary.json")
    return summary.parent


def _reference_run(runs: Path) -> Path:
    """The same run in this process, world size 1, with the two ranks' batches merged."""
    from hydra import compose, initialize_config_dir

    from experiments.trainer import train

    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[*TINY, "task.batch_size=100", f"paths.runs={runs}"])
    assert "RANK" not in os.environ
    train(cfg)
    return _run_dir(runs)


def _torchrun_env(**extra: str) -> dict[str, str]:
    """This environment without a torchrun job's variables (torchrun sets its own), one thread a rank."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    return {**env, "OMP_NUM_THREADS": "1", **extra}


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    runs = tmp_path_factory.mktemp("ddp")
    env = _torchrun_env()
    proc = run_group(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "experiments.run", *TINY, "task.batch_size=50", f"paths.runs={runs}"],
        CLI_TIMEOUT, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = _run_dir(runs)
    return SimpleNamespace(proc=proc, run_dir=run_dir, summary=json.loads((run_dir / "summary.json").read_text()))


@pytest.mark.slow
def test_ranks_agree_and_only_rank0_reports(ddp_run: SimpleNamespace) -> None:
    summary = ddp_run.summary
    assert summary["status"] == "completed" and summary["world_size"] == 2 and summary["epochs_completed"] == 3
    ranks = summary["ranks"]
    assert ranks["agree"] is True
    assert ranks["weight_sum"][0] == ranks["weight_sum"][1]
    assert ranks["weight_sq_sum"][0] == ranks["weight_sq_sum"][1]
    assert ranks["lr"][0] == ranks["lr"][1]
    # 200 points / 2 ranks / batch 50: each rank sees half of the 4 batches of a single process
    assert ranks["batches_last_epoch"] == [2, 2]
    assert ddp_run.proc.stdout.count("run completed") == 1  # the other rank stays quiet


@pytest.mark.slow
def test_dlrs_moves_the_rate_on_every_rank(ddp_run: SimpleNamespace) -> None:
    with open(ddp_run.run_dir / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]  # one writer: no duplicated rows
    assert float(rows[0]["lr"]) == LR0
    assert all(r["dlrs_regime"] for r in rows)
    lrs = [float(r["lr"]) for r in rows] + [ddp_run.summary["ranks"]["lr"][0]]
    assert len(set(lrs)) > 1 and lrs[-1] != LR0


@pytest.mark.slow
def test_two_ranks_train_like_one_process_with_the_merged_batch(ddp_run: SimpleNamespace, tmp_path: Path) -> None:
    ref_dir = _reference_run(tmp_path / "ref")
    ddp = torch.load(ddp_run.run_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
    ref = torch.load(ref_dir / "checkpoint.pt", map_location="cpu", weights_only=False)
    assert ddp["model"].keys() == ref["model"].keys()  # rank 0 saved the unwrapped model, not DDP's
    for name, tensor in ref["model"].items():
        torch.testing.assert_close(ddp["model"][name], tensor, rtol=1e-4, atol=1e-6, msg=name)
    ddp_lr, ref_lr = ddp["optimizer"]["param_groups"][0]["lr"], ref["optimizer"]["param_groups"][0]["lr"]
    assert ddp_lr == pytest.approx(ref_lr, rel=1e-5) and ref_lr != LR0
    for a, b in zip(ddp["rows"], ref["rows"]):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-4)
        assert a["lr"] == pytest.approx(b["lr"], rel=1e-5)


# Run by torchrun on each rank: train, recording what is still alive when the group is destroyed.
# Automatic collection is off, so only the trainer's own cleanup can free objects held in cycles.
_TEARDOWN_PROBE = """
import gc, json, os, sys
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from hydra import compose, initialize_config_dir
from experiments.trainer import train

gc.disable()
seen = []
destroy = dist.destroy_process_group

def recording_destroy(*args, **kwargs):
    seen.append(sum(isinstance(o, DistributedDataParallel) for o in gc.get_objects()))
    return destroy(*args, **kwargs)

dist.destroy_process_group = recording_destroy
config_dir, runs, out, *overrides = sys.argv[1:]
with initialize_config_dir(config_dir=config_dir, version_base="1.3"):
    cfg = compose(config_name="config", overrides=[*overrides, f"paths.runs={runs}"])
train(cfg)
with open(f"{out}.{os.environ['RANK']}", "w") as f:
    json.dump(seen, f)
"""


@pytest.mark.slow
def test_each_rank_frees_its_ddp_wrapper_before_destroying_the_group(tmp_path: Path) -> None:
    """DDP's reducer holds the process group and sits in reference cycles: left to the interpreter's
    exit, gloo's threads can abort the process after a finished run (CI saw exit -6 on one rank)."""
    probe = tmp_path / "probe.py"
    probe.write_text(_TEARDOWN_PROBE)
    env = _torchrun_env(PYTHONPATH=str(ROOT))
    out = tmp_path / "alive"
    proc = run_group([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(probe),
                      str(CONFIG_DIR), str(tmp_path / "runs"), str(out), *TINY, "task.batch_size=50"],
                     CLI_TIMEOUT, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert [json.loads(Path(f"{out}.{rank}").read_text()) for rank in (0, 1)] == [[0], [0]]


def test_helmholtz_shards_are_disjoint_halves() -> None:
    cfg = option("task", "helmholtz", n_points=200, batch_size=50)
    shards = [torch.cat(list(Helmholtz(cfg, TaskContext(torch.device("cpu"), 7, r, 2)).train_batches(3)))
              for r in range(2)]
    whole = torch.cat(list(Helmholtz(cfg, TaskContext(torch.device("cpu"), 7)).train_batches(3)))
    assert [len(s) for s in shards] == [100, 100]
    assert set(shards[0].flatten().tolist()).isdisjoint(shards[1].flatten().tolist())
    assert sorted(torch.cat(shards).flatten().tolist()) == sorted(whole.flatten().tolist())
