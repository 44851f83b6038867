#!/usr/bin/env bash
# Multi-process training tests (registered with ctest when CMake finds MPI):
#
#   mpi_test.sh LOWBIT agreement   N = 2 twice (bit-identical), N = 2 and 3 against N = 1
#   mpi_test.sh LOWBIT resume      stopped with N = 2, resumed with 1; stopped with 1, resumed with 3
#   mpi_test.sh LOWBIT faults      a killed rank ends the job; a config mismatch is named
#
# Runs from the source root (data/mnist needed) on tests/distributed/tiny_mnist.json: 1,000
# training images, conv + batch norm + dropout, 2 epochs of 10 steps.
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
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
train() {  # train N OUT [args...]
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
*) fail "unknown test $WHAT" ;;
esac
echo "$WHAT: passed"
