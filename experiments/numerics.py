"""Where a CPU run's last bits come from, and the setting that pins them (``trainer.numerics``;
``trainer.threads`` fixes the other half, the thread count).

A long PINN trajectory is chaotic: the last bits of one matrix product decide, thousands of epochs
later, where the run ends. Those bits depend on the thread count (how a sum is split) and on the
vector code path each library picks for the CPU it finds: MKL (matrix products), oneDNN
(convolutions) and ATen's own kernels (element-wise ops and reductions). Left to choose, MKL takes
another path on an AMD EPYC than on an Intel Xeon, although both report AVX512, and a committed run
ended 1.2 % elsewhere. ``numerics: pinned`` caps all three at AVX2, which every x86 CPU of the last
decade has and which MKL's conditional numerical reproducibility documents as giving the same
results on Intel and compatible CPUs. Its cost, measured with scripts/bench_numerics.py (AMD EPYC,
one thread, 2026-12-07): none on the PINN (87.6 against 94.6 ms an epoch), 15 % on the MNIST CNN
(2.96 against 2.57 s an epoch of 2 000 images); GPU runs do not use these libraries' CPU paths.

The libraries read these variables when they first compute, so ``pin`` must run before the first
tensor operation of the process: ``python -m experiments.run`` applies it before it imports the
trainer; ``train()`` applies it again for callers from Python, where it takes effect only if the
process has not computed yet (tests/conftest.py pins its processes at import for that reason). What was in force is
recorded in each run's ``summary.json`` (``rerun``), with the CPU's vendor and model.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Optional

# the AVX2 code path of each library: MKL's CNR branch, oneDNN's ISA cap, ATen's dispatch
PINNED_ENV = {"MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": "avx2"}
NUMERICS = ("pinned", "native")


def pin(numerics: str) -> None:
    """``pinned``: set PINNED_ENV for this process and those it starts; ``native``: leave the
    environment as it is (each library picks its fastest path for this CPU)."""
    if numerics == "pinned":
        os.environ.update(PINNED_ENV)


def cpu_model() -> dict[str, Optional[str]]:
    """The CPU's vendor and model name, as the kernel reports them (Linux), else ``platform``'s guess."""
    vendor = model = None
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "vendor_id" and vendor is None:
                vendor = value
            elif key == "model name" and model is None:
                model = value
            if vendor and model:
                break
    return {"cpu_vendor": vendor, "cpu_model": model or platform.processor() or None}


def in_force() -> dict[str, Optional[str]]:
    """The pinning variables as this process sees them (None: unset)."""
    return {name: os.environ.get(name) for name in PINNED_ENV}
