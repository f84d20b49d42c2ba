#!/usr/bin/env bash
# One bounded GPU session (< 8 minutes): everything the performance claims rest on, in one go.
#   1. images/s of the five Table 1 models, fp32 against bf16 autocast + channels_last (batch 128)
#   2. Helmholtz PINN epoch time, forward-mode derivatives against nested autograd
#   3. host syncs per training step and the schedules' share of an epoch (static, DLRS, Adacomp)
#   4. one short Fig. 8 run (SimpleDLA, CIFAR-10 format fixture data, 2 epochs, bf16 + channels_last)
#
#   bash scripts/gpu_check.sh                 # on a CUDA machine, from anywhere
#   PYTHON=/path/to/python bash scripts/gpu_check.sh
#   GPU_CHECK_SMOKE=1 bash scripts/gpu_check.sh   # CPU, tiny settings: checks the script itself
#
# Each step has its own time limit; a step that fails or runs out of time is reported and the
# next one still runs. The exit status is the number of failed steps.
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
if [ ! -x "$PYTHON" ]; then
    echo "no $PYTHON (run 'make setup', or set PYTHON=...); using python3" >&2
    PYTHON="$(command -v python3)"
fi
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
BUDGET_S=450   # the whole script; steps that would not fit are skipped
FAILED=0

if [ "${GPU_CHECK_SMOKE:-0}" = 1 ]; then
    DEVICE=cpu
    MODELS_ARGS=(--device cpu --models mobilenetv2 --batch 2 --steps 1 --warmup 0)
    PINN_ARGS=(--device cpu --repeats 1 --warmup 0 --batches 2)
    SCHED_ARGS=(--device cpu --epochs 2 --rounds 1 --set task.n_points=400 task.batch_size=100)
    N_TRAIN=64; N_TEST=32; FIG8_EXTRA=(trainer.precision=fp32 trainer.channels_last=false)
else
    DEVICE=cuda
    if ! "$PYTHON" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'; then
        echo "CUDA is not available to $PYTHON; this script measures a GPU (GPU_CHECK_SMOKE=1 for a CPU dry run)" >&2
        exit 1
    fi
    MODELS_ARGS=(--device cuda --batch 128 --steps 20 --warmup 5)
    PINN_ARGS=(--device cuda --repeats 5 --warmup 2)
    SCHED_ARGS=(--device cuda --epochs 4 --rounds 2)
    N_TRAIN=10000; N_TEST=2000; FIG8_EXTRA=(trainer.precision=bf16 trainer.channels_last=true)
fi

# step LIMIT_S TITLE COMMAND...: run COMMAND under `timeout`, within what is left of the budget
step() {
    local limit=$1 title=$2 left=$((BUDGET_S - SECONDS)) rc
    shift 2
    [ "$limit" -gt "$left" ] && limit=$left
    echo
    echo "=== $title (limit ${limit} s) ==="
    if [ "$limit" -lt 10 ]; then
        echo "SKIPPED: the ${BUDGET_S} s budget is spent"; FAILED=$((FAILED + 1)); return
    fi
    local t0=$SECONDS
    timeout --signal=TERM --kill-after=10 "$limit" "$@"
    rc=$?
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then echo "TIMED OUT after ${limit} s"; FAILED=$((FAILED + 1))
    elif [ $rc -ne 0 ]; then echo "FAILED (exit $rc)"; FAILED=$((FAILED + 1))
    else echo "--- done in $((SECONDS - t0)) s"; fi
}

"$PYTHON" - <<'EOF'
import torch
name = torch.cuda.get_device_name() if torch.cuda.is_available() else "no CUDA"
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, device: {name}")
EOF

step 150 "1. Table 1 models: images/s, fp32 vs bf16 + channels_last" \
    "$PYTHON" scripts/bench_models.py "${MODELS_ARGS[@]}"
step 60 "2. Helmholtz PINN epoch time" "$PYTHON" scripts/bench_pinn.py "${PINN_ARGS[@]}"
step 90 "3. host syncs per step and schedule cost (static / DLRS / Adacomp)" \
    "$PYTHON" scripts/bench_schedulers.py "${SCHED_ARGS[@]}"

# Fixture data in the real CIFAR-10 format (random pixels: the accuracy means nothing, the speed does).
step 60 "4a. CIFAR-10 format fixture data ($N_TRAIN + $N_TEST images)" "$PYTHON" -c \
    "import sys; from experiments.fixtures import write_cifar10; print(write_cifar10(sys.argv[1], $N_TRAIN, $N_TEST))" \
    "$WORK/data"
step 150 "4b. one Fig. 8 run: SimpleDLA, batch 128, DLRS, 2 epochs, ${FIG8_EXTRA[*]}" \
    "$PYTHON" -m experiments.run +experiment=fig8 task.batch_size=128 schedule=dlrs trainer.epochs=2 \
    trainer.device="$DEVICE" trainer.progress=log task.download=false "${FIG8_EXTRA[@]}" \
    paths.data="$WORK/data" paths.results="$WORK/results"
"$PYTHON" - "$WORK/results" "$N_TRAIN" <<'EOF'
import csv, sys
from pathlib import Path
for metrics in Path(sys.argv[1]).glob("runs/*/*/metrics.csv"):
    for row in csv.DictReader(open(metrics)):
        s = float(row["epoch_time_s"])
        print(f"fig8 epoch {row['epoch']}: {s:.2f} s, {int(sys.argv[2]) / s:.0f} train images/s, lr {float(row['lr']):.3g}")
EOF

echo
echo "gpu_check: $FAILED step(s) failed, ${SECONDS} s in all"
exit $FAILED
