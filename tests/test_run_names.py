"""Run names hold every setting given on the command line, so runs with other settings never
share a directory; runs written before a key was renamed still resume."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from conftest import compose_config, job_config, run_cli
from experiments.errors import UserError
from experiments.naming import name_with_settings, settings_label
from experiments.run import check_command_line


BASE = "helmholtz-f1000_pinn_mlp_dlrs_adam-lr0.005"


def _name(overrides: list[str]) -> str:
    return name_with_settings(job_config(overrides), overrides)


def test_names_hold_every_setting_from_the_command_line() -> None:
    assert _name([]) == f"{BASE}_s50"
    assert _name(["trainer.epochs=50"]) == f"{BASE}_epochs50_s50"
    assert _name(["trainer.epochs=50", "trainer.seed=51"]) == f"{BASE}_epochs50_s51"
    assert _name(["task.shuffle=true", "task.batch_size=50"]) == f"{BASE}_batch_size50_shuffle-True_s50"
    # a value is spelled as a sweep spells it, so a single run finds the directory its sweep job wrote
    for spelling in ("true", "True", "TRUE"):
        assert _name([f"task.shuffle={spelling}"]) == f"{BASE}_shuffle-True_s50"
    assert _name(["schedule.min_lr=1e-4"]) == _name(["schedule.min_lr=0.0001"])
    for job, _ in check_command_line(["-m", "task.shuffle=false,true", "schedule.min_lr=1e-4,1e-5"]):
        typed = [line.replace("False", "false").replace("True", "true").replace("0.0001", "1e-4") for line in job]
        assert _name(typed) == _name(job), job
    # already in the base name, where files go, execution only, the preset choice: nothing added
    assert _name(["task.frequency=2000", "schedule=static", "optimizer.lr=0.01", "trainer.seed=7"]) == \
        "helmholtz-f2000_pinn_mlp_static_adam-lr0.01_s7"
    assert _name(["+experiment=fig2", "paths.results=/tmp/r", "paths.data=/d", "trainer.device=cpu",
                  "trainer.progress=log", "trainer.checkpoint_every=5", "trainer.force=true",
                  "report.layout=pinn"]) == f"{BASE}_s50"
    assert _name(["task=mnist", "model=mnist_cnn", "task.batch_size=128"]) == "mnist-bs128_mnist_cnn_dlrs_adam-lr0.001_s50"
    # the same leaf in two sections keeps its section; long values become a short hash
    assert _name(["schedule.min_lr=1e-4"]) == f"{BASE}_schedule.min_lr0.0001_s50"
    long = _name(["schedule=replay", "schedule.metrics_csv=results/runs/default/some-long-run-name/metrics.csv"])
    assert re.fullmatch(r"helmholtz-f1000_pinn_mlp_replay_adam-lr0\.005_metrics_csv-[0-9a-f]{8}_s50", long), long
    assert _name(["+scale=smoke"]) == f"{BASE}_scale-smoke_s50"
    assert _name(["run_name=mine", "trainer.epochs=5"]) == "mine"  # chosen by hand: as it is
    assert settings_label(job_config([]), ["trainer.epochs=5", "trainer.epochs=6"]) == "epochs6"  # the last wins


def test_identity_of_runs_written_before_the_renaming() -> None:
    """Runs written with task.lr / task.epochs / task.data_root in their config.yaml still resume."""
    from experiments.trainer import run_identity

    cfg = job_config(["task=mnist"])
    old = OmegaConf.to_container(cfg, resolve=True)
    old["task"].update(lr=old["optimizer"]["lr"], epochs=old["trainer"]["epochs"], data_root="data")
    old["model"]["lr"] = 1e-3  # an old run directory, from when the MNIST CNN's rate was model.lr
    assert run_identity(OmegaConf.create(old)) == run_identity(cfg)


def test_different_config_error_names_paths_results(tmp_path: Path) -> None:
    from experiments.trainer import train

    base = ["trainer.epochs=1", f"paths.results={tmp_path}", "trainer.progress=none"]
    train(compose_config(base))
    with pytest.raises(UserError) as clash:
        train(compose_config([*base, "task.eval_points=50"]))  # in-process: the same name
    assert "paths.results=... to keep both" in str(clash.value) and "paths.runs" not in str(clash.value)


@pytest.mark.slow
def test_rerun_with_other_epochs_is_a_new_run_and_leaves_the_finished_one(tmp_path: Path) -> None:
    args = ["trainer.epochs=3", "paths.results=results"]
    first = run_cli(args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    (done,) = (tmp_path / "results" / "runs" / "default").iterdir()
    before = {p.name: p.stat().st_mtime_ns for p in done.iterdir()}
    second = run_cli(["trainer.epochs=2", "paths.results=results"], cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    names = sorted(p.name for p in (tmp_path / "results" / "runs" / "default").iterdir())
    assert len(names) == 2 and any(n.endswith("_epochs2_s50") for n in names), names
    assert {p.name: p.stat().st_mtime_ns for p in done.iterdir()} == before  # not touched
    assert json.loads((done / "summary.json").read_text())["epochs_completed"] == 3
    again = run_cli(args, cwd=tmp_path)
    assert again.returncode == 0 and "already completed" in again.stdout
