"""Rewrite the generated blocks of README.md and docs/ from the committed results/tables/.

    python scripts/sync_docs.py           # rewrite (make docs; make report does it too)
    python scripts/sync_docs.py --check   # exit 1 and name the stale documents, change nothing

A block is the text between ``<!-- begin generated: NAME -->`` and ``<!-- end generated -->``;
NAME is ``findings`` (the README's findings table) or a ``results/tables/*.md`` file
(experiments/report/generated_docs.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # run from a checkout without install

from experiments.report.generated_docs import sync_documents  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report stale documents (exit 1 if any)")
    args = parser.parse_args(argv)
    try:
        stale = sync_documents(REPO, check=args.check)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name in stale:
        print(f"{name}: {'stale' if args.check else 'rewritten'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
