#!/usr/bin/env bash
# Installs the system packages OuroMamba needs (Debian/Ubuntu). Safe to run repeatedly.
set -euo pipefail
pkgs=(libopenblas-dev libzmq3-dev zlib1g-dev libjpeg62-turbo-dev libpng-dev dataset-fashion-mnist pkg-config time)
# Static-build extras (scripts/build-portable.sh).
pkgs+=(libgfortran-12-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! command -v swift >/dev/null 2>&1; then
  if [ -x /opt/swift/usr/bin/swift ]; then export PATH=/opt/swift/usr/bin:$PATH; else
    echo "setup: no Swift toolchain found (need Swift 6.1+ on PATH)" >&2; exit 1; fi
fi
echo "setup: system packages present"
