#!/usr/bin/env bash
# Bank build: the local engine (torch's default threads, and one thread) against the Ray engine with 1 and 2
# map-stage workers (one CPU each), on the same synthetic set, interleaved (local, local at one thread, ray 1,
# ray 2, then again) so that drifting load on a shared machine hits all of them alike.
# Each run starts from an empty work directory (nothing resumed) and prints its per-stage summary; a last line
# per run gives the wall time of the whole command (Ray's start included). Installs nothing.
#
#   bench/bank_engines.sh [ROUNDS] [PER_CLASS]      defaults: 2 rounds, 6 videos per class (+ 8 random)
#   FEATURE_MODE=ace bench/bank_engines.sh 1        the paper's features: one forward per supervoxel
#   VARIANTS="local-1thread ray1 ray2" bench/bank_engines.sh    a subset of the runs
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
ROUNDS=${1:-2}
PER_CLASS=${2:-6}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ace3d-bank-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
"$PY" -m ace3d.cli synth --out "$WORK/data" --per-class "$PER_CLASS" --random 8 --seed 1 >/dev/null
ARGS=(--data "$WORK/data" --random-sets 10 --clusters 10 --min-members 5 --feature-mode "${FEATURE_MODE:-pooled}")
run() {  # label, extra args...
    local label=$1; shift
    rm -rf "$WORK/shards"
    local t0; t0=$("$PY" -c 'import time; print(time.time())')
    "$PY" -m ace3d.cli build-bank "${ARGS[@]}" --out "$WORK/$label.npz" --work-dir "$WORK/shards" "$@" 2>/dev/null \
        | grep -E '^(engine|wall|work|videos:)'
    echo "$label: whole command $("$PY" -c 'import sys, time; print(round(time.time() - float(sys.argv[1]), 1))' "$t0") s"
}
VARIANTS=${VARIANTS:-local local-1thread ray1 ray2}
for r in $(seq "$ROUNDS"); do
    echo "== round $r"
    for v in $VARIANTS; do
        case $v in
            local) run local ;;
            local-1thread) OMP_NUM_THREADS=1 run local-1thread ;;  # torch, BLAS, OpenMP at one thread, as a Ray worker
            ray1) run ray1 --engine ray --workers 1 ;;
            ray2) run ray2 --engine ray --workers 2 ;;
        esac
    done
done
