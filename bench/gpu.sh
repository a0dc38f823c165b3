#!/usr/bin/env bash
# GPU benchmark: a random-weight X3D-S-shaped model (13 x 160 x 160) explained on CUDA, stage by stage, then
# the throughput of concurrent callers. Installs nothing: it uses the project's virtual environment (make venv)
# or $PYTHON. Prints the JSON; with a path as $OUT it also writes it there.
#
#   bench/gpu.sh            on CUDA when torch sees a GPU, otherwise the same run on the CPU
#   bench/gpu.sh --tiny     the CPU path at a tiny size (4 x 32 x 32): what CI runs so the script cannot rot
#   bench/gpu.sh --i3d      the real Kinetics-400 I3D (make weights) on DeepMind's sample clip, at 16 x 224 x 224,
#                           beside the reference pipeline and captum, with each method's deletion AUC
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
if [[ ! -x "$PY" ]]; then
    echo "bench/gpu.sh: $PY not found; run 'make venv' first or set PYTHON" >&2
    exit 2
fi
dev=$("$PY" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')
if [[ "${1:-}" == "--tiny" ]]; then
    args=(--random-model tiny --device cpu --repeats 3 --concurrency 2 --requests 6)
elif [[ "${1:-}" == "--i3d" ]]; then
    args=(--model i3d_kinetics400 --device "$dev" --video tests/data/v_CricketShot_g04_c01_rgb.gif --auc-videos 0
          --repeats "$([[ $dev == cuda ]] && echo 20 || echo 3)" --baseline-repeats 1)
elif "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    args=(--random-model x3d_s --device cuda --repeats 30 --concurrency 8 --requests 256)
else
    echo "bench/gpu.sh: torch sees no CUDA device; timing the X3D-S shape on the CPU instead" >&2
    args=(--random-model x3d_s --device cpu --repeats 5 --concurrency 2 --requests 8)
fi
exec "$PY" -m ace3d.cli bench "${args[@]}" ${OUT:+--json "$OUT"}
