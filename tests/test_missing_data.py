"""A dataset that is not there and cannot be downloaded: one line, and the file system as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_cli
from experiments.errors import DataMissingError


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
