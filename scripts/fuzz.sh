#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, clang, ASan + UBSan) and fuzzes each parser of
# outside bytes for SECONDS (default 60) of wall time.
#   scripts/fuzz.sh                     # every target, 60 s each, one after the other
#   scripts/fuzz.sh idx_gz 600          # one target, 10 minutes
#   LB_FUZZ_PARALLEL=2 scripts/fuzz.sh all 600   # every target, 10 minutes, two at a time
# Targets: config idx idx_gz cifar10 image safetensors checkpoint packed compressed.
# Environment: LB_FUZZ_PARALLEL (targets fuzzed at once, default 1), LB_FUZZ_NICE (default 19),
# LB_FUZZ_JOBS (build jobs, default 2), LB_FUZZ_NO_BUILD=1 (use the harnesses already built).
# Under build-fuzz/: corpus/<target>/ (kept between runs; seeded from fuzz/make_seeds, the
# regression corpus tests/fuzz_corpus/<target>/ and, for config, experiments/**/*.json),
# findings/<target>/ (crash-*, oom-*, timeout-*, leak-*; once fixed, copy the input to
# tests/fuzz_corpus/<target>/, which tests/fuzz/fuzz_replay_test.cpp replays), logs/<target>.log.
# A finding is anything but "parsed" or lowbit::Error: a sanitizer report, a crash, another
# exception, an input slower than 10 s, more than 2 GB resident or one allocation over 2 GB.
# Ends with a summary table (executions, exec/s, coverage and features from libFuzzer's final
# stats, corpus, findings) in build-fuzz/fuzz-summary.md and exits 1 on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
ALL="config idx idx_gz cifar10 image safetensors checkpoint packed compressed"
TARGETS="${1:-$ALL}"
[ "${1:-}" = all ] && TARGETS="$ALL"
SECONDS_EACH="${2:-60}"
PARALLEL="${LB_FUZZ_PARALLEL:-1}"
NICE="${LB_FUZZ_NICE:-19}"
B=build-fuzz
for t in $TARGETS; do
  case " $ALL " in *" $t "*) ;; *) echo "fuzz.sh: unknown target \"$t\"; targets: $ALL" >&2; exit 2 ;; esac
done

if [ -z "${LB_FUZZ_NO_BUILD:-}" ]; then
  export CCACHE_DIR="${CCACHE_DIR:-/work/.ccache}" CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD/..}"
  LAUNCHER=()
  command -v ccache > /dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  CC=clang CXX=clang++ cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLB_FUZZ=ON \
    -DLB_BUILD_TESTS=OFF -DLB_BUILD_APPS=OFF -DLB_BUILD_BENCH=OFF "${LAUNCHER[@]}" > /dev/null
fi
# The data parsers' harnesses and seeds need only core + datasets (fuzz/CMakeLists.txt).
seed_maker=make_data_seeds
for t in $TARGETS; do
  case "$t" in config|checkpoint|packed|compressed) seed_maker=make_seeds ;; esac
done
build_targets=("$seed_maker")
for t in $TARGETS; do build_targets+=("fuzz_$t"); done
[ -z "${LB_FUZZ_NO_BUILD:-}" ] && nice -n 19 cmake --build "$B" -j"${LB_FUZZ_JOBS:-2}" --target "${build_targets[@]}"

export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 LOWBIT_NUM_THREADS=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}" UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
seeds="$B/seeds.$$"  # per invocation, so two invocations can run at once
trap 'rm -rf "$seeds"' EXIT
rm -rf "$seeds" && "$B/fuzz/$seed_maker" "$seeds"
mkdir -p "$seeds/config" && find experiments -name '*.json' -exec cp {} "$seeds/config/" \;
mkdir -p "$B/logs"

# Fuzzes one target and writes its summary row to $B/logs/<target>.row.
fuzz_one() {
  local t=$1 corpus="$B/corpus/$1" findings="$B/findings/$1" log="$B/logs/$1.log"
  mkdir -p "$corpus" "$findings"
  local extra=()
  [ -d "$seeds/$t" ] && extra+=("$seeds/$t")
  [ -d "tests/fuzz_corpus/$t" ] && extra+=("tests/fuzz_corpus/$t")
  local max_len=8192
  [ "$t" = cifar10 ] && max_len=12300  # room for 4 records of 3073 bytes
  echo "== fuzz_$t for ${SECONDS_EACH}s (log: $log)"
  local stamp="$B/logs/$t.started"
  touch "$stamp"
  local start=$SECONDS rc=0
  nice -n "$NICE" "$B/fuzz/fuzz_$t" "$corpus" "${extra[@]}" -max_total_time="$SECONDS_EACH" \
    -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$findings/" > "$log" 2>&1 || rc=$?
  local wall=$((SECONDS - start))
  # Final stats: "#N DONE cov: C ft: F corp: K/..." and "stat::number_of_executed_units: N".
  # (|| true: a run that crashed has no DONE line, and set -e must not end the function.)
  local done_line execs rate cov ft corp n_findings what="none"
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
  [ -z "$done_line" ] && done_line=$(grep -E '^#[0-9]+[[:space:]]+(pulse|NEW|REDUCE|INITED)' "$log" | tail -1 || true)
  execs=$(sed -nE 's/^stat::number_of_executed_units:[[:space:]]+([0-9]+).*/\1/p' "$log" | tail -1)
  rate=$(sed -nE 's/^stat::average_exec_per_sec:[[:space:]]+([0-9]+).*/\1/p' "$log" | tail -1)
  [ -z "$execs" ] && execs=$(sed -nE 's/^#([0-9]+)[[:space:]].*/\1/p' <<< "$done_line")
  cov=$(sed -nE 's/.* cov: ([0-9]+).*/\1/p' <<< "$done_line")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<< "$done_line")
  corp=$(sed -nE 's/.* corp: ([0-9]+\/[0-9]+[a-zA-Z]*).*/\1/p' <<< "$done_line")
  n_findings=$(find "$findings" -type f -newer "$stamp" \( -name 'crash-*' -o -name 'oom-*' \
    -o -name 'timeout-*' -o -name 'leak-*' \) | wc -l)
  if [ "$n_findings" -gt 0 ] || [ "$rc" -ne 0 ]; then
    what="$n_findings in $findings (exit $rc; see $log)"
  fi
  echo "| $t | $wall | ${execs:-?} | ${rate:-?} | ${cov:-?} | ${ft:-?} | ${corp:-?} | $what |" > "$B/logs/$t.row"
  echo "== fuzz_$t done after ${wall}s: $what"
}

for t in $TARGETS; do
  rm -f "$B/logs/$t.row"
  while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do wait -n || true; done
  fuzz_one "$t" &
done
wait

summary="$B/fuzz-summary.md"
{
  echo "| target | seconds (wall) | executions | exec/s | cov | ft | corpus | findings |"
  echo "|---|---:|---:|---:|---:|---:|---:|---|"
  for t in $TARGETS; do cat "$B/logs/$t.row"; done
} > "$summary"
echo
cat "$summary"
! grep -q ' (exit ' "$summary"
