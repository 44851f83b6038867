#!/usr/bin/env bash
# Multi-process training tests (registered with ctest when CMake finds MPI):
#
#   mpi_test.sh LOWBIT agreement   N = 2 twice (bit-identical), N = 2 and 3 against N = 1
#   mpi_test.sh LOWBIT resume      stopped with N = 2, resumed with 1; stopped with 1, resumed with 3
#   mpi_test.sh LOWBIT faults      a killed rank ends the job; a config mismatch is named
#   mpi_test.sh LOWBIT shards      train.shards=6: N = 1, 2, 3, 4 and 2 resumed with 3 give
#                                  byte-identical weights; N = 7 > 6 shards is refused;
#                                  train.shards=1 is the plain one-process run
#   mpi_test.sh LOWBIT stochastic  stochastic activation and weight quantizers: N = 2 and 3
#                                  against N = 1 (draws keyed by the global sample)
#   mpi_test.sh LOWBIT compress    mpirun -np 2 lowbit compress (and every other command but
#                                  train) fails at once, writes nothing
#
# Runs from the source root (data/mnist needed) on tests/distributed/tiny_mnist.json: 1,000
# training images, conv + batch norm + dropout, 2 epochs of 10 steps (tiny_stochastic.json:
# the same data through stochastic_sign / stochastic tnn quantized layers).
set -u
LOWBIT=$(realpath "$1")
WHAT=$2
HERE=$(dirname "$(realpath "$0")")
CFG=$HERE/tiny_mnist.json
COMPARE="python3 $HERE/compare_weights.py"
# Seconds one mpirun may take (sanitized builds are slower: tests/CMakeLists.txt raises it).
T=${LB_MPI_TIMEOUT:-120}
TOL=1e-3  # N vs 1: float summation order only (docs/distributed.md has the measured values)
# CI runs as root in a container.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
export OMP_WAIT_POLICY=PASSIVE LOWBIT_NUM_THREADS=1
# Sanitized suite: Open MPI's own leaks are suppressed by library (tests/sanitizer/lsan.supp),
# which needs whole stacks; Open MPI has no frame pointers, so the slow unwinder.
[ -n "${ASAN_OPTIONS:-}" ] && export ASAN_OPTIONS="$ASAN_OPTIONS:fast_unwind_on_malloc=0"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
train() {  # train N OUT [args...]  (config: $CFG)
  local n=$1 out=$2
  shift 2
  if [ "$n" = 1 ]; then
    "$LOWBIT" train "$CFG" --out "$out" "$@" > "$out.log" 2>&1
  else
    timeout "$T" mpirun --oversubscribe -np "$n" "$LOWBIT" train "$CFG" --out "$out" "$@" > "$out.log" 2>&1
  fi
}

case $WHAT in
agreement)
  train 1 "$TMP/n1" || fail "N=1: $(tail -5 "$TMP/n1.log")"
  train 2 "$TMP/n2a" || fail "N=2: $(tail -5 "$TMP/n2a.log")"
  train 2 "$TMP/n2b" || fail "N=2 again: $(tail -5 "$TMP/n2b.log")"
  train 3 "$TMP/n3" || fail "N=3: $(tail -5 "$TMP/n3.log")"
  cmp "$TMP/n2a/model.safetensors" "$TMP/n2b/model.safetensors" || fail "N=2 twice: weights differ"
  echo "N=2 twice: bit-identical"
  $COMPARE "$TMP/n2a/model.safetensors" "$TMP/n1/model.safetensors" --max-rel $TOL || fail "N=2 vs 1"
  $COMPARE "$TMP/n3/model.safetensors" "$TMP/n1/model.safetensors" --max-rel $TOL || fail "N=3 vs 1"
  grep -Eq '"processes": *2' "$TMP/n2a/metrics.json" || fail "N=2: no distributed block in metrics.json"
  [ "$(grep -c '^epoch' "$TMP/n2a.log")" = 2 ] || fail "N=2: rank 0 alone should print each epoch once"
  ;;
