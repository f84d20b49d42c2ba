"""Every preset and every config-group option composes and validates; presets follow the protocol."""

from __future__ import annotations

import math

import pytest
from omegaconf import OmegaConf

from conftest import CONFIG_DIR, PRESETS, job_config
from experiments.run import check_command_line

# the readable run name: task, model, schedule, optimizer, rate, seed
READABLE = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / "config.yaml"))["run_name"]



def test_every_preset_writes_into_a_folder_with_a_declared_report_layout() -> None:
    """A preset's runs are drawn as its folder's preset declares (report.layout), and the paper's
    figures, which `make_report.py all` draws, are presets."""
    from experiments.report import EXPERIMENTS, declared_layout

    assert set(EXPERIMENTS) <= set(PRESETS)
    for preset in PRESETS:
        folder = job_config([f"+experiment={preset}"]).experiment_name
        assert declared_layout(folder) is not None, f"{preset} writes into {folder}, which declares no report.layout"


@pytest.mark.parametrize("scale", [None, "smoke"])
@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_composes_and_validates(preset: str, scale: str | None) -> None:
    overrides = [f"+experiment={preset}"] + ([f"+scale={scale}"] if scale else [])
    cfg = job_config(overrides, hydra=True)
    params = cfg.hydra.sweeper.params
    assert params, f"{preset} carries no sweep"
    # a preset writes into its own folder or into the folder of the study it adds runs to (a preset)
    assert cfg.experiment_name in PRESETS
    # every job of the sweep for one of its seeds (the others differ only there), validated and named as
    # the command line does
    jobs = check_command_line(["-m", *overrides, "trainer.seed=50"])
    assert jobs and len(jobs) == math.prod(len(str(v).split(",")) for k, v in params.items() if k != "trainer.seed")
    for job_overrides, job in jobs:
        OmegaConf.to_container(job, resolve=True)  # every interpolation resolves
        if job.schedule.name == "adacomp":  # a preset's optimizer override must not undo adacomp's SGD
            assert job.optimizer.name == "sgd", f"{preset}: {job_overrides}"
        if scale == "smoke":
            assert job.trainer.epochs == 2 and job.task.subset == 128
        elif preset not in ("dlrs_ablation", "dlrs_robust"):  # both sweep task.shuffle, which goes in the name
            # sweeps over keys already in the name keep the readable names: no redundant suffix
            assert job.run_name == OmegaConf.merge(job, {"run_name": READABLE}).run_name
            assert job.run_name.endswith("_s50")
    # any other swept key (dlrs_ablation's task.shuffle) goes into the name: no two jobs share a directory
    assert len({job.run_dir for _, job in jobs}) == len(jobs)


@pytest.mark.parametrize(
    ("preset", "epochs", "task", "lr", "sweep"),
    [
        ("fig2", 10000, "helmholtz", 0.005, {"task.frequency": "250,500,1000,1500,2000", "schedule": "static,dlrs"}),
        ("fig5", 10, "mnist", 0.01, {"task.batch_size": "64,128,256,512", "schedule": "static,dlrs"}),
        ("fig8", 100, "cifar10", 0.005, {"task.batch_size": "64,128,256,512", "schedule": "static,dlrs"}),
        ("table1", 100, "cifar10", 0.005,
         {"model": "simple_dla,vgg19,resnet18,googlenet,mobilenetv2", "schedule": "static,dlrs"}),
        ("fig9", 10, "mnist", 0.01, {"task.batch_size": "64,128,256,512", "schedule": "adacomp,dlrs"}),
    ],
)
def test_presets_follow_the_protocol(preset: str, epochs: int, task: str, lr: float, sweep: dict) -> None:
    cfg = job_config([f"+experiment={preset}"], hydra=True)
    assert cfg.trainer.epochs == epochs and cfg.task.name == task and cfg.optimizer.lr == lr
    assert cfg.trainer.seed == 50
    assert {k: str(v) for k, v in cfg.hydra.sweeper.params.items() if k != "trainer.seed"} == sweep


def test_test_batch_sizes_and_pinn_bounds_follow_spec() -> None:
    assert job_config(["task=mnist"]).task.test_batch_size == 1000
    assert job_config(["task=cifar10"]).task.test_batch_size == 100
    pinn = job_config([])
    assert (pinn.schedule.min_lr, pinn.schedule.max_lr) == (5.55e-5, 9e-3)
    assert (pinn.task.n_points, pinn.task.batch_size) == (10000, 1000)


def test_image_tasks_default_to_simple_dla_and_adacomp_to_sgd() -> None:
    assert job_config(["task=cifar10"]).model.name == "simple_dla"
    assert job_config(["task=cifar10", "model=resnet18"]).model.name == "resnet18"
    assert job_config(["task=mnist", "schedule=adacomp"]).optimizer.name == "sgd"
    assert job_config(["task=mnist", "schedule=adacomp", "optimizer=adam"]).optimizer.name == "adam"


def test_run_names_are_readable() -> None:
    assert job_config([]).run_name == "helmholtz-f1000_pinn_mlp_dlrs_adam-lr0.005_s50"
    cfg = job_config(["+experiment=table1", "model=resnet18", "schedule=static", "trainer.seed=51"])
    assert cfg.run_name == "cifar10-bs128_resnet18_static_adam-lr0.005_s51"
    assert cfg.run_dir == "results/runs/table1/cifar10-bs128_resnet18_static_adam-lr0.005_s51"
