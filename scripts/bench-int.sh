#!/usr/bin/env bash
# Integer engine vs FP32, side by side, on the three configurations of the issue "Quantized
# inference faster than FP32 on the CPU" (W4A4 `ouromamba`, noise calibration):
#   * vim-tiny-shape (197 tokens), batch 8;
#   * a D = 192, depth 12, patch 4 model on 28×28 inputs (50 tokens, near-random weights:
#     one training step on 64 images), batches 8 and 64;
#   * the embedded model, batches 8 and 64.
# Runs twice: with the OpenBLAS kernels OpenBLAS picks itself, and with the ones
# `bench forward` suggests when it picked generic kernels (OPENBLAS_CORETYPE), so that the
# FP32 side is never a crippled baseline. The machine should be otherwise idle.
set -euo pipefail
cd "$(dirname "$0")/.."
B=.build/release/ouromamba
TINY=${TINY:-../shared/fixtures/vim-tiny-shape.pth}
R=runs/bench-int
REPEATS=${REPEATS:-5}
mkdir -p "$R"
[ -f "$R/d192.safetensors" ] || $B train --embed-dim 192 --depth 12 --epochs 1 --limit 64 --out "$R/d192.safetensors" --quiet
[ -f "$R/d192-w4a4.safetensors" ] || $B quantize --model "$R/d192.safetensors" --calib noise:32 --setting w4a4 --out "$R/d192-w4a4.safetensors" --no-report --quiet
[ -f "$R/emb-w4a4.safetensors" ] || $B quantize --calib noise:32 --setting w4a4 --out "$R/emb-w4a4.safetensors" --no-report --quiet
[ -f "$R/tiny-w4a4.safetensors" ] || $B quantize --model "$TINY" --calib noise:16 --setting w4a4 --out "$R/tiny-w4a4.safetensors" --no-report --quiet

# Each configuration runs on all threads (--lanes 1), then on LANES lanes side by side (as eval
# runs them; batches must be multiples of LANES). Either way a forward takes about 200 token
# rows, as in eval (`bench forward --per-forward`).
LANES=${LANES:-2}
run() {
  for lanes in 1 "$LANES"; do
    echo "== $(date -u)  $(nproc) cores  OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}  lanes $lanes"
    $B bench forward --pair "$TINY=$R/tiny-w4a4.safetensors" --engine int --batch 8 --lanes "$lanes" --repeats "$REPEATS"
    $B bench forward --pair "$R/d192.safetensors=$R/d192-w4a4.safetensors" --pair "models/vim-fashion.safetensors=$R/emb-w4a4.safetensors" \
      --engine int --batch 8 --batch 64 --lanes "$lanes" --repeats "$REPEATS"
  done
}
{
  grep -m1 "model name" /proc/cpuinfo
  run
  core=$(scripts/openblas-core.sh "$B")
  if [ -n "$core" ]; then OPENBLAS_CORETYPE=$core run; fi
} 2>&1 | tee "$R/bench.txt"
