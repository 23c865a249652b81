#!/usr/bin/env bash
# Quick start: installs what is missing, builds, and runs the whole data-free pipeline on the
# embedded model with 2 local workers: generate 128 synthetic images (OuroMamba-Gen) →
# calibrate W4A4 (OuroMamba-Quant) → write the artifact → evaluate FP vs quantized on the
# Fashion-MNIST test split → print the table. The run folder holds report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH=/opt/swift/usr/bin:$PATH
swift build -c release --product ouromamba
RUN=${RUN:-runs/quickstart}
mkdir -p "$RUN"
.build/release/ouromamba quantize \
  --calib syn:ouromamba:128 --setting w4a4 --method ouromamba \
  --workers 2 --out "$RUN/w4a4-ouromamba.safetensors"
echo "report: $RUN/report.html"
