"""Facts shared by the trainer, the run directory, run naming and the reports: each written once.

No imports beyond the standard library, so the reports (no torch) and the command line can use it.
"""

from __future__ import annotations

# A run's status in summary.json; a finished run is skipped when its command runs again.
STATUSES = ("running", "completed", "diverged", "interrupted", "failed")
FINISHED = ("completed", "diverged")
# The reports' order of statuses ("incomplete": a folder with metrics.csv but no readable summary.json).
STATUS_ORDER = ("completed", "diverged", "running", "interrupted", "failed", "incomplete")

# Settings that change how a run executes but not what it computes: a run directory may be resumed
# or skipped even if these differ, and a run name never shows them. ``None``: the whole section.
EXECUTION_ONLY: dict[str, tuple[str, ...] | None] = {
    "trainer": ("resume", "force", "device", "progress", "checkpoint_every", "cudnn_benchmark", "tensorboard"),
    "task": ("download", "num_workers"),  # where the data comes from, not what it is
    "paths": None, "run_dir": None, "report": None,  # report: how the report draws the experiment
}
# Keys that older runs' configs still hold but that moved, and where each is set now: the command line
# points an old name to its new one.
MOVED_TO = {"task.data_root": "paths.data", "task.lr": "optimizer.lr", "task.epochs": "trainer.epochs",
            "model.lr": "optimizer.lr"}
# They, and model._target_, which older configs lack and which only restates model.name's class, per
# section: ignored when comparing a stored run with a new config, so those runs still resume.
MOVED_KEYS = {section: tuple(key.partition(".")[2] for key in (*MOVED_TO, "model._target_")
                             if key.startswith(f"{section}.")) for section in ("task", "model")}


def execution_only_keys() -> set[str]:
    """EXECUTION_ONLY as dotted keys (``trainer.device``), for sections listed key by key."""
    return {f"{section}.{key}" for section, keys in EXECUTION_ONLY.items() if keys for key in keys}
