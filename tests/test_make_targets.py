"""`make help` lists the targets the README names, and each target runs what it promises."""

from __future__ import annotations

import subprocess

from conftest import REPO, scaled


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


def _sweep(command: str) -> tuple[str, dict[str, set[str]]]:
    """The experiment folder of a `python -m experiments.run -m ...` line of `make -n`, and what it
    sweeps: its preset's hydra.sweeper.params, then the command line's own comma lists (which win),
    as sets of values."""
    import shlex

    from hydra import compose, initialize_config_dir

    args = [a for a in shlex.split(command) if "=" in a and not a.startswith("hydra")]
    with initialize_config_dir(config_dir=str(REPO / "configs"), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[a for a in args if "," not in a], return_hydra_config=True)
    swept = {key: set(str(value).split(",")) for key, value in cfg.hydra.sweeper.params.items()}
    swept.update({a.split("=", 1)[0]: set(a.split("=", 1)[1].split(",")) for a in args if "," in a})
    return cfg.experiment_name, swept


def test_each_study_target_runs_its_committed_seeds_several_at_a_time_one_thread_each() -> None:
    """`make <study>` reruns the committed study: for every committed tables/<study>_runs.csv, a
    target reports it, and the sweeps of `make reproduce-all` into its folder run exactly the seeds
    of its rows, through the parallel launcher with JOBS runs at once, every run on one torch thread."""
    import pandas as pd
    from omegaconf import OmegaConf

    dry = _make("-n", "-B", "-o", ".venv/.installed", "JOBS=3", "reproduce-all").splitlines()
    sweeps = [line for line in dry if "experiments.run -m" in line]
    assert sweeps and all("hydra/launcher=local_parallel hydra.launcher.n_jobs=3" in line for line in sweeps)
    seeds: dict[str, set[str]] = {}
    for line in sweeps:
        folder, swept = _sweep(line)
        seeds.setdefault(folder, set()).update(swept.get("trainer.seed", set()))
    committed = sorted((REPO / "results" / "tables").glob("*_runs.csv"))
    assert len(committed) >= 8
    for runs_csv in committed:
        study = runs_csv.name.removesuffix("_runs.csv").split("-")[0]  # dlrs_robust-helmholtz: dlrs_robust
        assert any(line.endswith(f"make_report.py --runs results/runs --out results {study}") for line in dry), study
        have = {str(s) for s in pd.read_csv(runs_csv)["seed"].unique()}
        assert seeds.get(study) == have, f"{study}: make sweeps seeds {sorted(seeds.get(study, []))}, the committed runs have {sorted(have)}"
    assert OmegaConf.load(REPO / "configs" / "trainer" / "default.yaml").threads == 1


def test_the_readme_says_what_reproduce_all_runs() -> None:
    targets = _make("reproduce-all-list").split()
    (row,) = [line for line in (REPO / "README.md").read_text().splitlines() if line.startswith("| `make reproduce-all` |")]
    listed = row.split("(", 1)[1].split(")", 1)[0].split(", ")
    assert listed == targets and f"the {len(targets)} targets" in row
