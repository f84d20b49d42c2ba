"""Failures a long run meets, on a tiny CPU PINN run:
divergence, SIGINT/SIGTERM/SIGKILL and resuming, atomic files, restartable sweeps, missing data,
an unwritable results directory and a full disk.

Everything that needs a real process (exit codes, signals, a sweep) goes through the command
line; the rest calls ``experiments.trainer.train`` in this process, which is much cheaper.
Resumed runs are compared with one uninterrupted run, float for float (CPU, same seed).

No test races the run: in-process signals are sent from inside a chosen batch, and the command
line runs that get a signal are started through tests/paused_cli.py, which holds the run inside
batch N until the signal has been handled. So each run stops at a known batch, however busy the
machine is.
"""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
import torch

import experiments.io
from conftest import (CLI_TIMEOUT, REPO, compose_config, killed_in_epoch, one_run_dir, read_metrics, run_cli, scaled,
                      start_cli, wait_until)
from experiments.errors import UserError
from experiments.fixtures import write_mnist
from experiments.io import load_checkpoint, write_json_atomic
from experiments.tasks.helmholtz import Helmholtz
from experiments.trainer import Interrupted, train

# 40 epochs of 4 batches, a periodic checkpoint every 5: long enough to interrupt, seconds to run.
LONG = ["trainer.epochs=40", "trainer.checkpoint_every=5"]
BATCHES = 4  # n_points=200 / batch_size=50


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The uninterrupted LONG run: its metrics (without times) and summary."""
    runs = tmp_path_factory.mktemp("reference")
    summary = train(compose_config([*LONG, f"paths.runs={runs}"]))
    assert summary["status"] == "completed"
    return {"rows": read_metrics(one_run_dir(runs)), "summary": summary}


def _train(runs: Path, *extra: str) -> dict:
    return train(compose_config([*LONG, f"paths.runs={runs}", *extra]))


def _summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def _patch_loss(monkeypatch: pytest.MonkeyPatch, action: Callable[[int, torch.Tensor], torch.Tensor]) -> None:
    """Route every training loss through ``action(call_number, loss)`` (calls count from 1)."""
    original, calls = Helmholtz.loss, [0]

    def loss(self, model, batch):
        calls[0] += 1
        return action(calls[0], original(self, model, batch))

    monkeypatch.setattr(Helmholtz, "loss", loss)


def _signal_at(monkeypatch: pytest.MonkeyPatch, signum: int, call: int) -> None:
    """Send ``signum`` to this process during the ``call``-th batch, as a user or a scheduler would."""
    def action(n: int, loss: torch.Tensor) -> torch.Tensor:
        if n == call:
            # never let the signal reach pytest's own handlers if the trainer failed to install its own
            assert signal.getsignal(signum) not in (signal.SIG_DFL, signal.default_int_handler)
            os.kill(os.getpid(), signum)
        return loss

    _patch_loss(monkeypatch, action)


def _one_line(message: str) -> str:
    assert "\n" not in message and "Traceback" not in message, message
    return message


# ---- divergence --------------------------------------------------------------------------------
def test_non_finite_loss_ends_the_run_as_diverged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   reference: dict, capsys: pytest.CaptureFixture) -> None:
    first_bad = 2 * BATCHES + 1  # the first batch of epoch 3
    _patch_loss(monkeypatch, lambda n, loss: loss * math.nan if n >= first_bad else loss)
    summary = _train(tmp_path)
    run_dir = one_run_dir(tmp_path)
    assert summary["status"] == "diverged" and summary["diverged_at_epoch"] == 3
    on_disk = json.loads((run_dir / "summary.json").read_text())
    assert on_disk["status"] == "diverged" and on_disk["epochs_completed"] == 3
    rows = read_metrics(run_dir)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert list(rows[0]) == list(reference["rows"][0]), "a diverged run keeps every column"
    assert rows[:2] == reference["rows"][:2]
    assert rows[2]["train_loss"] == "nan"
    assert (run_dir / "curves.png").exists() and (run_dir / "field.csv").exists()
    # a diverged run is finished: running the command again does not redo it
    before = (run_dir / "metrics.csv").stat().st_mtime_ns
    capsys.readouterr()
    monkeypatch.undo()
    assert _train(tmp_path)["status"] == "diverged"
    assert "already diverged" in capsys.readouterr().out
    assert (run_dir / "metrics.csv").stat().st_mtime_ns == before


# ---- interruption and resuming, in this process (exact batch) ----------------------------------
@pytest.mark.parametrize("signum, call", [(signal.SIGINT, BATCHES + 2), (signal.SIGTERM, 3 * BATCHES)],
                         ids=["SIGINT-mid-epoch", "SIGTERM-end-of-epoch"])
def test_signal_checkpoints_and_resume_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: dict,
                                                signum: int, call: int) -> None:
    _signal_at(monkeypatch, signum, call)
    with pytest.raises(Interrupted) as stopped:
        _train(tmp_path)
    assert stopped.value.signum == signum
    run_dir = one_run_dir(tmp_path)
    summary = _summary(run_dir)
    assert summary["status"] == "interrupted" and signal.Signals(signum).name in summary["message"]
    state = load_checkpoint(run_dir / "checkpoint.pt")
    epochs_done, batches_done = (call - 1) // BATCHES, (call - 1) % BATCHES + 1  # it stops after this batch
    assert (state["position"]["epoch"], state["position"]["batch"]) == (epochs_done, batches_done)
    assert read_metrics(run_dir) == reference["rows"][:epochs_done]
    monkeypatch.undo()
    assert _train(tmp_path)["status"] == "completed"
    assert read_metrics(run_dir) == reference["rows"]
    assert _summary(run_dir)["final"] == reference["summary"]["final"]


@pytest.mark.parametrize("loader", ["memory", "torchvision"])
def test_an_augmented_reshuffled_image_run_resumes_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                           loader: str) -> None:
    """What a resumed `images_long` run relies on: an image run with batches reshuffled every epoch,
    random crop and flip, and DLRS on the epoch-mean slope, killed after its epoch-2 checkpoint and run
    again, writes the metrics of an uninterrupted run, float for float (the rate column included)."""
    write_mnist(tmp_path / "data", 48, 16, folder="FashionMNIST", learnable=True)
    overrides = ["task=fashion_mnist", "model=mnist_cnn", f"paths.data={tmp_path / 'data'}", "task.download=false",
                 "task.batch_size=16", "task.augment=true", f"task.loader={loader}", "task.num_workers=0",
                 "schedule=dlrs_epoch_mean_symmetric", "trainer.device=cpu", "trainer.progress=log",
                 "trainer.epochs=5", "trainer.checkpoint_every=2"]

    def run(runs: Path) -> list[dict[str, str]]:
        assert train(compose_config([*overrides, f"paths.runs={runs}"], tiny=False))["status"] == "completed"
        return read_metrics(one_run_dir(runs))

    reference = run(tmp_path / "a")
    killed_in_epoch(monkeypatch, lambda: run(tmp_path / "b"), 3)  # after the epoch-2 checkpoint
    assert load_checkpoint(one_run_dir(tmp_path / "b") / "checkpoint.pt")["position"]["epoch"] == 2  # it resumes
    assert run(tmp_path / "b") == reference
    assert len({row["lr"] for row in reference}) > 2, "DLRS should have moved the rate"


def test_full_disk_stops_cleanly_and_the_run_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    reference: dict) -> None:
    real_replace, checkpoints = os.replace, [0]

    def replace(src, dst):  # the second checkpoint (epoch 10) finds the disk full
        if str(dst).endswith("checkpoint.pt"):
            checkpoints[0] += 1
            if checkpoints[0] == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst)

    monkeypatch.setattr(experiments.io.os, "replace", replace)
    with pytest.raises(UserError) as full:
        _train(tmp_path)
    message = _one_line(str(full.value))
    assert message.startswith("disk full while writing") and "checkpoint.pt" in message
    assert "run the same command again to resume" in message
    run_dir = one_run_dir(tmp_path)
    assert not list(run_dir.glob(".*.tmp")), "no half-written temp file is left behind"
    assert load_checkpoint(run_dir / "checkpoint.pt")["epoch"] == 5, "the previous checkpoint is intact"
    monkeypatch.undo()
    assert _train(tmp_path)["status"] == "completed"
    assert read_metrics(run_dir) == reference["rows"]


# ---- files, restarts, bad places ---------------------------------------------------------------
def test_every_result_file_is_written_by_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    renamed: set[Path] = set()
    real_replace = os.replace

    def replace(src, dst):
        renamed.add(Path(dst).resolve())
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    train(compose_config(["trainer.epochs=2", "trainer.checkpoint_every=1", f"paths.runs={tmp_path}"]))
    run_dir = one_run_dir(tmp_path)
    results = [p for p in run_dir.iterdir() if p.suffix in (".csv", ".json", ".yaml", ".pt")]
    assert {p.name for p in results} >= {"metrics.csv", "summary.json", "config.yaml", "checkpoint.pt"}
    not_atomic = sorted(p.name for p in results if p.resolve() not in renamed)
    assert not_atomic == [], f"written in place, not via a temp file and rename: {not_atomic}"


def test_failed_atomic_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "summary.json"
    write_json_atomic(target, {"status": "running"})
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~experiments.io._UMASK), "usual file mode"

    def replace(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(UserError, match="disk full"):
        write_json_atomic(target, {"status": "completed"})
    assert json.loads(target.read_text()) == {"status": "running"}
    assert [p.name for p in tmp_path.iterdir()] == ["summary.json"]


def test_finished_runs_are_skipped_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = ["trainer.epochs=2", f"paths.runs={tmp_path}"]
    train(compose_config(base))
    run_dir = one_run_dir(tmp_path)
    stamp = (run_dir / "metrics.csv").stat().st_mtime_ns
    capsys.readouterr()
    # settings that do not change the results (progress, checkpoints, data location) still match
    execution_only = ["trainer.progress=none", "trainer.checkpoint_every=1", "paths.data=elsewhere"]
    again = train(compose_config([*base, *execution_only]))
    assert again["status"] == "completed" and "already completed" in capsys.readouterr().out
    assert (run_dir / "metrics.csv").stat().st_mtime_ns == stamp
    assert train(compose_config([*base, "trainer.force=true"]))["status"] == "completed"
    assert (run_dir / "metrics.csv").stat().st_mtime_ns != stamp
    # the same run name with a different computation is refused, not silently mixed
    with pytest.raises(UserError) as clash:
        train(compose_config([*base, "task.eval_points=50"]))
    assert "different config (differs in: task.eval_points)" in _one_line(str(clash.value))
    (run_dir / "summary.json").write_text('{"status": "compl')  # damaged by hand
    with pytest.raises(UserError) as damaged:
        train(compose_config(base))
    assert "summary.json is damaged" in _one_line(str(damaged.value))


def test_results_below_a_file_or_without_permission(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "results.txt"
    blocker.write_text("not a directory")
    with pytest.raises(UserError) as below_file:
        train(compose_config(["trainer.epochs=1", f"paths.results={blocker}/results"]))
    assert f"{blocker} is a file, not a directory; choose another paths.results=" in _one_line(str(below_file.value))

    def mkstemp(*args, **kwargs):  # root ignores chmod, so permission errors are simulated
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(experiments.io.tempfile, "mkstemp", mkstemp)
    with pytest.raises(UserError) as denied:
        train(compose_config(["trainer.epochs=1", f"paths.results={tmp_path}/results"]))
    message = _one_line(str(denied.value))
    assert "(Permission denied): choose a writable paths.results=" in message and "config.yaml" in message


# ---- through the command line ------------------------------------------------------------------
PAUSED_CLI = [sys.executable, str(REPO / "tests" / "paused_cli.py")]


@pytest.fixture()
def start(tmp_path: Path):
    """``start(args, pause_at=N)`` runs the CLI in the background (output in tmp_path/log.txt),
    held inside batch N of each run until a SIGINT/SIGTERM has been handled (tests/paused_cli.py);
    it returns the process and the file that appears when the pause begins. A test that fails
    half-way leaves no process behind."""
    started: list[subprocess.Popen] = []

    def _start(args: list[str], pause_at: int) -> tuple[subprocess.Popen, Path]:
        pause_file = tmp_path / f"paused-{len(started)}"
        env = {"DLRS_TEST_PAUSE_AT": str(pause_at), "DLRS_TEST_PAUSE_FILE": str(pause_file),
               "DLRS_TEST_PAUSE_MAX_S": str(scaled(300))}
        started.append(start_cli(args, cwd=tmp_path, log=tmp_path / "log.txt", env=env, command=PAUSED_CLI))
        return started[-1], pause_file

    yield _start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=scaled(60))


def _paused(proc: subprocess.Popen, pause_file: Path, log: Path) -> None:
    wait_until(pause_file.exists, timeout=CLI_TIMEOUT, what=f"the pause ({pause_file.name})", alive=proc, log=log)


def _stop(proc: subprocess.Popen, signum: int, log: Path) -> str:
    proc.send_signal(signum)
    proc.wait(timeout=scaled(120))
    return log.read_text()


def test_sigint_and_sigterm_through_the_cli_then_resume(tmp_path: Path, reference: dict, start,
                                                        capsys: pytest.CaptureFixture) -> None:
    runs, log = tmp_path / "runs", tmp_path / "log.txt"
    args = [*LONG, f"paths.runs={runs}"]
    proc, pause = start(args, pause_at=BATCHES + 2)  # held in epoch 2, batch 2
    _paused(proc, pause, log)
    output = _stop(proc, signal.SIGINT, log)
    run_dir = one_run_dir(runs)
    assert proc.returncode == 128 + signal.SIGINT, output
    assert f"interrupted (SIGINT); checkpoint written in {run_dir}; run the same command to resume" in output
    assert "Traceback" not in output
    summary = _summary(run_dir)
    assert summary["status"] == "interrupted" and summary["epochs_completed"] == 1
    stopped_at = load_checkpoint(run_dir / "checkpoint.pt")["position"]
    assert (stopped_at["epoch"], stopped_at["batch"]) == (1, 2), "it stops right after the batch it was in"
    assert read_metrics(run_dir) == reference["rows"][:1]

    # the resumed run's 9th batch: 2 left in epoch 2, 4 in epoch 3, then epoch 4, batch 3
    proc, pause = start(args, pause_at=2 + BATCHES + 3)
    _paused(proc, pause, log)
    output = _stop(proc, signal.SIGTERM, log)
    assert proc.returncode == 128 + signal.SIGTERM, output
    assert f"resuming {run_dir} at epoch 2, batch 3" in output
    assert "interrupted (SIGTERM)" in output and _summary(run_dir)["status"] == "interrupted"
    stopped_at = load_checkpoint(run_dir / "checkpoint.pt")["position"]
    assert (stopped_at["epoch"], stopped_at["batch"]) == (3, 3)
    assert read_metrics(run_dir) == reference["rows"][:3]

    capsys.readouterr()
    # the third start finishes it (in-process: given the run name the command line gave the run)
    assert _train(runs, f"run_name={run_dir.name}")["status"] == "completed"
    assert "resuming" in capsys.readouterr().out
    assert read_metrics(run_dir) == reference["rows"]


def test_sweep_survives_divergence_and_sigkill_and_restarts(tmp_path: Path, reference: dict, start) -> None:
    """One sweep: a run that diverges, then a run killed (SIGKILL) after its first checkpoint.
    Running the sweep again skips the finished run and resumes the killed one."""
    from experiments.report import load_runs

    runs, log = tmp_path / "runs", tmp_path / "log.txt"
    args = ["-m", "optimizer.lr=1e6,0.005", *LONG, f"paths.runs={runs}"]
    # held in epoch 7, batch 2 of the second job (the first diverges in epoch 1, long before its 26th batch)
    proc, pause = start(args, pause_at=6 * BATCHES + 2)
    _paused(proc, pause, log)
    proc.kill()
    assert proc.wait(timeout=scaled(60)) == -signal.SIGKILL, log.read_text()[-3000:]
    (diverging,) = runs.glob("*/*lr1000000.0*")
    (killed,) = runs.glob("*/*lr0.005*")
    assert _summary(diverging)["status"] == "diverged"
    assert len(read_metrics(diverging)) == _summary(diverging)["diverged_at_epoch"] == 1
    assert _summary(killed)["status"] == "running"
    state = load_checkpoint(killed / "checkpoint.pt")
    assert (state["epoch"], state["position"]["batch"]) == (5, 0), "the last periodic checkpoint"

    again = run_cli(args, cwd=tmp_path)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert f"already diverged: {diverging}" in again.stdout
    assert f"resuming {killed} at epoch 6" in again.stdout
    assert read_metrics(killed) == reference["rows"]
    assert not list(killed.glob(".*.tmp"))
    statuses = dict(zip(load_runs(runs, "default")["run_dir"].map(lambda d: Path(d).name),
                        load_runs(runs, "default")["status"]))
    assert statuses == {diverging.name: "diverged", killed.name: "completed"}


def test_corrupt_checkpoint_is_one_line_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = tmp_path / "runs"
    _signal_at(monkeypatch, signal.SIGTERM, 2 * BATCHES + 1)
    with pytest.raises(Interrupted):
        _train(runs)
    monkeypatch.undo()
    checkpoint = one_run_dir(runs) / "checkpoint.pt"
    data = checkpoint.read_bytes()
    checkpoint.write_bytes(data[: len(data) // 2])  # truncated, as by a failing disk
    # the command line names the run after its settings: point it at the in-process run's directory
    proc = run_cli([*LONG, f"paths.runs={runs}", f"run_name={checkpoint.parent.name}"], cwd=tmp_path)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert lines[0].startswith(f"error: checkpoint {checkpoint} is unreadable")
    assert "delete it to restart the run, or rerun with trainer.force=true" in lines[0]


def test_missing_data_without_network_is_one_line_exit_2(tmp_path: Path) -> None:
    data = tmp_path / "empty"
    data.mkdir()
    proc = run_cli(["task=mnist", "model=mnist_cnn", "trainer.epochs=1", "trainer.device=cpu", f"paths.data={data}",
                    "paths.results=results"], cwd=tmp_path, tiny=False)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert len(lines) == 1 and "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert lines[0].startswith("error: MNIST not found (download failed")
    assert "expected train-images-idx3-ubyte" in lines[0] and str(data / "MNIST" / "raw") in lines[0]
    assert not (tmp_path / "results").exists()
