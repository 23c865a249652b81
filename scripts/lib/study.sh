# Resumable steps of the Gen studies (sourced by gen-ablation.sh and gen-levers.sh; they set B
# and MODEL). Each step is skipped when its output exists, and an interrupted step loses little:
# generation is journalled block by block, and `compare` runs one calibration source at a time.

# generate_set DIR [generate flags...]: the sample set DIR, sharded over $WORKERS (default 2)
# local workers of one thread with the job journal in DIR.job, so a rerun resumes after the last
# finished block of 8 samples. The bytes equal an in-process `generate` (docs/byte-identity.txt).
generate_set() {
  local dir=$1; shift
  [ -f "$dir/samples.safetensors" ] && return 0
  "$B" generate --model "$MODEL" "$@" --workers "${WORKERS:-2}" --blocks-per-task 1 --job-dir "$dir.job" \
    --out "$dir" --quiet || return
  rm -rf "$dir.job"
}

# compare_each DIR SEED SOURCE... : one `compare` per calibration source into DIR/<name>/
# (<name>: the source with ':' as '-', or a folder's last component), each skipped when its
# compare.json exists. Uses METHODS, SETTINGS, LIMIT, THREADS (default: all cores; results are
# the same bits for any count) and ENGINE (default int: the integer
# engine gives the simulated engine's logits bit for bit, EngineAgreementTests, and evaluates
# about 1.3x faster). Prints the compare.json paths.
compare_each() {
  local dir=$1 seed=$2; shift 2
  local src name
  for src in "$@"; do
    name=$(basename "${src//:/-}")
    if [ ! -f "$dir/$name/compare.json" ]; then
      "$B" compare --model "$MODEL" --seed "$seed" --calib-sources "$src" --methods "$METHODS" \
        --settings "$SETTINGS" --engine "${ENGINE:-int}" ${LIMIT:+--limit "$LIMIT"} ${THREADS:+--threads "$THREADS"} --out "$dir/$name" --quiet >&2
    fi
    echo "$dir/$name/compare.json"
  done
}
