#!/usr/bin/env bash
# The whole lowbit-vs-PyTorch table of issue 11 in one run, as markdown:
#   1. training steps (forward + backward + Adam, batch 100), images/s of lowbit and PyTorch
#      side by side for MLP, LeNet-5, VGG-small FP and VGG-small BNN at 1 and 2 threads (or
#      $THREADS), each repeated $REPEATS times (min / median / max: the VM is noisy), with
#      lowbit's effective GFLOP/s as a share of OpenBLAS sgemm measured in the same process;
#   2. one whole `lowbit train` epoch of $EPOCH_CONFIG (data loading, augmentation and
#      validation included): wall seconds of the command, the epoch's training seconds and
#      images/s, and the loader's share;
#   3. the busy machine: the quickstart epoch and VGG-small steps alone and with one
#      `yes > /dev/null` running, and the share of the quiet images/s kept.
#
#   bench/compare_torch.sh                      # the full table (tens of minutes)
#   STEPS=1 WARMUP=1 REPEATS=1 QUICK=1 bench/compare_torch.sh   # a smoke run of the plumbing
#
# Environment knobs: THREADS ("1 2"), STEPS (timed steps per net, 100), WARMUP (5), REPEATS (3),
# NETS (mlp,lenet5,vgg_small,vgg_small_bnn), EPOCH_CONFIG (experiments/cifar10/vgg_small.json),
# OUT (markdown file, default build/compare_torch.md; also printed), QUICK=1 (the epoch
# and busy parts on 1/10 of the data via --set data.validation, for smoke runs only).
#
# lowbit runs with nothing set in the environment (its defaults choose the OpenBLAS kernel and
# the OpenMP wait policy; the script unsets the variables for it), PyTorch with
# OMP_WAIT_POLICY=PASSIVE (its fastest setting on 2 cores). Build first:
#   cmake --build build -j2 --target lowbit engine_bench
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS=${THREADS:-${1:-"1 2"}}   # or the first argument, e.g. bench/compare_torch.sh 2
STEPS=${STEPS:-100}
WARMUP=${WARMUP:-5}
REPEATS=${REPEATS:-3}
NETS=${NETS:-mlp,lenet5,vgg_small,vgg_small_bnn}
EPOCH_CONFIG=${EPOCH_CONFIG:-experiments/cifar10/vgg_small.json}
OUT=${OUT:-build/compare_torch.md}
QUICK=${QUICK:-0}
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/compare_torch.XXXXXX)
BUSY_PID=""
cleanup() {
  if [ -n "$BUSY_PID" ]; then kill "$BUSY_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
for exe in build/lowbit build/bench/engine_bench; do
  [ -x "$exe" ] || { echo "compare_torch: $exe missing; build it first" >&2; exit 1; }
done
mkdir -p "$(dirname "$OUT")"

# lowbit as a user runs it: nothing of ours in the environment.
lowbit_env() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT "$@"; }

# ---- 1. steps side by side
STEPS_JSON=$WORK/steps.jsonl
: > "$STEPS_JSON"
for T in $THREADS; do
  for r in $(seq 1 "$REPEATS"); do
    echo "compare_torch: steps, $T thread(s), repeat $r/$REPEATS" >&2
    lowbit_env LOWBIT_NUM_THREADS="$T" build/bench/engine_bench --steps "$STEPS" --warmup "$WARMUP" --nets "$NETS" |
      sed "s/^{/{\"repeat\": $r, \"side\": \"lowbit\", /" >> "$STEPS_JSON"
    OMP_WAIT_POLICY=PASSIVE $PY bench/torch_reference.py --threads "$T" --steps "$STEPS" --warmup "$WARMUP" --nets "$NETS" |
      sed "s/^{/{\"repeat\": $r, \"side\": \"pytorch\", /" >> "$STEPS_JSON"
  done
done

