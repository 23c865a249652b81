#!/usr/bin/env bash
# The training runs of issue #15, resumable: a checkpoint every 100 steps and at each epoch end,
# and rerunning the same command continues from it (same results, whatever the interruption).
#
#   scripts/train-models.sh bench      # models/vim-fashion-d128: D=128, depth 8, patch 4, 16 epochs
#   scripts/train-models.sh embedded   # the embedded model's architecture, 24 epochs (target >= 90.3 %)
#
# Runs in runs/<name>/ with its own copy of the binary (so rebuilding does not disturb it; delete
# the copy to take a newer build, between two checkpoints), at
# the lowest CPU priority: `echo 19 > /proc/self/autogroup`, since a process started with
# setsid is alone in its autogroup, where `nice` alone does not lower its share.
# Background use: setsid nohup scripts/train-models.sh bench >> runs/bench-model/train.log 2>&1 &
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-.build/release/ouromamba}
case "${1:-}" in
  bench)    dir=runs/bench-model;    out=vim-fashion-d128.safetensors; args=(--embed-dim 128 --depth 8 --epochs 16 --cache-gib 2) ;;
  embedded) dir=runs/embedded-model; out=vim-fashion-e24.safetensors;  args=(--embed-dim 64 --depth 6 --epochs 24) ;;
  *) echo "usage: $0 bench|embedded" >&2; exit 2 ;;
esac
mkdir -p "$dir"
[ -x "$dir/ouromamba-train" ] || cp "$B" "$dir/ouromamba-train"
resume=()
[ -f "$dir/$out.ckpt" ] && resume=(--resume)
# OpenBLAS 0.3.21 falls back to its slow Prescott kernels on CPUs it does not know; use the
# kernels `bench forward` suggests then (1.3-1.4x faster training steps on AVX-512 here).
# The choice changes the floating-point results, so it is logged with the run.
eval "$(scripts/openblas-core.sh --export "$B")"
echo "--- $(date -u) $1: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset, OpenBLAS picks}"
echo 19 > /proc/self/autogroup 2>/dev/null || true
cd "$dir"
exec nice -n 19 ./ouromamba-train train --out "$out" "${args[@]}" --d-state 16 --patch-size 4 \
  --batch-size 64 --lr 2e-3 --seed 0 --checkpoint-every 100 "${resume[@]}"
