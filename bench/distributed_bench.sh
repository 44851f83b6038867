#!/usr/bin/env bash
# Issue 13's speed table: one process with 2 threads against 2 MPI processes with 1 thread each
# on this 2-core machine, for the MLP (quickstart), LeNet-5 and VGG-small, one epoch on a
# training subset each (the rest held out as validation), read from each run's metrics.json:
# training images/s, and for the 2-process runs the seconds per step spent in the gradient
# allreduce and in synchronised batch norm. Prints a markdown table.
#   bench/distributed_bench.sh            (build first: cmake --build build --target lowbit)
#
# The cost of train.shards (bit-identical for any N, docs/distributed.md): 2 processes × 1
# thread without and with S shards per batch (default S = 2 4 8), same nets and subsets:
# images/s and its ratio to the plain run, the seconds per step in the gradient exchange
# (the allreduce, or the allgather of the S per-shard buffers) and in batch-norm
# sync, rank 0's peak resident memory (GNU time), and whether N = 1 with the same S gives
# byte-identical weights (it must):
#   bench/distributed_bench.sh shards [S ...]
# Run it on a quiet machine: the collective times include waiting for the slowest process.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# name | config | --set for a subset of the training set
runs=(
  "MLP 784-512-512-10|experiments/mnist/quickstart.json|data.validation=50000"
  "LeNet-5|experiments/mnist/lenet5.json|data.validation=50000"
  "VGG-small|experiments/cifar10/vgg_small.json|data.validation=45000"
)
field() { /usr/bin/python3 -c "import json,sys; m=json.load(open(sys.argv[1])); v=m; exec('for k in sys.argv[2].split(\".\"): v=v[k]'); print(v)" "$1" "$2"; }
if [ "${1:-}" = shards ]; then
  shift
  shard_counts=("$@")
  [ $# -gt 0 ] || shard_counts=(2 4 8)
  echo "| net | S | 2 × 1 img/s | ratio to S off | gradient exchange s/step | BN sync s/step | rank 0 peak RSS | N = 1 same bits |"
  echo "|---|---|---|---|---|---|---|---|"
  for r in "${runs[@]}"; do
    IFS='|' read -r name cfg subset <<<"$r"
    for s in off "${shard_counts[@]}"; do
      extra=()
      [ "$s" = off ] || extra=(--set "train.shards=$s")
      # GNU time around each rank writes its peak RSS to rss.<rank>
      mpirun --oversubscribe -np 2 -x LOWBIT_NUM_THREADS=1 \
        sh -c '/usr/bin/time -f "rss_kb %M" -o "$0.$OMPI_COMM_WORLD_RANK" "$@"' "$WORK/rss" \
        build/lowbit train "$cfg" --set train.epochs=1 --set "$subset" "${extra[@]}" \
        --out "$WORK/two" > "$WORK/two.log" 2>&1
      ips=$(field "$WORK/two/metrics.json" images_per_second)
      [ "$s" = off ] && base=$ips
      ar=$(field "$WORK/two/metrics.json" distributed.gradient_allreduce_seconds_per_step)
      bn=$(field "$WORK/two/metrics.json" distributed.batch_norm_sync_seconds_per_step)
      rss=$(awk '/rss_kb/ {print $2}' "$WORK/rss.0")
      same="—"
      if [ "$s" != off ]; then
        LOWBIT_NUM_THREADS=1 build/lowbit train "$cfg" --set train.epochs=1 --set "$subset" "${extra[@]}" \
          --out "$WORK/one" > "$WORK/one.log" 2>&1
        cmp -s "$WORK/one/model.safetensors" "$WORK/two/model.safetensors" && same=yes || same=NO
      fi
      /usr/bin/python3 -c "import sys; n,s,i,b,a,g,r,same=sys.argv[1:]; i,b,a,g,r=map(float,(i,b,a,g,r)); print(f'| {n} | {s} | {i:,.0f} | {i/b:.2f} | {a*1e3:.2f} ms | {g*1e3:.2f} ms | {r/1024:.0f} MiB | {same} |')" \
        "$name" "$s" "$ips" "$base" "$ar" "$bn" "$rss" "$same"
      rm -rf "$WORK/one" "$WORK/two"
    done
  done
  exit 0
fi
echo "| net | train images | 1 process × 2 threads, img/s | 2 processes × 1 thread, img/s | ratio | allreduce s/step | BN sync s/step | test acc 1×2 / 2×1 |"
echo "|---|---|---|---|---|---|---|---|"
for r in "${runs[@]}"; do
  IFS='|' read -r name cfg subset <<<"$r"
  LOWBIT_NUM_THREADS=2 build/lowbit train "$cfg" --set train.epochs=1 --set "$subset" \
    --out "$WORK/one" > "$WORK/one.log" 2>&1
  mpirun --oversubscribe -np 2 -x LOWBIT_NUM_THREADS=1 build/lowbit train "$cfg" --set train.epochs=1 \
    --set "$subset" --out "$WORK/two" > "$WORK/two.log" 2>&1
  one=$(field "$WORK/one/metrics.json" images_per_second)
  two=$(field "$WORK/two/metrics.json" images_per_second)
  ar=$(field "$WORK/two/metrics.json" distributed.gradient_allreduce_seconds_per_step)
  bn=$(field "$WORK/two/metrics.json" distributed.batch_norm_sync_seconds_per_step)
  acc1=$(field "$WORK/one/metrics.json" test_accuracy)
  acc2=$(field "$WORK/two/metrics.json" test_accuracy)
  /usr/bin/python3 - "$name" "$one" "$two" "$ar" "$bn" "$acc1" "$acc2" "$subset" <<'PY'
import sys
name, one, two, ar, bn, a1, a2, subset = sys.argv[1:]
one, two, ar, bn, a1, a2 = map(float, (one, two, ar, bn, a1, a2))
held = int(subset.split("=")[1])
total = 60000 if "mnist" in name.lower() or name.startswith(("MLP", "LeNet")) else 50000
print(f"| {name} | {total - held:,} | {one:,.0f} | {two:,.0f} | {two / one:.2f} | {ar * 1e3:.2f} ms | {bn * 1e3:.2f} ms | {100*a1:.2f} % / {100*a2:.2f} % |")
PY
  rm -rf "$WORK/one" "$WORK/two"
done
