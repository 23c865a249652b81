#!/usr/bin/env bash
# The generator ablation of issue #15 ("OuroMamba-Gen that earns its place"): for each seed,
# 128 synthetic images from each generator (output-only, pse, contrastive-raw, ouromamba), then
# `compare` of real:128, noise:128 and the four sets under every method at W4A4 and W4A8 on the
# full test split. Finally a table of mean ± std over the seeds (scripts/ablation-table.py).
#
#   scripts/gen-ablation.sh MODEL OUT [SEED ...]       # seeds default to 0 1 2
#
# Environment: B (binary, default .build/release/ouromamba), GEN_OPTS (extra `generate` flags on
# top of the recommended Gen defaults, e.g. "--lr 0.05" or "--gen-defaults spec"), ITERATIONS (Adam
# iterations; default: the Gen defaults', 200 in the recommended ones), LIMIT (test
# images, default all), SETTINGS (default w4a4,w4a8), WORKERS (local Gen workers, default 2),
# THREADS (compare's threads, default all cores). Two seeds side by side on 2 cores:
#   WORKERS=1 THREADS=1 scripts/gen-ablation.sh MODEL OUT 1 & WORKERS=1 THREADS=1 scripts/gen-ablation.sh MODEL OUT 2
# then once more with all seeds: it skips the finished work and writes the table of all of them.
# Resumable (scripts/lib/study.sh): rerunning skips finished sets and compares, and continues an
# interrupted set after its last finished block.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 MODEL OUT [SEED ...]" >&2; exit 2; }
MODEL=$1; OUT=$2; shift 2
SEEDS=${*:-0 1 2}
B=${B:-.build/release/ouromamba}
SETTINGS=${SETTINGS:-w4a4,w4a8}
GENERATORS="output-only pse contrastive-raw ouromamba"
METHODS=static-minmax,static-per-token,static-outlier-list,ouromamba
[ -f "$MODEL" ] || { echo "$0: model $MODEL not found" >&2; exit 2; }
mkdir -p "$OUT"
# shellcheck source=lib/study.sh
. scripts/lib/study.sh
# Faster FP32 GEMMs where OpenBLAS falls back to its Prescott kernels (see train-models.sh);
# the choice changes floating-point results, so it is recorded next to the table.
eval "$(scripts/openblas-core.sh --export "$B")"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, GEN_OPTS=${GEN_OPTS:-}, ITERATIONS=${ITERATIONS:-default}, seeds: $SEEDS" >> "$OUT/settings.txt"
results=()
for s in $SEEDS; do
  dir="$OUT/seed$s"
  sources=(real:128 noise:128)
  for g in $GENERATORS; do
    # shellcheck disable=SC2086
    generate_set "$dir/$g" --method "$g" --count 128 --seed "$s" ${ITERATIONS:+--iterations "$ITERATIONS"} ${GEN_OPTS:-}
    sources+=("$dir/$g")
  done
  compare_each "$dir/compare" "$s" "${sources[@]}" > "$dir/compare.list"
  mapfile -t -O "${#results[@]}" results < "$dir/compare.list"
done
python3 scripts/ablation-table.py "${results[@]}" | tee "$OUT/ablation.md"
