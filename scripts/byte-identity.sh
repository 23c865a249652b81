#!/usr/bin/env bash
# Byte-identity fingerprint of the pipeline's observable outputs (issue "One pipeline over one
# shard executor"): the `generate` samples of every generator, the `quantize` artifacts of every
# method and setting, in-process and with 2 local workers, and the `eval --json` results of
# each artifact on both engines (timings and input paths removed). Prints "sha256  label" lines, sorted.
#
#   scripts/byte-identity.sh              # write docs/byte-identity.txt
#   scripts/byte-identity.sh --check      # compare with docs/byte-identity.txt; exit 1 on change
#   EXPECTED=F B=old scripts/byte-identity.sh; EXPECTED=F scripts/byte-identity.sh --check
#                                         # the same check against an older binary on this machine
#                                         # (the recorded file holds one CPU's and OpenBLAS kernels' bits)
#
# A refactoring that claims "no behaviour change" must leave this file unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${B:-.build/release/ouromamba}
EXPECTED=${EXPECTED:-docs/byte-identity.txt}  # another file for a baseline of another machine
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
out="$W/lines"
: > "$out"

hash() { sha256sum "$1" | cut -d' ' -f1; }
record() { echo "$1  $2" >> "$out"; }
# Runs a command, recording the hash of its JSON output without timing fields (or its exit
# status and error text when it fails).
record_json() {
  local label=$1; shift
  if "$@" > "$W/j.json" 2> "$W/j.err"; then
    python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
def strip(x):
    if isinstance(x, dict): return {k: strip(v) for k, v in x.items() if k not in ("seconds", "images_per_s", "quantized", "model")}
    if isinstance(x, list): return [strip(v) for v in x]
    return x
print(json.dumps(strip(d), sort_keys=True))' "$W/j.json" > "$W/j.norm"
    record "$(hash "$W/j.norm")" "$label"
  else
    record "$(echo "exit $? $(tail -1 "$W/j.err")" | sha256sum | cut -d' ' -f1)" "$label (fails)"
  fi
}

for g in noise output-only pse contrastive-raw ouromamba; do
  $B generate --method "$g" --count 16 --iterations 10 --seed 3 --out "$W/gen-$g" --quiet > /dev/null
  $B generate --method "$g" --count 16 --iterations 10 --seed 3 --out "$W/gen-$g-w2" --workers 2 --quiet > /dev/null
  record "$(hash "$W/gen-$g/samples.safetensors")" "generate $g"
  record "$(hash "$W/gen-$g-w2/samples.safetensors")" "generate $g --workers 2"
done

record_json "eval fp" $B eval --limit 300 --json
for m in ouromamba static-minmax static-per-token static-outlier-list; do
  for s in w4a4 w4a8 w8a8 w4a6o8; do
    q="$W/q-$m-$s.safetensors"
    $B quantize --calib noise:16 --method "$m" --setting "$s" --out "$q" --no-report --quiet > /dev/null
    $B quantize --calib noise:16 --method "$m" --setting "$s" --out "$W/q2.safetensors" --workers 2 --no-report --quiet > /dev/null
    record "$(hash "$q")" "quantize $m $s"
    record "$(hash "$W/q2.safetensors")" "quantize $m $s --workers 2"
    for e in int sim; do record_json "eval $m $s $e" $B eval --limit 300 --quantized "$q" --engine "$e" --json; done
  done
done
$B quantize --calib syn:ouromamba:16 --gen-iterations 10 --out "$W/qs.safetensors" --no-report --quiet > /dev/null
$B quantize --calib syn:ouromamba:16 --gen-iterations 10 --out "$W/qs2.safetensors" --workers 2 --no-report --quiet > /dev/null
record "$(hash "$W/qs.safetensors")" "quantize syn:ouromamba:16"
record "$(hash "$W/qs2.safetensors")" "quantize syn:ouromamba:16 --workers 2"

# The bits depend on the CPU's OpenBLAS kernels (sgemm rounding): name them in the header.
core=$($B bench forward --batch 1 --repeats 1 --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["openblas_core"])')
{ echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), OpenBLAS core $core"; sort -k2 "$out"; } > "$W/sorted"
if [ "${1:-}" = "--check" ]; then
  if diff -u "$EXPECTED" "$W/sorted"; then echo "byte identity: all $(wc -l < "$W/sorted") outputs unchanged"
  else echo "byte identity: outputs changed (diff above)"; exit 1; fi
else
  cp "$W/sorted" "$EXPECTED"
  cat "$EXPECTED"
fi
