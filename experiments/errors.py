"""Errors a user can cause and fix. The command line prints them as one line and exits 2."""

from __future__ import annotations

import sys
from typing import NoReturn


class UserError(Exception):
    """A bad configuration value, a missing file or a similar mistake the user can fix."""


class DataMissingError(UserError):
    """The dataset files are not under the data root and could not be downloaded."""


def fail(message: str, code: int = 2) -> NoReturn:
    """End the command with ``message`` as one ``error:`` line on stderr."""
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(code)