resume)
  train 1 "$TMP/n1" || fail "N=1: $(tail -5 "$TMP/n1.log")"
  train 2 "$TMP/r21" --stop-after-batches 13
  [ -f "$TMP/r21/checkpoint.safetensors" ] || fail "N=2 stopped: no checkpoint: $(tail -5 "$TMP/r21.log")"
  train 1 "$TMP/r21" --resume || fail "resumed with N=1: $(tail -5 "$TMP/r21.log")"
  $COMPARE "$TMP/r21/model.safetensors" "$TMP/n1/model.safetensors" --max-rel $TOL || fail "2 -> 1"
  train 1 "$TMP/r13" --stop-after-batches 7
  [ -f "$TMP/r13/checkpoint.safetensors" ] || fail "N=1 stopped: no checkpoint"
  train 3 "$TMP/r13" --resume || fail "resumed with N=3: $(tail -5 "$TMP/r13.log")"
  $COMPARE "$TMP/r13/model.safetensors" "$TMP/n1/model.safetensors" --max-rel $TOL || fail "1 -> 3"
  ;;
faults)
  # A rank killed mid-training ends the whole job (not a hang) with a non-zero status.
  start=$(date +%s)
  timeout "$((T * 3 / 4))" mpirun --oversubscribe -np 2 "$LOWBIT" train "$CFG" --out "$TMP/killed" \
    --set train.epochs=200 > "$TMP/killed.log" 2>&1 &
  launcher=$!
  victim=""
  for _ in $(seq 1 $((T * 5 / 3))); do  # rank 1: a process of this job with OMPI_COMM_WORLD_RANK=1
    for p in $(pgrep -f -- "--out $TMP/killed" || true); do
      if tr '\0' '\n' < "/proc/$p/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then
        victim=$p
      fi
    done
    [ -n "$victim" ] && grep -q '^epoch 1/' "$TMP/killed.log" && break
    sleep 0.1
  done
  [ -n "$victim" ] || fail "rank 1 not found"
  kill -9 "$victim"
  wait $launcher
  rc=$?
  [ $rc -ne 0 ] || fail "killed rank: the job exited 0"
  [ $rc -ne 124 ] || fail "killed rank: the job hung until the timeout"
  echo "killed rank 1: job ended with status $rc after $(( $(date +%s) - start )) s"
  # Different configs in the two processes: refused at startup, naming the rank.
  timeout "$((T / 2))" mpirun --oversubscribe -np 1 "$LOWBIT" train "$CFG" --out "$TMP/mismatch" : \
    -np 1 "$LOWBIT" train "$CFG" --out "$TMP/mismatch" --set train.epochs=3 > "$TMP/mismatch.log" 2>&1
  rc=$?
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "config mismatch: status $rc"
  grep -q "config of rank(s) 1 differs from rank 0" "$TMP/mismatch.log" ||
    fail "config mismatch not named: $(cat "$TMP/mismatch.log")"
  echo "config mismatch: named rank 1"
  ;;
