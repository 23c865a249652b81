#!/usr/bin/env bash
# The generator ablation of issue #15 ("OuroMamba-Gen that earns its place"): for each seed,
# 128 synthetic images from each generator (output-only, pse, contrastive-raw, ouromamba), then
# `compare` of real:128, noise:128 and the four sets under every method at W4A4 and W4A8 on the
# full test split. Finally a table of mean ± std over the seeds (scripts/ablation-table.py).
#
#   scripts/gen-ablation.sh MODEL OUT [SEED ...]       # seeds default to 0 1 2
#
# Environment: B (binary, default .build/release/ouromamba), GEN_OPTS (extra `generate` flags on
# top of the recommended Gen defaults, e.g. "--lr 0.05" or "--gen-defaults spec"), ITERATIONS (Adam iterations, default 500), LIMIT (test
# images, default all), SETTINGS (default w4a4,w4a8). Finished steps are kept: rerunning
# resumes (a generated set is reused when its folder has samples.safetensors, a seed's compare
# when it has compare.json).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 MODEL OUT [SEED ...]" >&2; exit 2; }
MODEL=$1; OUT=$2; shift 2
SEEDS=${*:-0 1 2}
B=${B:-.build/release/ouromamba}
ITERATIONS=${ITERATIONS:-500}
SETTINGS=${SETTINGS:-w4a4,w4a8}
GENERATORS="output-only pse contrastive-raw ouromamba"
METHODS=static-minmax,static-per-token,static-outlier-list,ouromamba
[ -f "$MODEL" ] || { echo "$0: model $MODEL not found" >&2; exit 2; }
mkdir -p "$OUT"
# Faster FP32 GEMMs where OpenBLAS falls back to its Prescott kernels (see train-models.sh);
# the choice changes floating-point results, so it is recorded next to the table.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  core=$(scripts/openblas-core.sh "$B")
  [ -n "$core" ] && export OPENBLAS_CORETYPE=$core
fi
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}, GEN_OPTS=${GEN_OPTS:-}, ITERATIONS=$ITERATIONS, seeds: $SEEDS" > "$OUT/settings.txt"
for s in $SEEDS; do
  dir="$OUT/seed$s"
  sources="real:128,noise:128"
  for g in $GENERATORS; do
    set_dir="$dir/$g"
    if [ ! -f "$set_dir/samples.safetensors" ]; then
      # shellcheck disable=SC2086
      "$B" generate --model "$MODEL" --method "$g" --count 128 --seed "$s" --iterations "$ITERATIONS" \
        ${GEN_OPTS:-} --out "$set_dir" --quiet
    fi
    sources="$sources,$set_dir"
  done
  if [ ! -f "$dir/compare/compare.json" ]; then
    "$B" compare --model "$MODEL" --seed "$s" --calib-sources "$sources" --methods "$METHODS" \
      --settings "$SETTINGS" ${LIMIT:+--limit "$LIMIT"} --out "$dir/compare" --quiet
  fi
done
python3 scripts/ablation-table.py "$OUT"/seed*/compare/compare.json | tee "$OUT/ablation.md"
