#!/usr/bin/env bash
# Runs every benchmark of the project in one go (machine otherwise idle), logging to runs/bench.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
B=.build/release/ouromamba
TINY=${TINY:-../shared/fixtures/vim-tiny-shape.pth}
mkdir -p runs
{
  echo "== $(date -u)  $(nproc) cores"
  echo "== bench forward (vim-tiny-shape, FP32)"; $B bench forward --model "$TINY" --batch 1 --batch 8 --repeats 3
  echo "== bench train"; $B bench train --steps 3
  echo "== bench train (vim-tiny-shape backward, batch 1)"; /usr/bin/time -f "peak RSS %M KiB" $B bench train --model "$TINY" --batch 1 --steps 2
  echo "== bench gen"; $B bench gen --tiny "$TINY" --iterations 3
  echo "== bench gemm (target shapes)"; $B bench gemm --quick --repeats 20
  echo "== quantize vim-tiny-shape (noise:16) and bench forward --quantized"
  $B quantize --model "$TINY" --calib noise:16 --setting w4a4 --out runs/tiny-w4a4/q.safetensors --no-report --quiet
  $B bench forward --model "$TINY" --quantized runs/tiny-w4a4/q.safetensors --batch 8 --repeats 5
  echo "== bench forward --quantized (embedded model)"
  $B bench forward --quantized runs/quickstart/w4a4-ouromamba.safetensors --batch 64 --repeats 3
  echo "== cluster scaling: Gen 32 samples x 100 iterations, 1 vs 2 workers (1 thread each)"
  for w in 1 2; do /usr/bin/time -f "workers=$w: %e s" $B generate --count 32 --iterations 100 --workers $w --out runs/scale-$w --quiet; done
  cmp runs/scale-1/samples.safetensors runs/scale-2/samples.safetensors && echo "identical samples for 1 and 2 workers"
} 2>&1 | tee runs/bench.txt
