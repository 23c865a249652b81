#!/usr/bin/env bash
# The Gen lever study of issue #15: one `ouromamba` set per lever (pixel range, learning rate,
# iterations, priors, views, output loss, layers of L^C, window/top-k), then one `compare` of
# real:N, noise:N and every set under every method, with the data-quality diagnostic, and a
# table of pixel statistics, label fidelity, range ratios and top-1 per set
# (scripts/levers-table.py).
#
#   scripts/gen-levers.sh MODEL OUT [SEED]        # seed defaults to 0
#
# Environment: B (binary, default .build/release/ouromamba), COUNT (images per set, 128),
# ITERATIONS (500), LEVERS (names to run, default all), LIMIT (test images, default all),
# SETTINGS (w4a4), METHODS (all four), WORKERS (local Gen workers, 2). Resumable
# (scripts/lib/study.sh): rerunning skips finished sets and compares, and continues an
# interrupted set after its last finished block.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: $0 MODEL OUT [SEED]" >&2; exit 2; }
MODEL=$1; OUT=$2; SEED=${3:-0}
B=${B:-.build/release/ouromamba}
COUNT=${COUNT:-128}
ITERATIONS=${ITERATIONS:-500}
SETTINGS=${SETTINGS:-w4a4}
METHODS=${METHODS:-static-minmax,static-per-token,static-outlier-list,ouromamba}
[ -f "$MODEL" ] || { echo "$0: model $MODEL not found" >&2; exit 2; }
depth=$(python3 scripts/model-config.py "$MODEL" depth)
late=$(seq -s, $((depth / 2)) $((depth - 1)))

# name | generate flags on top of the spec's defaults (the `ouromamba` generator; "clamp" is
# --clamp-valid-range)
declare -A FLAGS=(
  [spec]=""
  [clamp]="--clamp-valid-range"
  [clamp-lr0.1]="--clamp-valid-range --lr 0.1"
  [clamp-lr0.05]="--clamp-valid-range --lr 0.05"
  [clamp-it1000]="--clamp-valid-range --iterations 1000"
  [clamp-tv0.05]="--clamp-valid-range --tv-weight 0.05"
  [clamp-l2-0.05]="--clamp-valid-range --l2-weight 0.05"
  [clamp-jitter2-flip]="--clamp-valid-range --jitter 2 --flip"
  [clamp-mae]="--clamp-valid-range --output-loss mae"
  [clamp-lambdaO0.1]="--clamp-valid-range --lambda-o 0.1"
  [clamp-late-layers]="--clamp-valid-range --contrast-layers $late"
  [clamp-window3-top4]="--clamp-valid-range --contrast-window 3 --contrast-topk 4"
)
ORDER="spec clamp clamp-lr0.1 clamp-lr0.05 clamp-it1000 clamp-tv0.05 clamp-l2-0.05 clamp-jitter2-flip clamp-mae clamp-lambdaO0.1 clamp-late-layers clamp-window3-top4"
LEVERS=${LEVERS:-$ORDER}
for l in $LEVERS; do
  [ -n "${FLAGS[$l]+x}" ] || { echo "$0: unknown lever '$l' (known: $ORDER)" >&2; exit 2; }
done

# shellcheck source=lib/study.sh
. scripts/lib/study.sh
eval "$(scripts/openblas-core.sh --export "$B")"
mkdir -p "$OUT"
{
  echo "model $MODEL, seed $SEED, $COUNT images per set, $ITERATIONS iterations unless the lever sets them"
  echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
  for l in $LEVERS; do echo "$l: ${FLAGS[$l]:-(spec defaults)}"; done
} > "$OUT/settings.txt"
sources=("real:$COUNT" "noise:$COUNT")
for l in $LEVERS; do
  # shellcheck disable=SC2086
  generate_set "$OUT/$l" --count "$COUNT" --seed "$SEED" --iterations "$ITERATIONS" --gen-defaults spec ${FLAGS[$l]}
  sources+=("$OUT/$l")
done
compare_each "$OUT/compare" "$SEED" "${sources[@]}" > "$OUT/compare.list"
mapfile -t results < "$OUT/compare.list"
python3 scripts/levers-table.py "$MODEL" "${results[@]}" | tee "$OUT/levers.md"
