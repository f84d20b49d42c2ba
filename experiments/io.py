"""Atomic result files: every CSV, JSON and checkpoint is written to a temp file and renamed,
so a crash or a full disk never leaves a half-written file behind."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Mapping

import torch

from .errors import UserError


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise UserError(f"disk full while writing {path}: free some space and resume the run") from None
        if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise UserError(f"cannot write {path} ({e.strerror}): choose a writable paths.results=...") from None
        raise


def write_text_atomic(path: Path, text: str) -> None:
    _write_bytes_atomic(path, text.encode())


def write_json_atomic(path: Path, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, allow_nan=True) + "\n")


def write_csv_atomic(path: Path, rows: Iterable[Mapping[str, Any]], fieldnames: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fieldnames, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, buf.getvalue())


def save_checkpoint_atomic(path: Path, state: dict[str, Any]) -> None:
    buf = io.BytesIO()
    torch.save(state, buf)
    _write_bytes_atomic(path, buf.getvalue())


def load_checkpoint(path: Path, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    """Load a checkpoint or raise a one-line UserError if it is truncated or corrupt."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as e:  # torch raises several types for a damaged zip/pickle
        raise UserError(
            f"checkpoint {path} is unreadable ({type(e).__name__}); delete it to restart the run, "
            f"or rerun with trainer.force=true"
        ) from None
    if not isinstance(state, dict) or "epoch" not in state:
        raise UserError(f"checkpoint {path} is not a checkpoint of this trainer; delete it or use trainer.force=true")
    return state


def read_json(path: Path) -> Any:
    with open(path) as f:
        return json.load(f)
