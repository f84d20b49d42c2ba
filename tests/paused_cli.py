"""``python tests/paused_cli.py [experiments.run arguments]``: the real command line with a
test-only pause point, so that the signal tests never race the run (test helper, not a test).

It runs ``experiments.run.main()`` unchanged, after two patches in this process only:

* each run's schedule pauses in its ``DLRS_TEST_PAUSE_AT``-th ``observe()`` call, i.e. inside the
  training loop after that batch's optimizer step, where the trainer's SIGINT/SIGTERM handlers
  are installed. The pause writes ``DLRS_TEST_PAUSE_FILE`` (the process id) and waits;
* ``signal.signal`` notes every SIGINT/SIGTERM handler that has *run*. The pause ends only once
  one has, so the trainer has seen the signal before the batch finishes, and stops right after
  batch N whatever the machine's load. A SIGKILL simply ends the paused process.

Counting is per schedule object, i.e. per run: in a sweep each job counts from 1. If no signal
comes within ``DLRS_TEST_PAUSE_MAX_S`` seconds (default 600) the run fails instead of hanging.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys
import time
from pathlib import Path
from typing import Any, Callable

_handled: list[int] = []
_real_signal = signal.signal


def _noting_signal(signum: int, handler: Any) -> Any:
    if signum in (signal.SIGINT, signal.SIGTERM) and callable(handler):
        inner: Callable[[int, Any], Any] = handler

        def handler(sig: int, frame: Any) -> Any:
            try:
                return inner(sig, frame)
            finally:
                _handled.append(sig)

    return _real_signal(signum, handler)


def _pause(pause_file: Path, max_s: float) -> None:
    seen = len(_handled)
    tmp = pause_file.with_name(pause_file.name + ".tmp")
    tmp.write_text(f"{os.getpid()}\n")
    os.replace(tmp, pause_file)  # the test never sees a half-written file
    deadline = time.monotonic() + max_s
    while len(_handled) == seen:
        if time.monotonic() > deadline:
            raise RuntimeError(f"paused_cli: no SIGINT/SIGTERM within {max_s:.0f} s of the pause")
        time.sleep(0.005)


def _install(pause_at: int, pause_file: Path, max_s: float) -> None:
    import experiments.builders
    import experiments.trainer

    real_build = experiments.trainer.build_schedule

    def build_schedule(*args: Any, **kwargs: Any) -> Any:
        schedule = real_build(*args, **kwargs)
        observe, count = schedule.observe, [0]

        def paused_observe(*a: Any, **k: Any) -> Any:
            result = observe(*a, **k)
            count[0] += 1
            if count[0] == pause_at:
                _pause(pause_file, max_s)
            return result

        schedule.observe = paused_observe  # on this instance only: whatever class the schedule is
        return schedule

    experiments.trainer.build_schedule = build_schedule
    if getattr(experiments.builders, "build_schedule", None) is real_build:
        experiments.builders.build_schedule = build_schedule
    signal.signal = _noting_signal


def main() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout, as with -m
    _install(int(os.environ["DLRS_TEST_PAUSE_AT"]), Path(os.environ["DLRS_TEST_PAUSE_FILE"]),
             float(os.environ.get("DLRS_TEST_PAUSE_MAX_S", "600")))
    # as `python -m experiments.run` does: Hydra finds configs/ relative to a __main__ module's file
    runpy.run_module("experiments.run", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
