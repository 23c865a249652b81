#!/usr/bin/env bash
# Local multi-process launcher (docs/cluster.md, "Local"): a coordinator on loopback and N
# workers with OPENBLAS_NUM_THREADS = cores / N. Forwards SIGINT/SIGTERM to the coordinator,
# stops every child on exit and returns the coordinator's exit status.
#
#   cluster/local.sh -n 4 -m models/vim-fashion.safetensors -- \
#       --calib syn:ouromamba:128 --setting w4a4 --out runs/local/vim-w4a4.safetensors --job-dir runs/local/job
#
# Options: -n workers (default 2), -m model (required), -p port (default $OUROMAMBA_PORT or 5555),
#          -b ouromamba binary (default $OUROMAMBA_BIN, else `ouromamba` on PATH, else .build/release/ouromamba).
# Everything after `--` goes to `ouromamba coordinator`.
set -uo pipefail

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
workers=2; model=""; port="${OUROMAMBA_PORT:-5555}"; bin="${OUROMAMBA_BIN:-}"
while getopts "n:m:p:b:h" opt; do
    case "$opt" in
        n) workers="$OPTARG" ;;
        m) model="$OPTARG" ;;
        p) port="$OPTARG" ;;
        b) bin="$OPTARG" ;;
        *) usage ;;
    esac
done
shift $((OPTIND - 1))
[[ "${1:-}" == "--" ]] && shift
[[ -n "$model" ]] || { echo "local.sh: -m MODEL is required" >&2; usage; }
[[ "$workers" =~ ^[1-9][0-9]*$ ]] || { echo "local.sh: -n must be a positive integer" >&2; exit 2; }
if [[ -z "$bin" ]]; then
    if command -v ouromamba >/dev/null 2>&1; then bin=ouromamba
    else bin="$(cd "$(dirname "$0")/.." && pwd)/.build/release/ouromamba"; fi
fi

cores="$(nproc)"
threads=$(( cores / workers )); (( threads >= 1 )) || threads=1
endpoint="tcp://127.0.0.1:${port}"
children=()

cleanup() {
    trap - EXIT INT TERM
    for pid in "${children[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for _ in $(seq 50); do
        alive=0
        for pid in "${children[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        (( alive )) || break
        sleep 0.1
    done
    for pid in "${children[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    wait 2>/dev/null
}
trap cleanup EXIT

echo "local.sh: coordinator on ${endpoint}, ${workers} worker(s) × ${threads} thread(s)" >&2
"$bin" coordinator --bind "$endpoint" --model "$model" --min-workers "$workers" "$@" &
coordinator=$!
children+=("$coordinator")
# Background children of a script ignore SIGINT, so both signals are forwarded as SIGTERM.
trap 'kill -TERM "$coordinator" 2>/dev/null' INT TERM
for i in $(seq 0 $((workers - 1))); do
    OPENBLAS_NUM_THREADS="$threads" "$bin" worker --connect "$endpoint" --model "$model" --threads "$threads" \
        --id "local-$i" --max-reconnects 5 --log-level warning &
    children+=("$!")
done

# `wait` returns early when a trapped signal arrives: keep waiting until the coordinator is gone.
status=0
while true; do
    wait "$coordinator"; status=$?
    kill -0 "$coordinator" 2>/dev/null || break
done
exit "$status"
