"""trainer.tensorboard=true mirrors metrics.csv into TensorBoard event files, once per epoch."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import read_metrics


def _scalars(log_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_tensorboard_mirrors_the_metrics(compose, tmp_path) -> None:
    from experiments.trainer import train

    cfg = compose(["trainer.tensorboard=true", "trainer.epochs=3", f"paths.results={tmp_path}", "schedule=dlrs"])
    train(cfg)
    run_dir = Path(cfg.run_dir)
    scalars = _scalars(run_dir / "tensorboard")
    rows = read_metrics(run_dir)
    for key in ("lr", "train_loss", "rel_error", "dlrs_slope"):
        assert [s for s, _ in scalars[key]] == [1, 2, 3]
        assert [v for _, v in scalars[key]] == pytest.approx([float(r[key]) for r in rows], rel=1e-6)
    codes = {"convergent": -1.0, "stagnant": 0.0, "divergent": 1.0}
    assert [v for _, v in scalars["dlrs_regime"]] == [codes[r["dlrs_regime"]] for r in rows]
