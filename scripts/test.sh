#!/usr/bin/env bash
# Runs set-up (dependencies, data, Release build with tests) and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
LB_CMAKE_ARGS="-DLB_BUILD_TESTS=ON ${LB_CMAKE_ARGS:-}" scripts/setup.sh
cd build
ctest --output-on-failure -j1 --timeout 600
