#!/usr/bin/env bash
# The test command: installs what is missing, then runs the whole test suite optimised.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH=/opt/swift/usr/bin:$PATH
# Numeric code is 10-100x slower in debug builds; -enable-testing allows @testable imports.
swift build -c release -Xswiftc -enable-testing --build-tests
swift test -c release -Xswiftc -enable-testing --skip-build "$@"
