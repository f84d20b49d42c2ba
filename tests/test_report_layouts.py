"""A report layout is one declaration (experiments/report_layouts.py): a new study with a layout of
its own adds its preset and one layout entry, and nothing else, and gets its table, paired table and
figure; the schema takes the new name and refuses an unknown one in one line."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Iterator

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir

from conftest import REPO
from experiments import report
from experiments.config_check import check_config
from experiments.errors import UserError
from experiments.report_layouts import LAYOUTS, Layout
from test_report import capture_figures, row, write_fake_run

# the recipe of docs/extending.md, "A study with its own report layout": the preset and the one
# entry it adds to LAYOUTS, read from that page
EXTENDING = (REPO / "docs" / "extending.md").read_text()
PRESET = re.search(r"```yaml\n(# @package _global_\n# configs/experiment/data_size.yaml\n.*?)```", EXTENDING, re.S).group(1)
(ENTRY,) = eval("{" + re.search(r"```python\n# one entry of LAYOUTS.*?\n(.*?)```", EXTENDING, re.S).group(1) + "}",
                {"Layout": Layout}).values()


@pytest.fixture
def new_study(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of configs/ with the preset added, read by the report, and the layout entry added."""
    configs = tmp_path / "configs"
    shutil.copytree(REPO / "configs", configs)
    (configs / "experiment" / "data_size.yaml").write_text(PRESET)
    monkeypatch.setattr(report, "CONFIG_DIR", configs)
    monkeypatch.setitem(LAYOUTS, "data_size", ENTRY)
    report.declared_report.cache_clear()
    yield configs
    report.declared_report.cache_clear()


def _config(configs: Path, *overrides: str):
    with initialize_config_dir(config_dir=str(configs), version_base="1.3"):
        return compose(config_name="config", overrides=["+experiment=data_size", "trainer.seed=50", *overrides])


def test_a_new_study_with_its_own_layout_is_one_preset_and_one_entry(new_study: Path, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_config(_config(new_study)).report.layout == "data_size"
    runs, out = tmp_path / "runs", tmp_path / "out"
    for subset, gain in ((3000, 1.0), (6000, 3.0)):
        for seed in (50, 51, 52):
            for schedule, acc in (("static", 80.0 + seed - 50), ("dlrs", 80.0 + seed - 50 + gain)):
                run = write_fake_run(runs, "data_size", task="fashion_mnist", model="mnist_cnn", schedule=schedule,
                                     seed=seed, subset=subset, metric_values=(50.0, 70.0, acc))
                run.rename(run.with_name(f"{run.name}_n{subset}"))  # its name does not say the subset
    figures = capture_figures(monkeypatch)
    written = {p.relative_to(out).as_posix() for p in report.make_report("data_size", runs, out)}
    assert written >= {"tables/data_size.csv", "tables/data_size.md", "tables/data_size_paired.csv",
                       "figures/data_size.png", "figures/data_size_paired.png"}  # a curated study: into out/
    table = pd.read_csv(out / "tables" / "data_size.csv")
    assert sorted(zip(table["subset"], table["schedule"])) == [(3000, "dlrs"), (3000, "static"),
                                                               (6000, "dlrs"), (6000, "static")]
    assert table.set_index(["subset", "schedule"]).loc[(6000, "dlrs"), "final_test_acc_mean"] == 84.0
    assert "| Subset | Schedule |" in (out / "tables" / "data_size.md").read_text()
    paired = pd.read_csv(out / "tables" / "data_size_paired.csv")
    per_cell = paired[paired["pooled_over"].isna()].set_index("subset")
    assert per_cell["estimate"].to_dict() == pytest.approx({3000: 1.0, 6000: 3.0})  # dlrs - static, per seed
    assert set(paired["pooled_over"].dropna()) == {"subset"}
    fig = figures["data_size.png"]
    assert [ax.get_title() for ax in row(fig, 2, "train loss")] == ["subset 3000", "subset 6000"]


def test_the_schema_refuses_a_layout_no_entry_declares(new_study: Path) -> None:
    with pytest.raises(UserError) as error:
        check_config(_config(new_study, "report.layout=data_sizes"))
    message = str(error.value)
    assert message.startswith("report.layout='data_sizes' is not known; choose one of: pinn, ")
    assert message.endswith(", lr, data_size, or null") and "\n" not in message


def test_every_layout_names_a_table_the_report_draws() -> None:
    from experiments.report.tables import TABLES

    assert {layout.table for layout in LAYOUTS.values()} <= set(TABLES)
