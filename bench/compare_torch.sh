#!/usr/bin/env bash
# Runs the engine benchmark and its PyTorch reference in one go and prints lowbit/PyTorch.
#   bench/compare_torch.sh [threads]       (default: number of cores)
# Both sides run under the same OPENBLAS_CORETYPE as the caller's environment; the script
# prints which. Run it under each setting to report both, e.g.
#   bench/compare_torch.sh 2
#   env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE bench/compare_torch.sh 2
#   OPENBLAS_CORETYPE=SkylakeX bench/compare_torch.sh 2
# Both sides run with OMP_WAIT_POLICY=PASSIVE (PyTorch's fastest setting on 2 cores; ours
# too when anything else runs on the machine, since spinning threads then steal the cores).
set -euo pipefail
cd "$(dirname "$0")/.."
T=${1:-$(nproc)}
# Steps timed per net (after warm-up); this 2-core VM is noisy, so more than the programs' 50.
STEPS=${STEPS:-200}
echo "threads=$T steps=$STEPS OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>} OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-<unset>}"
ours=$(OMP_WAIT_POLICY=PASSIVE LOWBIT_NUM_THREADS=$T build/bench/engine_bench --steps "$STEPS")
theirs=$(OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_reference.py --threads "$T" --steps "$STEPS")
echo "$ours"
echo "$theirs"
/usr/bin/python3 - "$ours" "$theirs" <<'PY'
import json, sys
ours = {j["net"]: j["images_per_second"] for j in map(json.loads, sys.argv[1].splitlines())}
theirs = {j["net"]: j["images_per_second"] for j in map(json.loads, sys.argv[2].splitlines())}
for net in ours:
    print(f"{net:8s} lowbit {ours[net]:9.1f} img/s   pytorch {theirs[net]:9.1f} img/s   ratio {ours[net] / theirs[net]:.2f}")
PY
