"""Progress lines a person can read: from the first epoch, with labelled times, also after a resume."""

from __future__ import annotations

import re

from experiments.progress import EpochProgress, clock


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
