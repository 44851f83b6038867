#!/usr/bin/env bash
# Runs set-up (dependencies, data, Release build with tests) and the whole test suite.
#   scripts/test.sh              Release build in build/, ctest
#   scripts/test.sh --sanitize   the same suite built with AddressSanitizer (leaks included) and
#                                UndefinedBehaviorSanitizer in build-asan/ (-O1); any finding
#                                fails its test. LB_SANITIZE=address,undefined in the
#                                environment does the same; another list (e.g. undefined) builds
#                                with those sanitizers only.
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize="${LB_SANITIZE:-}"
case "${1:-}" in
  --sanitize) sanitize="${sanitize:-address,undefined}" ;;
  "") ;;
  *) echo "test.sh: unknown option \"$1\" (use --sanitize or nothing)" >&2; exit 2 ;;
esac

if [ -z "$sanitize" ] || [ "$sanitize" = OFF ]; then
  LB_CMAKE_ARGS="-DLB_BUILD_TESTS=ON ${LB_CMAKE_ARGS:-}" scripts/setup.sh
  cd build
  exec ctest --output-on-failure -j1 --timeout 600
fi

# ---- sanitized suite (set-up first, for the dependencies and data)
LB_SKIP_BUILD=1 scripts/setup.sh
launcher=""
command -v ccache > /dev/null 2>&1 && launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
# -O1 -g1: a third faster to build than -O2 -g, line numbers in the reports. No benchmarks.
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG" \
  -DLB_BUILD_TESTS=ON -DLB_BUILD_BENCH=OFF -DLB_SANITIZE="$sanitize" $launcher > /dev/null
start=$(date +%s)
cmake --build build-asan -j"$(nproc)"
echo "test.sh: sanitized build ($sanitize) took $(( $(date +%s) - start )) s"
supp="$PWD/tests/sanitizer"
# Findings abort the process (-fno-sanitize-recover=all at compile time; halt_on_error here),
# so the test fails. Leaks are findings too. Suppressions are for code that is not lowbit's
# only: each entry in tests/sanitizer/*.supp says why it is needed.
export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_init_order=1:halt_on_error=1:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
start=$(date +%s)
cd build-asan
status=0
ctest --output-on-failure -j1 --timeout 1800 || status=$?
echo "test.sh: sanitized suite ($sanitize) took $(( $(date +%s) - start )) s"
exit $status
