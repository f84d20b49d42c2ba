"""The GPU benchmark scripts also run on a CPU, on tiny settings (scripts/gpu_check.sh runs them for real)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path
from types import ModuleType

import pytest
import torch

from conftest import scaled

ROOT = Path(__file__).resolve().parents[1]


def _script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_models_prints_both_modes(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bench = _script("bench_models")
    out = tmp_path / "bench.json"
    assert bench.main(["--device", "cpu", "--models", "mobilenetv2", "--batch", "2", "--steps", "1",
                       "--warmup", "0", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "fp32 img/s" in table and "bf16_cl img/s" in table and "mobilenetv2" in table
    rates = json.loads(out.read_text())["images_per_s"]["mobilenetv2"]
    assert set(rates) == {"fp32", "bf16_cl"} and all(v > 0 for v in rates.values())


def test_bench_models_rejects_unknown_model() -> None:
    with pytest.raises(SystemExit) as exc:
        _script("bench_models").main(["--device", "cpu", "--models", "alexnet"])
    assert exc.value.code == 2


@pytest.mark.slow
def test_bench_schedulers_counts_host_reads_in_the_batch_loop(capsys: pytest.CaptureFixture) -> None:
    originals = {name: getattr(torch.Tensor, name) for name in ("item", "tolist", "__float__")}
    # 1000 points / batch 50 = 20 steps per epoch = one Adacomp window
    results = _script("bench_schedulers").main(["--device", "cpu", "--epochs", "2", "--rounds", "1",
                                                "--set", "task.n_points=1000", "task.batch_size=50"])
    assert {r["steps"] for r in results.values()} == {20}
    assert results["static"]["syncs"] == 0 and results["dlrs"]["syncs"] == 0  # DLRS reads once per epoch, outside
    assert results["adacomp"]["syncs"] == pytest.approx(1 / 20)  # one read per window of 20 steps
    assert all(r["epoch_s"] > 0 and 0 <= r["schedule_frac"] < 1 for r in results.values())
    assert "syncs/step" in capsys.readouterr().out
    assert {name: getattr(torch.Tensor, name) for name in originals} == originals  # patches undone


def test_gpu_check_script_is_valid_bash() -> None:
    subprocess.run(["bash", "-n", str(ROOT / "scripts" / "gpu_check.sh")], check=True, timeout=scaled(30))


def test_bench_schedulers_micro_prints_costs_and_ratios(capsys: pytest.CaptureFixture) -> None:
    rows = _script("bench_schedulers").main(["--micro", "--device", "cpu", "--batches", "20", "--epochs", "6"])
    out = capsys.readouterr().out
    for name in ("per batch", "per epoch", "epoch total", "window read"):
        r = rows[name]
        assert r["ours"] > 0 and r["theirs"] > 0 and r["ratio"] == pytest.approx(r["ours"] / r["theirs"])
        assert name in out
    assert "DLRS.observe(loss)" in out and "loss.item()" in out and out.count("ratio") == 4