shards)
  # The same bits for every N <= S: 6 shards held 6, 3+3, 2+2+2 and 1+2+1+2 (uneven) ways.
  for n in 1 2 3 4; do
    train $n "$TMP/s$n" --set train.shards=6 || fail "shards, N=$n: $(tail -5 "$TMP/s$n.log")"
  done
  for n in 2 3 4; do
    cmp "$TMP/s1/model.safetensors" "$TMP/s$n/model.safetensors" ||
      fail "train.shards=6: N=$n weights differ from N=1"
  done
  echo "train.shards=6: N = 1, 2, 3, 4 byte-identical"
  # Stopped with N = 2 and resumed with N = 3: still the same bytes.
  train 2 "$TMP/s23" --set train.shards=6 --stop-after-batches 13
  [ -f "$TMP/s23/checkpoint.safetensors" ] || fail "shards, N=2 stopped: no checkpoint: $(tail -5 "$TMP/s23.log")"
  train 3 "$TMP/s23" --set train.shards=6 --resume || fail "shards, resumed with N=3: $(tail -5 "$TMP/s23.log")"
  cmp "$TMP/s1/model.safetensors" "$TMP/s23/model.safetensors" || fail "train.shards=6: stopped at 2, resumed at 3: weights differ"
  grep -Eq '"shards": *6' "$TMP/s4/metrics.json" || fail "no shards in metrics.json"
  # More processes than shards: refused before training, naming the option.
  timeout 60 mpirun --oversubscribe -np 7 "$LOWBIT" train "$CFG" --out "$TMP/s7" \
    --set train.shards=6 > "$TMP/s7.log" 2>&1
  rc=$?
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "N=7 > 6 shards: status $rc"
  grep -q "train.shards is 6 but 7 processes run" "$TMP/s7.log" ||
    fail "N=7 > 6 shards not explained: $(tail -5 "$TMP/s7.log")"
  [ ! -e "$TMP/s7/model.safetensors" ] || fail "N=7: weights written"
  # One shard is the plain one-process arithmetic.
  train 1 "$TMP/d1" || fail "N=1: $(tail -5 "$TMP/d1.log")"
  train 1 "$TMP/s1x1" --set train.shards=1 || fail "shards=1: $(tail -5 "$TMP/s1x1.log")"
  cmp "$TMP/d1/model.safetensors" "$TMP/s1x1/model.safetensors" || fail "train.shards=1 differs from the default"
  ;;
stochastic)
  # Stochastic activation quantizers draw per global sample, stochastic weight quantizers the
  # same numbers in every process (the 50-row weights match N=2's 50-row slices, which would
  # key them by the shard without NotBatchMajorScope). SGD: the weights agree to ~1e-6.
  CFG=$HERE/tiny_stochastic.json
  train 1 "$TMP/q1" || fail "N=1: $(tail -5 "$TMP/q1.log")"
  for n in 2 3; do
    train $n "$TMP/q$n" || fail "N=$n: $(tail -5 "$TMP/q$n.log")"
    $COMPARE "$TMP/q$n/model.safetensors" "$TMP/q1/model.safetensors" --max-rel 1e-4 || fail "N=$n vs 1"
  done
  train 1 "$TMP/qs1" --set train.shards=4 || fail "shards N=1: $(tail -5 "$TMP/qs1.log")"
  train 3 "$TMP/qs3" --set train.shards=4 || fail "shards N=3: $(tail -5 "$TMP/qs3.log")"
  cmp "$TMP/qs1/model.safetensors" "$TMP/qs3/model.safetensors" || fail "train.shards=4: N=3 differs from N=1"
  echo "stochastic quantizers, train.shards=4: N = 1, 3 byte-identical"
  ;;
compress)
  # lowbit compress runs in one process: under mpirun every rank refuses at once.
  timeout 60 mpirun --oversubscribe -np 2 "$LOWBIT" compress experiments/mnist/deep_compression_lenet300.json \
    --out "$TMP/compress" > "$TMP/compress.log" 2>&1
  rc=$?
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "compress under mpirun: status $rc"
  grep -q "lowbit compress runs in one process, but was started as one of 2 MPI processes" "$TMP/compress.log" ||
    fail "compress under mpirun not explained: $(tail -5 "$TMP/compress.log")"
  [ ! -e "$TMP/compress" ] || fail "compress under mpirun wrote $TMP/compress"
  echo "compress under mpirun: refused"
  # So does every other command but train (apps/lowbit/main.cpp), before reading its arguments.
  for cmd in eval export bench study table tnn-convert; do
    timeout 60 mpirun --oversubscribe -np 2 "$LOWBIT" $cmd "$TMP/none" > "$TMP/$cmd.log" 2>&1
    rc=$?
    [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "$cmd under mpirun: status $rc"
    grep -q "lowbit $cmd runs in one process, but was started as one of 2 MPI processes" "$TMP/$cmd.log" ||
      fail "$cmd under mpirun not explained: $(tail -5 "$TMP/$cmd.log")"
  done
  echo "eval, export, bench, study, table, tnn-convert under mpirun: refused"
  ;;
*) fail "unknown test $WHAT" ;;
esac
echo "$WHAT: passed"
