#!/usr/bin/env bash
# Reproduces the figures of docs/results.md on the embedded model (full 10k test split):
#  1. every generator's 128 samples (defaults: 500 iterations), with time and label fidelity;
#  2. the calibration-source × setting matrix for OuroMamba-Quant;
#  3. the baselines at W4A4 on the same data.
# Takes about 30-40 minutes on 2 cores. Output: runs/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
B=.build/release/ouromamba
OUT=${OUT:-runs/results}
mkdir -p "$OUT"
for g in ouromamba output-only pse contrastive-raw noise; do
  $B generate --count 128 --method "$g" --out "$OUT/samples/$g" --json | tee "$OUT/gen-$g.json"
done
$B compare --calib-sources "real:128,noise:128,$OUT/samples/ouromamba,$OUT/samples/output-only,$OUT/samples/pse,$OUT/samples/contrastive-raw" \
  --methods ouromamba --settings w4a4,w4a8,w8a8 --out "$OUT/matrix" --json > "$OUT/matrix.json"
$B compare --calib-sources "noise:128,$OUT/samples/ouromamba" \
  --methods static-minmax,static-per-token,static-outlier-list,ouromamba --settings w4a4 --out "$OUT/baselines" --json > "$OUT/baselines.json"
echo "done: $OUT"
