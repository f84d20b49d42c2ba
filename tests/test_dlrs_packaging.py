"""The published artefacts: `python -m build` makes a wheel and an sdist of dlrs-repro holding the
scheduler package only (py.typed, SPDX licence, version), and the library guide's warm-up example runs
from the installed wheel. (The full check, a clean venv with torch only, is in CHANGELOG.md.)"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import dlrs
from conftest import scaled

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "MANIFEST.in", "dlrs")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist and wheel built from a copy of the files a release needs (no build dirs in the checkout)."""
    tmp = tmp_path_factory.mktemp("build")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}))
    # --no-isolation: the test venv's setuptools (>= 77, from the test extra), no download
    proc = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp / "dist"), str(src)],
                          capture_output=True, text=True, timeout=scaled(240))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not re.search(r"deprecat", proc.stdout + proc.stderr, re.I), proc.stdout + proc.stderr
    return tmp / "dist"


@pytest.mark.slow
def test_wheel_holds_the_scheduler_package_only(dist: Path) -> None:
    (wheel,) = dist.glob("dlrs_repro-*.whl")
    assert wheel.name == f"dlrs_repro-{dlrs.__version__}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    packages = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert packages == {"dlrs"}
    assert {"dlrs/py.typed", "dlrs/integrations/lightning.py"} <= set(names)
    metadata = zipfile.ZipFile(wheel).read(f"dlrs_repro-{dlrs.__version__}.dist-info/METADATA").decode()
    assert "License-Expression: MIT" in metadata and "\nLicense:" not in metadata
    assert f"Version: {dlrs.__version__}" in metadata
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert requires == ["Requires-Dist: torch<3,>=2.1"]  # torch only
    assert 'Requires-Dist: lightning>=2.0; extra == "lightning"' in metadata


@pytest.mark.slow
def test_sdist_has_the_sources_changelog_and_licence(dist: Path) -> None:
    (sdist,) = dist.glob("dlrs_repro-*.tar.gz")
    names = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
    assert {"dlrs/py.typed", "dlrs/schedulers.py", "LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml"} <= names
    assert not any(n.startswith(("tests/", "experiments/", "models/")) for n in names)


@pytest.mark.slow
def test_library_warmup_example_runs_from_the_wheel(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("dlrs_repro-*.whl")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--target", str(site),
                    str(wheel)], check=True, timeout=scaled(120))
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "library.md").read_text(), re.S)
                if "SequentialLR" in b]
    check = ("import sys, dlrs\n"
             f"assert dlrs.__file__.startswith({str(site)!r}), dlrs.__file__\n"
             "assert not any(m.startswith(('lightning', 'pytorch_lightning')) for m in sys.modules)\n")
    # the wheel's dlrs first on the path, and not the checkout (cwd is elsewhere)
    proc = subprocess.run([sys.executable, "-c", check + block], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(site), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"},
                          timeout=scaled(120))
    assert proc.returncode == 0, proc.stderr
    assert len(re.findall(r"^\d+ \S", proc.stdout, re.M)) == 6  # one line per epoch: "<epoch> <rate>"
