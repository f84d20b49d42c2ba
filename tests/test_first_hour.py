"""A new user's first hour (issue 15): the paired demo, one name per setting, run names that never
collide, reports that never mix tasks, nothing written by a failed lookup, make smoke/notebook/help,
and progress a person can read."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import typing
import warnings
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from conftest import REPO, cli_env, compose_config, run_cli, scaled
from experiments import demo, report
from experiments.errors import DataMissingError, UserError
from experiments.naming import name_with_settings, settings_label
from experiments.progress import EpochProgress, clock
from experiments.run import check_command_line
from test_report import write_fake_run

CONFIGS = REPO / "configs"
BASE = "helmholtz-f1000_pinn_mlp_dlrs_adam-lr0.005"


def _compose(overrides: list[str], hydra: bool = False) -> DictConfig:
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        return compose(config_name="config", overrides=overrides, return_hydra_config=hydra)


def _name(overrides: list[str]) -> str:
    return name_with_settings(_compose(overrides), overrides)


# ---- 2. one name per setting ------------------------------------------------------------------
@pytest.mark.parametrize(("task", "lr", "epochs"), [("helmholtz", 0.005, 1500), ("mnist", 0.01, 10),
                                                    ("fashion_mnist", 0.01, 10), ("cifar10", 0.005, 100)])
def test_the_task_sets_rate_and_length_in_their_one_place(task: str, lr: float, epochs: int) -> None:
    cfg = _compose([f"task={task}"])
    assert (cfg.optimizer.lr, cfg.trainer.epochs) == (lr, epochs)
    assert not {"lr", "epochs", "data_root"} & set(cfg.task), "a second name for the same setting"
    assert "lr" not in cfg.model
    assert _compose([f"task={task}", "optimizer=sgd"]).optimizer.lr == lr  # another optimizer keeps the rate
    assert _compose([f"task={task}", "schedule=adacomp"]).optimizer.lr == lr  # adacomp picks sgd, same rate
    explicit = _compose([f"task={task}", "optimizer.lr=0.123", "trainer.epochs=7", "optimizer=sgd"])
    assert (explicit.optimizer.lr, explicit.trainer.epochs) == (0.123, 7)  # the command line wins


def test_a_model_with_its_own_rate_sets_it_in_the_same_place() -> None:
    for task in ("mnist", "fashion_mnist"):
        cfg = _compose([f"task={task}", "model=mnist_cnn"])
        assert cfg.optimizer.lr == 1e-3 and "lr" not in cfg.model
        assert _compose([f"task={task}", "model=mnist_cnn", "optimizer.lr=0.02"]).optimizer.lr == 0.02
    assert _compose(["task=mnist", "model=mnist_cnn", "schedule=adacomp"]).optimizer.lr == 1e-3


def test_presets_set_the_length_and_sweeps_the_rate() -> None:
    assert _compose(["+experiment=fig2"]).trainer.epochs == 10000
    assert _compose(["+experiment=fig2", "trainer.epochs=50"]).trainer.epochs == 50
    images = _compose(["+experiment=lr_sensitivity_images", "optimizer.lr=0.05"])
    assert (images.task.name, images.optimizer.lr, images.trainer.epochs) == ("fashion_mnist", 0.05, 8)
    assert _compose(["+experiment=lr_sensitivity_images"]).optimizer.lr == 1e-3
    assert _compose(["+experiment=fig9", "schedule=adacomp"]).optimizer.lr == 0.01


@pytest.mark.parametrize(("old", "new"), [("task.lr=0.1", "optimizer.lr=..."), ("task.epochs=5", "trainer.epochs=..."),
                                          ("task.data_root=/x", "paths.data=..."), ("model.lr=0.1", "optimizer.lr=...")])
def test_old_names_point_to_the_one_name(old: str, new: str) -> None:
    with pytest.raises(UserError) as error:
        check_command_line(["task=mnist", old])
    assert new in str(error.value) and "\n" not in str(error.value)


def _all_keys() -> set[str]:
    """Every dotted key of every task, model, schedule and optimizer option (and the rest of the config)."""
    def paths(node, prefix=""):
        if isinstance(node, dict):
            for key, value in node.items():
                yield from paths(value, f"{prefix}{key}.")
        yield prefix.rstrip(".")

    keys: set[str] = set()
    for group in ("task", "schedule", "optimizer"):  # each option once: a group's keys do not depend on the others
        for option in sorted(p.stem for p in (CONFIGS / group).glob("*.yaml")):
            cfg = _compose([f"{group}={option}", "+scale=smoke"])
            keys |= set(paths(OmegaConf.to_container(cfg, resolve=False)))
    return keys


_KEY = re.compile(r"(?<![\w.+~/$-])((?:paths|task|model|schedule|optimizer|trainer)(?:\.[a-z_0-9]+)+)=")


def _python_strings(path: Path) -> str:
    parts = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            parts.append(node.value)
    return "\n".join(parts)


def test_every_key_named_in_docs_and_messages_exists() -> None:
    """README, docs/, the Makefile, the notebook and every string in the code (error messages
    included) name settings as ``key.path=``: each must exist under that name."""
    sources = {p: p.read_text() for p in [REPO / "README.md", REPO / "Makefile", *sorted((REPO / "docs").glob("*.md")),
                                          REPO / "notebooks" / "inspect_results.ipynb"]}
    for folder in ("experiments", "scripts", "dlrs"):
        sources.update({p: _python_strings(p) for p in sorted((REPO / folder).rglob("*.py"))})
    keys = _all_keys()
    named = {(p.relative_to(REPO).as_posix(), k) for p, text in sources.items() for k in _KEY.findall(text)}
    assert len(named) > 40, "the pattern no longer finds the documented keys"
    unknown = sorted((where, key) for where, key in named if key not in keys)
    assert not unknown, f"settings named but not in the config: {unknown}"
    for where, text in sources.items():
        for old in ("task.lr=", "task.epochs=", "task.data_root=", "model.lr="):  # one name each now
            if where.name != "run.py":  # run.py names the old keys to point to the new ones
                assert old not in text, f"{where} still names {old}"
        # paths.runs is derived from paths.results, which is the documented one
        if where.suffix in (".md", ".ipynb") or "experiments" in where.parts:
            assert "paths.runs=" not in text, f"{where} names paths.runs= instead of paths.results="


def test_regime_names_are_the_same_in_readme_csv_and_code() -> None:
    from dlrs.rules import Regime

    names = set(typing.get_args(Regime))
    assert names == {"divergent", "stagnant", "convergent"}
    readme = (REPO / "README.md").read_text()
    assert all(f"({n})" in readme or f"`{n}`" in readme for n in names)
    assert "converging" not in readme


# ---- 3. run names ---------------------------------------------------------------------------
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
                  "trainer.progress=log", "trainer.checkpoint_every=5", "trainer.force=true"]) == f"{BASE}_s50"
    assert _name(["task=mnist", "model=mnist_cnn", "task.batch_size=128"]) == "mnist-bs128_mnist_cnn_dlrs_adam-lr0.001_s50"
    # the same leaf in two sections keeps its section; long values become a short hash
    assert _name(["schedule.min_lr=1e-4"]) == f"{BASE}_schedule.min_lr0.0001_s50"
    long = _name(["schedule=replay", "schedule.metrics_csv=results/runs/default/some-long-run-name/metrics.csv"])
    assert re.fullmatch(r"helmholtz-f1000_pinn_mlp_replay_adam-lr0\.005_metrics_csv-[0-9a-f]{8}_s50", long), long
    assert _name(["+scale=smoke"]) == f"{BASE}_scale-smoke_s50"
    assert _name(["run_name=mine", "trainer.epochs=5"]) == "mine"  # chosen by hand: as it is
    assert settings_label(_compose([]), ["trainer.epochs=5", "trainer.epochs=6"]) == "epochs6"  # the last wins


def test_identity_of_runs_written_before_the_renaming() -> None:
    """Runs written with task.lr / task.epochs / task.data_root in their config.yaml still resume."""
    from experiments.trainer import run_identity

    cfg = _compose(["task=mnist"])
    old = OmegaConf.to_container(cfg, resolve=True)
    old["task"].update(lr=old["optimizer"]["lr"], epochs=old["trainer"]["epochs"], data_root="data")
    old["model"]["lr"] = 1e-3  # main before issue 15: the MNIST CNN's rate was model.lr
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


# ---- 4. reports ------------------------------------------------------------------------------
def test_two_tasks_in_one_folder_give_two_reports_beside_the_runs(tmp_path: Path, capsys) -> None:
    runs, out = tmp_path / "runs", tmp_path / "out"
    for schedule in ("static", "dlrs"):
        write_fake_run(runs, "mix", schedule=schedule, seed=50, task="helmholtz", model="pinn_mlp", frequency=1000.0,
                       batch_size=1000, metric_values=(0.9, 0.5, 0.1))
        write_fake_run(runs, "mix", schedule=schedule, seed=50, task="mnist", model="mnist_cnn")
    written = report.make_report("mix", runs, out)
    assert "reported separately as mix-helmholtz, mix-mnist" in capsys.readouterr().out
    assert not out.exists(), "an ad-hoc folder's report went into the curated results"
    folder = runs / "mix" / "report"
    assert {p.relative_to(folder).as_posix() for p in written} >= {
        "tables/mix-helmholtz.csv", "tables/mix-mnist.csv", "figures/mix-helmholtz.png", "figures/mix-mnist.png"}
    pinn = pd.read_csv(folder / "tables" / "mix-helmholtz.csv")
    assert list(pinn.frequency) == [1000, 1000] and pinn.final_rel_error_mean.notna().all()
    images = pd.read_csv(folder / "tables" / "mix-mnist.csv")
    assert list(images.batch_size) == [64, 64] and images.final_test_acc_mean.notna().all()
    with warnings.catch_warnings():  # the report folder is not read back as a run (no "skipped" warning)
        warnings.simplefilter("error")
        assert len(report.load_runs(runs, "mix")) == 4


def test_curated_folder_with_a_stray_task_and_models(tmp_path: Path, capsys) -> None:
    runs, out = tmp_path / "runs", tmp_path / "out"
    write_fake_run(runs, "fig2", schedule="dlrs", seed=50, task="helmholtz", model="pinn_mlp", frequency=500.0,
                   batch_size=1000, metric_values=(0.9, 0.5, 0.1))
    write_fake_run(runs, "fig2", schedule="dlrs", seed=50, task="mnist", model="simple_dla")
    names = {p.name for p in report.make_report("fig2", runs, out)}
    assert {"fig2-helmholtz.csv", "fig2-mnist.csv"} <= names and (out / "tables" / "fig2-mnist.csv").exists()
    # one task, two models in a batch-size layout: one report per model
    for model in ("simple_dla", "mnist_cnn"):
        write_fake_run(runs, "fig5", schedule="dlrs", seed=50, model=model)
    names = {p.name for p in report.make_report("fig5", runs, out)}
    assert {"fig5-mnist-mnist_cnn.csv", "fig5-mnist-simple_dla.csv"} <= names
    # models are the columns of table1, and lr_sensitivity compares tasks on purpose: one report each
    for model in ("resnet18", "vgg19"):
        write_fake_run(runs, "table1", schedule="dlrs", seed=50, task="cifar10", model=model)
    assert {p.name for p in report.make_report("table1", runs, out)} >= {"table1.csv", "table1.png"}
    write_fake_run(runs, "lr_sensitivity", schedule="dlrs", seed=50, task="helmholtz", model="pinn_mlp",
                   frequency=1000.0, batch_size=1000, metric_values=(0.9, 0.5, 0.1))
    write_fake_run(runs, "lr_sensitivity", schedule="dlrs", seed=50, task="mnist", model="mnist_cnn")
    assert {p.name for p in report.make_report("lr_sensitivity", runs, out)} >= {"lr_sensitivity.csv"}
    assert set(pd.read_csv(out / "tables" / "lr_sensitivity.csv").task) == {"helmholtz", "mnist"}
    capsys.readouterr()


def test_make_report_all_keeps_ad_hoc_reports_beside_their_runs(tmp_path: Path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "results"
    write_fake_run(runs, "default", schedule="dlrs", seed=50, task="helmholtz", model="pinn_mlp", frequency=1000.0,
                   batch_size=1000, metric_values=(0.9, 0.5, 0.1))
    write_fake_run(runs, "fig9", schedule="dlrs", seed=50)
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "make_report.py"), "all", "--runs", str(runs),
                           "--out", str(out)], capture_output=True, text=True, env=cli_env(), timeout=scaled(300))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (out / "tables").iterdir()) == ["fig9.csv", "fig9.md", "fig9_runs.csv"]
    assert not list(out.glob("*/default*"))
    assert (runs / "default" / "report" / "tables" / "default.md").exists()
    assert str(runs / "default" / "report" / "figures" / "default.png") in proc.stdout


@pytest.mark.slow
def test_a_sweep_over_two_tasks_into_one_folder(tmp_path: Path) -> None:
    """The acceptance case through the command line: one -m sweep, a PINN and an MNIST run in one
    folder, then make_report.py: two reports, each of one task, beside the runs."""
    from experiments.fixtures import write_mnist

    write_mnist(tmp_path / "data", n_train=16, n_test=8)
    proc = run_cli(["-m", "experiment_name=mix", "task=helmholtz,mnist", "+scale=smoke", "trainer.epochs=1",
                    "task.subset=16", "task.test_subset=8", "task.batch_size=8", f"paths.data={tmp_path / 'data'}",
                    "paths.results=results", "trainer.device=cpu"], cwd=tmp_path, tiny=False,
                   timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    runs = tmp_path / "results" / "runs"
    rep = subprocess.run([sys.executable, str(REPO / "scripts" / "make_report.py"), "mix", "--runs", str(runs),
                          "--out", str(tmp_path / "results")], capture_output=True, text=True, env=cli_env(),
                         cwd=tmp_path, timeout=scaled(300))
    assert rep.returncode == 0, rep.stderr
    assert "reported separately as mix-helmholtz, mix-mnist" in rep.stdout
    tables = runs / "mix" / "report" / "tables"
    assert pd.read_csv(tables / "mix-helmholtz.csv").frequency.tolist() == [1000]
    assert pd.read_csv(tables / "mix-mnist.csv").batch_size.tolist() == [8]
    assert not (tmp_path / "results" / "tables").exists() and not (tmp_path / "results" / "figures").exists()


# ---- 5. a failed lookup writes nothing -------------------------------------------------------
def _snapshot(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): (p.stat().st_size if p.is_file() else -1) for p in root.rglob("*")}


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_a_failed_download_leaves_the_file_system_as_it_found_it(tmp_path: Path, monkeypatch, dataset: str) -> None:
    from experiments import data

    class FailingDownload:  # what torchvision does without network: folders and a partial archive, then an error
        def __init__(self, root, train=True, download=False, **kwargs):
            spec = data.DATASETS[dataset]
            (Path(root) / spec.folder).mkdir(parents=True, exist_ok=True)
            (Path(root) / spec.folder / "part.gz").write_bytes(b"half")
            (Path(root) / "cifar-10-python.tar.gz").write_bytes(b"half")
            raise RuntimeError("Error downloading: no network")

    monkeypatch.setattr(data, "_torchvision_class", lambda name: FailingDownload)
    # 1. the data folder did not exist: it does not exist afterwards
    missing = tmp_path / "a" / "data"
    with pytest.raises(DataMissingError, match="download failed"):
        data.open_dataset(dataset, missing, train=True, download=True)
    assert not (tmp_path / "a").exists()
    # 2. it existed with other things in it, and one of the files already there: all kept, nothing added
    kept = tmp_path / "b"
    (kept / "MNIST" / "raw").mkdir(parents=True)
    (kept / "MNIST" / "raw" / "train-images-idx3-ubyte").write_bytes(b"x" * 10)
    (kept / "cifar-10-batches-py").mkdir()
    (kept / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"y" * 10)
    (kept / "notes.txt").write_text("mine")
    before = _snapshot(kept)
    with pytest.raises(DataMissingError):
        data.open_dataset(dataset, kept, train=False, download=True)
    assert _snapshot(kept) == before


@pytest.mark.slow
def test_missing_data_through_the_cli_writes_no_folder(tmp_path: Path) -> None:
    proc = run_cli(["task=mnist", "model=mnist_cnn", "trainer.epochs=1", "trainer.device=cpu", "paths.data=data",
                    "paths.results=results"], cwd=tmp_path, tiny=False, timeout=180)
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "set paths.data=..." in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [], "a failed lookup left something behind"


# ---- 6. make smoke, make notebook, make help -------------------------------------------------
def _make(*args: str) -> str:
    proc = subprocess.run(["make", "-s", *args], cwd=REPO, capture_output=True, text=True, timeout=scaled(60))
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_make_help_lists_the_first_hour_targets_and_readme_names_them() -> None:
    listed = {line.split("\t")[0] for line in _make("help").splitlines()}
    assert {"help", "run", "test", "smoke", "notebook", "report"} <= listed
    readme = (REPO / "README.md").read_text()
    for target in ("make help", "make smoke", "make notebook", "make run"):
        assert f"`{target}" in readme


def test_make_targets_run_what_they_promise() -> None:
    dry = _make("-n", "-B", "-o", ".venv/.installed", "run", "smoke", "notebook")  # print, never set up
    assert ".venv/bin/python -m experiments.demo --epochs 1500" in dry
    assert "python -m experiments.fixtures --root results/smoke/data" in dry
    assert dry.count("+scale=smoke") == 2 and "make_report.py smoke" in dry
    assert 'pip install -q -e ".[notebook]"' in dry and "jupyter notebook" in dry
    setup = _make("-n", "-B", "setup")
    assert "notebook" not in setup  # Jupyter only on demand
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(dep.startswith("notebook") for dep in extras["notebook"])


def test_notebook_says_how_to_open_it() -> None:
    import nbformat

    nb = nbformat.read(REPO / "notebooks" / "inspect_results.ipynb", as_version=4)
    assert nb.cells[0].cell_type == "markdown" and "make notebook" in nb.cells[0].source


# ---- 7. progress -----------------------------------------------------------------------------
def test_progress_lines_start_at_the_first_epoch_with_labelled_times(capsys) -> None:
    progress = EpochProgress(total=100, initial=0, mode="log", metric="rel_error")
    for epoch in range(1, 101):
        progress.update({"epoch": epoch, "train_loss": 1.0 / epoch, "lr": 0.005, "rel_error": 0.5, "epoch_time_s": 0.01})
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("epoch 1/100 loss=1 lr=0.005 rel_error=0.5 | ")
    assert re.search(r"\| [0-9.e-]+ s/epoch, elapsed \d+:\d\d:\d\d, ETA \d+:\d\d:\d\d$", lines[0]), lines[0]
    assert lines[-1].startswith("epoch 100/100") and lines[-1].endswith("ETA 0:00:00")
    assert 20 <= len(lines) <= 22
    assert (clock(0), clock(125), clock(3725), clock(float("nan"))) == ("0:00:00", "0:02:05", "1:02:05", "?")


def test_a_resumed_run_prints_its_first_epoch(capsys) -> None:
    progress = EpochProgress(total=1000, initial=400, mode="log", metric="test_acc")
    progress.update({"epoch": 401, "train_loss": 0.5, "lr": 0.01, "test_acc": 90.0, "epoch_time_s": 0.1})
    assert capsys.readouterr().out.startswith("epoch 401/1000 ")


# ---- 1. the paired demo ----------------------------------------------------------------------
def test_demo_lines_state_the_numbers_either_way() -> None:
    runs = pd.DataFrame([
        {"schedule": "static", "final_rel_error": 0.3, "best_rel_error": 0.1, "best_epoch": 800, "final_lr": 0.005,
         "total_time_s": 100.0, "status": "completed"},
        {"schedule": "dlrs", "final_rel_error": 0.6, "best_rel_error": 0.5, "best_epoch": 1500, "final_lr": 5.55e-5,
         "total_time_s": 101.0, "status": "completed"}])
    args = demo.argparse.Namespace(epochs=1500, frequency=1000.0)
    head, static, dlrs = demo.comparison_lines(runs)
    assert "final rel. error" in head and "best (epoch)" in head and "time" in head
    assert static.startswith("constant rate") and "3.000e-01" in static and "1.000e-01 (800)" in static
    assert dlrs.startswith("DLRS") and "6.000e-01" in dlrs and "101 s" in dlrs
    assert demo.ratio_line(runs, args).startswith("final error DLRS / constant rate = 2 (one seed")


@pytest.mark.slow
def test_demo_end_to_end(tmp_path: Path) -> None:
    """`python -m experiments.demo`: two runs side by side, two lines, one figure beside the runs."""
    proc = subprocess.run([sys.executable, "-m", "experiments.demo", "--epochs", "3", "--results", "results",
                           "task.n_points=200", "task.batch_size=50"], cwd=tmp_path, env=cli_env(),
                          capture_output=True, text=True, timeout=scaled(600))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = proc.stdout
    assert "[constant rate] epoch 1/3 " in out and "[         DLRS] epoch 1/3 " in out
    lines = out.splitlines()
    static = next(line for line in lines if line.startswith("constant rate "))
    dlrs = next(line for line in lines if line.startswith("DLRS "))
    assert "completed" in static and "completed" in dlrs
    figure = tmp_path / "results" / "runs" / "demo" / "comparison.png"
    assert "figure: results/runs/demo/comparison.png" in out and figure.stat().st_size > 10_000
    assert "results/figures/fig2.png" in out
    names = sorted(p.name for p in (tmp_path / "results" / "runs" / "demo").iterdir() if p.is_dir())
    assert names == [f"helmholtz-f1000_pinn_mlp_{s}_adam-lr0.005_batch_size50_n_points200_epochs3_s50"
                     for s in ("dlrs", "static")]
    assert not (tmp_path / "results" / "figures").exists()