# ---- 2. a whole epoch from `lowbit train`
EPOCH_SETS=(--set train.epochs=1)
QUICK_SETS=()
if [ "$QUICK" = 1 ]; then
  case "$EPOCH_CONFIG" in
    *cifar10*) QUICK_SETS=(--set data.validation=45000) ;;   # 5,000 train images
    *) QUICK_SETS=(--set data.validation=54000) ;;           # 6,000 train images (MNIST)
  esac
fi
# run_epoch CONFIG OUTDIR [VAR=VALUE]: prints the wall seconds and leaves metrics.json /
# log.jsonl in OUTDIR; VAR=VALUE is set for lowbit (e.g. a wait policy to compare).
run_epoch() {
  local start end
  start=$(date +%s.%N)
  lowbit_env ${3:-} build/lowbit train "$1" "${EPOCH_SETS[@]}" "${QUICK_SETS[@]}" --out "$2" > "$2.log" 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
echo "compare_torch: one epoch of $EPOCH_CONFIG" >&2
EPOCH_WALL=$(run_epoch "$EPOCH_CONFIG" "$WORK/epoch")

# ---- 3. the busy machine: quickstart epoch and VGG-small steps, alone and next to `yes`,
# under lowbit's default OpenMP waiting (passive) and two alternatives to compare it with.
QS=experiments/mnist/quickstart.json
BUSY_NET=vgg_small
WAITS=("default" "GOMP_SPINCOUNT=10000" "OMP_WAIT_POLICY=active")
BUSY_TSV=$WORK/busy.tsv
: > "$BUSY_TSV"
QUICK_SETS=()
[ "$QUICK" = 1 ] && QUICK_SETS=(--set data.validation=54000)
for k in "${!WAITS[@]}"; do
  W=${WAITS[$k]}
  WENV=""
  [ "$W" != default ] && WENV=$W
  for load in quiet busy; do
    echo "compare_torch: busy machine, wait $W, $load" >&2
    if [ "$load" = busy ]; then yes > /dev/null & BUSY_PID=$!; fi
    wall=$(run_epoch "$QS" "$WORK/qs_${k}_$load" "$WENV")
    vgg=$(lowbit_env $WENV build/bench/engine_bench --steps "$STEPS" --warmup "$WARMUP" --nets "$BUSY_NET" | sed -n 1p)
    if [ -n "$BUSY_PID" ]; then kill "$BUSY_PID"; wait "$BUSY_PID" 2>/dev/null || true; BUSY_PID=""; fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$W" "$load" "$wall" "$WORK/qs_${k}_$load" "$vgg" >> "$BUSY_TSV"
  done
done

# ---- the markdown
$PY - "$STEPS_JSON" "$WORK" "$EPOCH_CONFIG" "$EPOCH_WALL" "$BUSY_TSV" "$STEPS" "$REPEATS" "$QUICK" > "$OUT" <<'PY'
import json, statistics, subprocess, sys
steps_file, work, epoch_config, epoch_wall, busy_tsv, steps, repeats, quick = sys.argv[1:]
rows = [json.loads(l) for l in open(steps_file) if l.strip()]

def spread(vals):
    vals = sorted(vals)
    med = statistics.median(vals)
    return med, f"{med:,.0f} ({vals[0]:,.0f}–{vals[-1]:,.0f})" if len(vals) > 1 else f"{med:,.0f}"

def pick(side, net, threads, key):
    return [r[key] for r in rows if r["side"] == side and r["net"] == net and r["threads"] == threads]

lowbit_rt = next((r for r in rows if r["side"] == "lowbit" and r["net"] == "sgemm"), {})
torch_ver = next((r["framework"] for r in rows if r["side"] == "pytorch"), "pytorch ?")
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True, text=True).stdout.strip()
print("# lowbit vs PyTorch: training speed (bench/compare_torch.sh)\n")
print(f"CPU: {cpu}, {subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores. "
      f"lowbit: {lowbit_rt.get('compute_runtime', '?')}. PyTorch: {torch_ver}, OMP_WAIT_POLICY=PASSIVE. "
      f"{steps} timed step(s) of batch 100 per net after warm-up, {repeats} repeat(s): median (min–max).\n")
