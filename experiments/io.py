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
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .errors import UserError

if TYPE_CHECKING:  # annotations only: the report tools use this module without torch
    import torch

# mkstemp creates files readable by their owner only; result files get the usual umask mode instead
_UMASK = os.umask(0o022)
os.umask(_UMASK)
TEMP_GLOB = ".*.tmp"  # leftovers of writes cut short by SIGKILL or a power cut


def _not_a_directory(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` that is not a directory (it blocks mkdir)."""
    for parent in path.parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o666 & ~_UMASK)
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
            raise UserError(f"disk full while writing {path} ({e.strerror}): free some space, then run the same "
                            "command again to resume from the last checkpoint") from None
        blocker = _not_a_directory(path) if e.errno in (errno.ENOTDIR, errno.EEXIST) else None
        if blocker is not None:
            raise UserError(f"cannot write {path}: {blocker} is a file, not a directory; "
                            "choose another paths.results=...") from None
        if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR):
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
    import torch  # here, so that the report tools can use this module without torch

    buf = io.BytesIO()
    torch.save(state, buf)
    _write_bytes_atomic(path, buf.getvalue())


def load_checkpoint(path: Path, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    """Load a checkpoint or raise a one-line UserError if it is truncated or corrupt."""
    import torch

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
    """The parsed file, or a one-line UserError if it is damaged (e.g. edited by hand)."""
    try:
        with open(path) as f:
            return json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        reason = " ".join(str(e).split())[:160] or type(e).__name__
        raise UserError(f"{path} is damaged ({reason}); delete it, or rerun with trainer.force=true to start over"
                        ) from None
    except OSError as e:  # a folder in its place, no permission, ...
        raise UserError(f"cannot read {path} ({e.strerror or type(e).__name__}); delete it, or rerun with "
                        "trainer.force=true to start over") from None
