#!/usr/bin/env bash
# Runs the named studies (studies/<name>.json) one after another with build/lowbit, each
# appending its console output to runs/<name>/study.out. Resumable: run the same command
# again and every study continues where it stopped (finished runs are read from results/).
# Stops at the first study that was interrupted (Ctrl-C / SIGINT), so that a stop is a stop.
#
#   scripts/studies.sh mnist_lenet5 deep_compression           # one after the other, all cores
#   # two lanes on a 2-core machine, one thread each, in the background:
#   LOWBIT_NUM_THREADS=1 nohup scripts/studies.sh fashion_mnist_lenet5 mnist_bnn_mlp > /dev/null 2>&1 &
#   LOWBIT_NUM_THREADS=1 nohup scripts/studies.sh cifar10_vgg_small > /dev/null 2>&1 &
#   pkill -INT -f "lowbit study"                                # stop: the runs checkpoint
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: scripts/studies.sh STUDY [STUDY ...]   (names in studies/)" >&2; exit 2; }
for s in "$@"; do
  [ -f "studies/$s.json" ] || { echo "scripts/studies.sh: studies/$s.json not found" >&2; exit 2; }
done
for s in "$@"; do
  mkdir -p "runs/$s"
  status=0
  nice -n "${LB_NICE:-19}" build/lowbit study "studies/$s.json" >> "runs/$s/study.out" 2>&1 || status=$?
  if [ "$status" -ne 0 ] || [ "$(tail -n 1 "runs/$s/study.out")" = "lowbit study: stopped; start the same command again to continue" ]; then
    echo "scripts/studies.sh: $s stopped (exit $status); see runs/$s/study.out" >&2
    exit "$status"
  fi
done
