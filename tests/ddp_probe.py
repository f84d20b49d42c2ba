"""``torchrun --nproc_per_node=N tests/ddp_probe.py OUT_DIR CONFIGS_JSON``: train each config (a
JSON list of override lists) through ``experiments.trainer.train`` on every rank, with the probes
of tests/probes.py, and a training loss multiplied by (1 + rank) so that it differs per rank.
Each rank writes ``OUT_DIR/rank<r>-<i>.json``: what its schedule observed, and the summary.
A test helper, not a test (see tests/test_rules_through_trainer.py).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

import pytest  # noqa: E402
import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402

from conftest import compose_config  # noqa: E402
from experiments.trainer import train  # noqa: E402
from probes import Probe  # noqa: E402


def rank_factor(rank: int) -> float:
    return 1.0 + rank


def main(out_dir: str, configs_json: str) -> None:
    out, rank = Path(out_dir), int(os.environ["RANK"])
    torch.set_num_threads(1)
    factor = rank_factor(rank)
    destroy = dist.destroy_process_group
    for i, overrides in enumerate(json.loads(configs_json)):
        with pytest.MonkeyPatch.context() as mp, Probe(mp, loss_hook=lambda loss: loss * factor) as probe:
            # one process group for all runs (train() initialises it once; re-creating it hangs)
            mp.setattr(dist, "destroy_process_group", lambda *args, **kwargs: None)
            summary = train(compose_config(overrides))
        record = {"rank": rank, "factor": factor, "observed": [asdict(o) for o in probe.observed],
                  "summary": summary}
        (out / f"rank{rank}-{i}.json").write_text(json.dumps(record))
    if dist.is_initialized():
        destroy()


if __name__ == "__main__":
    main(*sys.argv[1:])