if quick == "1":
    print("**QUICK smoke run: the epoch and busy-machine figures use a fraction of the data; not a result.**\n")
print("## Training steps (forward + backward + Adam), images/s\n")
print("| net | threads | lowbit | PyTorch | lowbit / PyTorch | lowbit GFLOP/s | sgemm GFLOP/s (same run) | share of sgemm |")
print("|---|---|---|---|---|---|---|---|")
nets = [n for n in dict.fromkeys(r["net"] for r in rows) if n != "sgemm"]
for threads in sorted({r["threads"] for r in rows}):
    sg_med, _ = spread(pick("lowbit", "sgemm", threads, "gflops") or [float("nan")])
    for net in nets:
        ours, theirs = pick("lowbit", net, threads, "images_per_second"), pick("pytorch", net, threads, "images_per_second")
        if not ours or not theirs:
            continue
        om, ot = spread(ours)
        tm, tt = spread(theirs)
        gf, _ = spread(pick("lowbit", net, threads, "gflops"))
        print(f"| {net} | {threads} | {ot} | {tt} | **{om / tm:.2f}** | {gf:,.1f} | {sg_med:,.1f} | {gf / sg_med:.0%} |")
print("\nGFLOP/s: 6 FLOPs per forward multiply-accumulate per image (forward, weight gradient, "
      "input gradient). sgemm: OpenBLAS 1024³ at the same thread count, in the lowbit process.\n")

def metrics(d):
    return json.load(open(f"{work}/{d}/metrics.json"))

print("## One `lowbit train` epoch\n")
try:
    m = metrics("epoch")
    last = [json.loads(l) for l in open(f"{work}/epoch/log.jsonl") if l.strip()][-1]
    loader = last.get("loader_seconds")
    print("| config | wall s (whole command: load, train, validate, test) | training s | training images/s | loader share | val accuracy |")
    print("|---|---|---|---|---|---|")
    share = f"{loader / last['seconds']:.1%}" if loader is not None else "n/a (trainer does not record it)"
    val = f"{100 * last['val_accuracy']:.2f}%" if last.get("val_accuracy") is not None else "n/a"
    print(f"| `{epoch_config}` | {float(epoch_wall):.1f} | {m['train_seconds']:.1f} | {m['images_per_second']:,.0f} | {share} | {val} |")
except Exception as e:  # a failed run: say so in the table rather than die
    print(f"epoch run failed: {e!r}; see the log in the run folder")
print(f"\nCommand: `build/lowbit train {epoch_config} --set train.epochs=1` (nothing set in the environment).\n")

print("## Busy machine: one other CPU-bound process (`yes > /dev/null`)\n")
print("Training images/s alone (quiet) and next to `yes` (busy), and the share kept. lowbit's "
      "default waits passively (OMP_WAIT_POLICY=PASSIVE); the other rows set the variable "
      "shown for comparison.\n")
print("| OpenMP waiting | quickstart epoch quiet | busy | **kept** | VGG-small steps quiet | busy | **kept** |")
print("|---|---|---|---|---|---|---|")
by = {}
for line in open(busy_tsv):
    wait, load, wall, run, vgg = line.rstrip("\n").split("\t")
    try:
        qs = json.load(open(f"{run}/metrics.json"))["images_per_second"]
    except Exception:
        qs = float("nan")
    by.setdefault(wait, {})[load] = (qs, json.loads(vgg)["images_per_second"], float(wall))
for wait, d in by.items():
    (qq, vq, wq), (qb, vb, wb) = d["quiet"], d["busy"]
    label = "lowbit default (passive)" if wait == "default" else f"`{wait}`"
    print(f"| {label} | {qq:,.0f} ({wq:.1f} s wall) | {qb:,.0f} ({wb:.1f} s) | **{qb / qq:.0%}** | {vq:,.0f} | {vb:,.0f} | **{vb / vq:.0%}** |")
PY
cat "$OUT"
echo "compare_torch: written to $OUT" >&2
