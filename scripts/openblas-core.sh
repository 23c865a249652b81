#!/usr/bin/env bash
# Prints the OPENBLAS_CORETYPE that `ouromamba bench forward` suggests when OpenBLAS falls back
# to its generic kernels on this CPU, and nothing when OpenBLAS's own choice is fine.
#   scripts/openblas-core.sh [BINARY]      # default .build/release/ouromamba
set -euo pipefail
"${1:-.build/release/ouromamba}" bench forward --batch 1 --repeats 1 2>&1 >/dev/null \
  | sed -n 's/.*OPENBLAS_CORETYPE=\([A-Za-z0-9]*\).*/\1/p' | head -1
