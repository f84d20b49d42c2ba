"""Run directories whose files are damaged: every way is one UserError line naming the file and
what to do, and nothing in the directory changes (experiments/run_dir.py validates what it reads
before the trainer writes anything). In-process, on copies of one tiny finished CPU PINN run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Callable

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import compose_config, one_run_dir
from experiments.errors import UserError
from experiments.run_dir import RunDir, run_identity
from experiments.trainer import train

BASE = ["trainer.epochs=2", "trainer.checkpoint_every=1", "trainer.progress=none"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """runs/ holding one finished run (config, metrics, summary, checkpoint, figures)."""
    runs = tmp_path_factory.mktemp("finished")
    assert train(compose_config([*BASE, f"paths.runs={runs}"]))["status"] == "completed"
    return runs


def _copy(finished: Path, to: Path, status: str = "completed") -> Path:
    """A copy of the finished run; ``status`` other than completed makes it one to resume."""
    runs = to / "runs"
    shutil.copytree(finished, runs)
    run_dir = one_run_dir(runs)
    if status != "completed":
        summary = json.loads((run_dir / "summary.json").read_text())
        (run_dir / "summary.json").write_text(json.dumps({**summary, "status": status}))
    return runs


def _snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else b"")
            for p in sorted(root.rglob("*"))}


def _checkpoint(edit: Callable[[dict], object]) -> Callable[[Path], None]:
    def damage(run_dir: Path) -> None:
        state = torch.load(run_dir / "checkpoint.pt", weights_only=False)
        torch.save(edit(state), run_dir / "checkpoint.pt")
    return damage


def _write(name: str, text: str) -> Callable[[Path], None]:
    return lambda run_dir: (run_dir / name).write_text(text)


def _edit_json(name: str, edit: Callable[[dict], dict]) -> Callable[[Path], None]:
    return lambda run_dir: (run_dir / name).write_text(json.dumps(edit(json.loads((run_dir / name).read_text()))))


def _folder_instead(name: str) -> Callable[[Path], None]:
    def damage(run_dir: Path) -> None:
        (run_dir / name).unlink()
        (run_dir / name).mkdir()
    return damage


def _cut(name: str, keep: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    return lambda run_dir: (run_dir / name).write_bytes(keep((run_dir / name).read_bytes()))


DAMAGES = [
    # config.yaml
    ("config-list", "completed", _write("config.yaml", "- a\n- b\n"), "config.yaml is damaged (it holds a list"),
    ("config-unparsable", "completed", _write("config.yaml", "task: [unclosed\n"), "config.yaml is damaged ("),
    ("config-binary", "completed", _cut("config.yaml", lambda b: b"\xff\xfe\x00\x81" + b), "config.yaml is damaged ("),
    ("config-folder", "completed", _folder_instead("config.yaml"), "config.yaml is damaged ("),
    ("config-scalar-group", "completed", _write("config.yaml", "task: 3\ntrainer: []\n"), "config.yaml is damaged ("),
    # summary.json
    ("summary-list", "completed", _write("summary.json", "[1, 2]"), "summary.json is damaged (it holds list, not an object)"),
    ("summary-number", "completed", _write("summary.json", "42"), "summary.json is damaged (it holds int, not an object)"),
    ("summary-null", "completed", _write("summary.json", "null"), "summary.json is damaged (it holds null, not an object)"),
    ("summary-string", "completed", _write("summary.json", '"completed"'), "summary.json is damaged (it holds str"),
    ("summary-truncated", "completed", _cut("summary.json", lambda b: b[: len(b) // 2]), "summary.json is damaged ("),
    ("summary-status-number", "completed", _edit_json("summary.json", lambda s: {**s, "status": 5}),
     "summary.json is damaged (status: input should be"),
    ("summary-status-unknown", "completed", _edit_json("summary.json", lambda s: {**s, "status": "done"}),
     "summary.json is damaged (status: input should be"),
    ("summary-final-list", "completed", _edit_json("summary.json", lambda s: {**s, "final": []}),
     "summary.json is damaged (final: input should be a valid dictionary"),
    ("summary-fields-missing", "completed", _write("summary.json", '{"status": "completed"}'),
     "summary.json is damaged (epochs: field required)"),
    ("summary-folder", "completed", _folder_instead("summary.json"), "cannot read "),
    # metrics.csv of a finished run
    ("metrics-cut-mid-row", "completed", _cut("metrics.csv", lambda b: b[: b.rindex(b",")]),
     "metrics.csv is damaged (row 2 is cut short)"),
    ("metrics-row-lost", "completed", _cut("metrics.csv", lambda b: b"\n".join(b.split(b"\n")[:2]) + b"\n"),
     "metrics.csv is damaged (1 rows, but summary.json has 2 epochs)"),
    ("metrics-header", "completed", _cut("metrics.csv", lambda b: b"garbage\n" + b), "metrics.csv is damaged (its header"),
    ("metrics-missing", "completed", lambda d: (d / "metrics.csv").unlink(), "metrics.csv is damaged (it is missing"),
    ("metrics-binary", "completed", _cut("metrics.csv", lambda b: b"\xff\xfe" + b), "metrics.csv is damaged ("),
    # checkpoint.pt of a run to resume
    ("checkpoint-truncated", "interrupted", _cut("checkpoint.pt", lambda b: b[: len(b) // 2]), "is unreadable"),
    ("checkpoint-list", "interrupted", _checkpoint(lambda s: [1, 2, 3]), "is not a checkpoint of this trainer"),
    ("checkpoint-position", "interrupted", _checkpoint(lambda s: {**s, "position": "epoch 2"}),
     "is damaged (position: input should be a valid dictionary"),
    ("checkpoint-batch-text", "interrupted",
     _checkpoint(lambda s: {**s, "position": {**s["position"], "batch": "3"}}), "is damaged (position.batch:"),
    ("checkpoint-rows", "interrupted", _checkpoint(lambda s: {**s, "rows": s["rows"][:1]}),
     "is damaged (epoch 2, position at epoch 2, 1 rows)"),
    ("checkpoint-keys-missing", "interrupted", _checkpoint(lambda s: {"epoch": 2, "identity": s["identity"]}),
     "is damaged (position: field required)"),
    ("checkpoint-model", "interrupted", _checkpoint(lambda s: {**s, "model": {"weight": torch.zeros(3)}}),
     "does not fit this run (RuntimeError: Error(s) in loading state_dict"),
    ("checkpoint-rng", "interrupted", _checkpoint(lambda s: {**s, "torch_rng": "seed"}),
     "does not fit this run (AttributeError"),
    ("checkpoint-python-rng", "interrupted", _checkpoint(lambda s: {**s, "python_rng": [3, [1, 2], None]}),
     "is damaged (python_rng: input should be a valid tuple"),
]


@pytest.mark.parametrize(("name", "status", "damage", "expected"), DAMAGES, ids=[d[0] for d in DAMAGES])
def test_damaged_file_is_one_line_and_nothing_changes(name, status, damage, expected, finished: Path,
                                                      tmp_path: Path) -> None:
    runs = _copy(finished, tmp_path, status)
    run_dir = one_run_dir(runs)
    damage(run_dir)
    before = _snapshot(runs)
    with pytest.raises(UserError) as error:
        train(compose_config([*BASE, f"paths.runs={runs}"]))
    message = str(error.value)
    assert "\n" not in message and expected in message, message
    assert "delete it" in message or "trainer.force=true" in message, message
    assert _snapshot(runs) == before, "a damaged run directory is left exactly as it was"


def test_force_starts_a_damaged_run_over(finished: Path, tmp_path: Path) -> None:
    runs = _copy(finished, tmp_path)
    run_dir = one_run_dir(runs)
    (run_dir / "summary.json").write_text("[]")
    assert train(compose_config([*BASE, f"paths.runs={runs}", "trainer.force=true"]))["status"] == "completed"
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"


def test_an_intact_finished_run_is_skipped_without_writing(finished: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture) -> None:
    runs = _copy(finished, tmp_path)
    before = _snapshot(runs)
    assert train(compose_config([*BASE, f"paths.runs={runs}"]))["status"] == "completed"
    assert "already completed" in capsys.readouterr().out
    assert _snapshot(runs) == before


def test_run_dir_reads_what_the_trainer_wrote(finished: Path) -> None:
    cfg = compose_config([*BASE, f"paths.runs={finished}"])
    run_dir = RunDir(cfg.run_dir, run_identity(cfg))
    assert run_dir.mode(force=False, resume=True) == "skip"
    assert run_dir.read_summary()["epochs_completed"] == 2
    state = run_dir.load_checkpoint("cpu")
    assert state["epoch"] == 2 and len(state["rows"]) == 2 and state["identity"] == run_identity(cfg)
    assert RunDir(cfg.run_dir, {**run_identity(cfg), "run_name": "other"}).mode(force=True, resume=True) == "fresh"


def test_a_checkpoint_from_before_the_key_renames_resumes(finished: Path, tmp_path: Path) -> None:
    """Runs checkpointed before task.lr / task.epochs moved to optimizer.lr / trainer.epochs store
    those keys in their identity; they are the same run and must resume, not be refused."""
    runs = _copy(finished, tmp_path, status="interrupted")
    cfg = compose_config([*BASE, f"paths.runs={runs}"])
    path = Path(cfg.run_dir) / "checkpoint.pt"
    state = torch.load(path, weights_only=False)
    state["identity"]["task"].update(lr=0.005, epochs=1500)
    torch.save(state, path)
    assert RunDir(cfg.run_dir, run_identity(cfg)).load_checkpoint("cpu")["epoch"] == 2
    state["identity"]["task"]["frequency"] = 1234.0  # a key that changes the run still refuses
    torch.save(state, path)
    with pytest.raises(UserError, match="different config"):
        RunDir(cfg.run_dir, run_identity(cfg)).load_checkpoint("cpu")


FILES = ["config.yaml", "summary.json", "metrics.csv", "checkpoint.pt"]


@given(file=st.sampled_from(FILES), where=st.floats(0, 1), byte=st.integers(0, 255), cut=st.booleans(),
       status=st.sampled_from(["completed", "interrupted"]))
@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_random_damage_is_harmless_or_one_line(finished: Path, tmp_path_factory: pytest.TempPathFactory, file: str,
                                               where: float, byte: int, cut: bool, status: str) -> None:
    """Cut a file short, or change one byte of it: the run is skipped or resumed as before, or the
    command stops with one line and leaves the directory as it was."""
    runs = _copy(finished, tmp_path_factory.mktemp("damage"), status)
    path = one_run_dir(runs) / file
    data = bytearray(path.read_bytes())
    at = min(int(where * len(data)), len(data) - 1)
    if cut or file == "checkpoint.pt":  # a flipped byte inside a tensor is not detectable, and harmless
        data = data[:at]
    else:
        data[at] = byte
    path.write_bytes(bytes(data))
    before = _snapshot(runs)
    try:
        summary = train(compose_config([*BASE, f"paths.runs={runs}"]))
    except UserError as e:
        message = str(e)
        assert "\n" not in message, message
        assert any(name in message for name in (*FILES, "checkpoint", "different config")), message
        assert _snapshot(runs) == before
    else:
        assert summary["status"] == "completed"


def test_a_run_records_what_its_rerun_needs(tmp_path: Path) -> None:
    """summary.json's ``rerun``: the thread count, the torch build and the CPU's vector instructions
    (a long PINN run on another CPU can end elsewhere), and the commit."""
    rerun = train(compose_config(["trainer.epochs=1", "trainer.progress=none", f"paths.runs={tmp_path}"]))["rerun"]
    assert (rerun["threads"], rerun["torch"]) == (torch.get_num_threads(), torch.__version__)
    assert rerun["cpu"] == torch.backends.cpu.get_cpu_capability() and rerun["commit"]
