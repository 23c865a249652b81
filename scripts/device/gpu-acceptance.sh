#!/usr/bin/env bash
# The GPU acceptance of the GPU backend, in one run on a lent GPU machine that has CUDA but no
# Swift toolchain. Expects .device/ouromamba.xz (scripts/build-portable.sh, xz-compressed)
# .device/fixtures/ (the golden fixtures) and .device/fmnist/ (the Fashion-MNIST t10k files);
# writes every output under $OUT.
# Each step has its own time limit and the script goes on after a failing step.
set -u
OUT=${OUT:-/tmp/ouro-out}; mkdir -p "$OUT"
FIX=.device/fixtures
BIN=/tmp/ouromamba
xz -dc .device/ouromamba.xz > "$BIN" && chmod +x "$BIN"
export OUROMAMBA_CUDA_LIBS=${OUROMAMBA_CUDA_LIBS:-/usr/local/cuda-13.0/targets/x86_64-linux/lib}
step() {
  local name=$1 limit=$2; shift 2
  echo "== $name ($(date +%T))"
  timeout "$limit" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err"
  echo "rc=$?" >> "$OUT/$name.out"
  tail -c 2500 "$OUT/$name.out"; tail -n 4 "$OUT/$name.err"
}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
step parity 150 "$BIN" bench gpu-parity --fixtures $FIX --device gpu --json
for b in 8 64 128 256; do
  step gen$b 120 "$BIN" bench gen --device gpu --tiny $FIX/vim-tiny-shape.pth --block $b --iterations 3 --json
done
step genprofile 60 "$BIN" bench gen --device gpu --model $FIX/vim-tiny-shape.pth --block 64 --iterations 1 --profile
step forward 90 "$BIN" bench forward --device gpu --model $FIX/vim-tiny-shape.pth --batch 8 --batch 64 --repeats 3 --json
step evalgpu 90 "$BIN" eval --device gpu --data fashion-mnist:.device/fmnist --json
step evalcpu 90 "$BIN" eval --device cpu --data fashion-mnist:.device/fmnist --json
step gemm 90 "$BIN" bench gemm --device gpu --json
step traingpu 90 "$BIN" bench train --device gpu --steps 3 --json
step traincpu 90 "$BIN" bench train --device cpu --steps 3 --json
# Calibration on the GPU (statistics kernels) vs the CPU, same model and noise images: time and artifacts.
for d in gpu cpu; do
  step quant-$d 120 "$BIN" quantize --model $FIX/vim-tiny-shape.pth --calib noise:16 --setting w4a4 --device $d \
    --out "$OUT/tiny-$d.safetensors" --no-report --quiet --json
done
python3 scripts/device/compare_artifacts.py "$OUT/tiny-gpu.safetensors" "$OUT/tiny-cpu.safetensors" > "$OUT/compare-tiny.json" 2>&1
head -c 1500 "$OUT/compare-tiny.json"; echo
# A cluster on this machine: coordinator + 1 GPU worker + 1 CPU worker, then the same job on 2 CPU workers.
job() {  # $1 = name, $2 $3 = worker devices
  local port=$4
  "$BIN" coordinator --bind tcp://127.0.0.1:$port --model models/vim-fashion.safetensors --calib syn:ouromamba:64 --gen-iterations 30 --setting w4a4 \
    --method ouromamba --out "$OUT/$1.safetensors" --min-workers 2 --allow-mixed-backends --json > "$OUT/$1-coord.json" 2> "$OUT/$1-coord.err" &
  local c=$!
  "$BIN" worker --connect tcp://127.0.0.1:$port --model models/vim-fashion.safetensors --max-reconnects 3 --device "$2" --threads 4 --id "$1-$2-1" --json > "$OUT/$1-w1.json" 2> "$OUT/$1-w1.err" &
  "$BIN" worker --connect tcp://127.0.0.1:$port --model models/vim-fashion.safetensors --max-reconnects 3 --device "$3" --threads 4 --id "$1-$3-2" --json > "$OUT/$1-w2.json" 2> "$OUT/$1-w2.err" &
  wait $c; echo "$1 coordinator rc=$?"; wait
  tail -c 1500 "$OUT/$1-coord.json"; tail -n 3 "$OUT/$1-coord.err" "$OUT/$1-w1.err" "$OUT/$1-w2.err"
}
echo "== cluster mixed ($(date +%T))"; timeout 150 bash -c "$(declare -f job); BIN=$BIN OUT=$OUT job mixed gpu cpu 5555"
echo "== cluster cpu ($(date +%T))"; timeout 150 bash -c "$(declare -f job); BIN=$BIN OUT=$OUT job cpuonly cpu cpu 5556"
python3 scripts/device/compare_artifacts.py "$OUT/mixed.safetensors" "$OUT/cpuonly.safetensors" > "$OUT/compare.json" 2>&1
python3 -c "
import json; d = json.load(open('$OUT/compare.json')); r = [e for e in d['differing'] if 'max_rel' in e]
print('tensors', d['tensors'], 'identical', d['identical'], 'differing', len(d['differing']))
for kind in ('.S', '.istar', 'outlier_frac'):
    sel = [e for e in r if e['tensor'].endswith(kind)]
    if sel: print(kind, len(sel), 'tensors; max rel', max(e['max_rel'] for e in sel), 'max abs', max(e['max_abs'] for e in sel))
"
for a in mixed cpuonly; do
  step eval-$a 120 "$BIN" eval --model models/vim-fashion.safetensors --quantized "$OUT/$a.safetensors" --data fashion-mnist:.device/fmnist --json
done
rm -rf "$OUT"/*.job
echo "== done ($(date +%T))"
