#!/usr/bin/env bash
# Reproduces the figures of docs/results.md on the embedded model (full 10k test split):
#  1. every generator's 128 samples (defaults: 500 iterations), with time and label fidelity
#     (the ouromamba set is taken from runs/quickstart when present: same seed, same bytes);
#  2. the calibration-source × setting matrix for OuroMamba-Quant;
#  3. the baselines at W4A4 on the same data.
# Takes about 30-40 minutes on 2 cores. Output: runs/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
B=.build/release/ouromamba
OUT=${OUT:-runs/results}
mkdir -p "$OUT/samples"
if [ -f runs/quickstart/samples/samples.safetensors ] && [ ! -e "$OUT/samples/ouromamba" ]; then
  cp -r runs/quickstart/samples "$OUT/samples/ouromamba"
fi
for g in ouromamba output-only pse contrastive-raw noise; do
  [ -f "$OUT/samples/$g/samples.safetensors" ] && continue
  /usr/bin/time -f "%e s wall" $B generate --count 128 --method "$g" --out "$OUT/samples/$g" --json | tee "$OUT/gen-$g.json"
done
S="$OUT/samples"
$B compare --calib-sources "real:128,noise:128,$S/ouromamba,$S/output-only,$S/pse,$S/contrastive-raw" \
  --methods ouromamba --settings w4a4,w4a8,w8a8 --out "$OUT/matrix" --json > "$OUT/matrix.json"
$B compare --calib-sources "noise:128,$S/ouromamba" \
  --methods static-minmax,static-per-token,static-outlier-list,ouromamba --settings w4a4 --out "$OUT/baselines" --json > "$OUT/baselines.json"
echo "done: $OUT"
