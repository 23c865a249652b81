#!/usr/bin/env bash
# Cluster scaling benchmark (not a test): Gen of 32 samples x 100 iterations with 1 worker vs
# 2 workers (or WORKERS), 1 thread each (OPENBLAS_NUM_THREADS=1), on MODEL. Prints both wall
# times (process start to files written) and the speed-up (target >= 1.7x for 2 workers on an
# otherwise idle machine with >= 2 cores), and checks the sample sets are byte-identical.
#   scripts/bench-cluster.sh [MODEL] [SAMPLES] [ITERATIONS] [WORKERS]
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-models/vim-fashion.safetensors}"
samples="${2:-32}"
iterations="${3:-100}"
workers="${4:-2}"
bin="${OUROMAMBA_BIN:-.build/release/ouromamba}"
[[ -f "$model" ]] || { echo "bench-cluster: model $model not found" >&2; exit 2; }
[[ -x "$bin" ]] || { echo "bench-cluster: $bin not found (swift build -c release)" >&2; exit 2; }
out="$(mktemp -d /tmp/ouromamba-bench-cluster.XXXXXX)"
trap 'rm -rf "$out"' EXIT

run() {  # workers → seconds
    local start end
    start=$(date +%s.%N)
    OPENBLAS_NUM_THREADS=1 "$bin" generate --model "$model" --count "$samples" --iterations "$iterations" \
        --out "$out/w$1" --workers "$1" --worker-threads 1 --quiet >/dev/null
    end=$(date +%s.%N)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}

echo "model $model, $samples samples x $iterations iterations, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
t1=$(run 1)
tn=$(run "$workers")
awk -v a="$t1" -v b="$tn" -v n="$workers" 'BEGIN { printf "1 worker : %7.2f s\n%d workers: %7.2f s\nspeed-up : %5.2fx\n", a, n, b, a / b }'
if cmp -s "$out/w1/samples.safetensors" "$out/w$workers/samples.safetensors"; then
    echo "samples.safetensors: identical"
else
    echo "samples.safetensors: DIFFER" >&2; exit 1
fi
