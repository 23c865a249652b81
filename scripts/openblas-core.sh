#!/usr/bin/env bash
# Prints the OPENBLAS_CORETYPE that `ouromamba bench forward` suggests when OpenBLAS falls back
# to its generic kernels on this CPU, and nothing when OpenBLAS's own choice is fine.
#   scripts/openblas-core.sh [BINARY]              # default .build/release/ouromamba
#   eval "$(scripts/openblas-core.sh --export [BINARY])"
# --export prints an `export OPENBLAS_CORETYPE=...` line for eval instead, and nothing when
# OPENBLAS_CORETYPE is already set (a caller's choice wins).
set -euo pipefail
export_line=false
[ "${1:-}" = --export ] && { export_line=true; shift; }
$export_line && [ -n "${OPENBLAS_CORETYPE:-}" ] && exit 0
core=$("${1:-.build/release/ouromamba}" bench forward --batch 1 --repeats 1 2>&1 >/dev/null \
  | sed -n 's/.*OPENBLAS_CORETYPE=\([A-Za-z0-9]*\).*/\1/p' | head -1)
[ -z "$core" ] && exit 0
if $export_line; then echo "export OPENBLAS_CORETYPE=$core"; else echo "$core"; fi
