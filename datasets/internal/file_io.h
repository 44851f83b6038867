#pragma once
// Private: file reading (raw or gzip) and a fast checksum for the data sets. Atomic writes:
// core/serialize.h write_file_atomic.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lowbit::detail {

/// Whole file as bytes. A name ending in ".gz" is decompressed with zlib. Throws
/// lowbit::Error naming the file when it is missing, unreadable or a corrupt/truncated gzip
/// stream (with the decompressed byte count reached).
std::vector<uint8_t> read_bytes(const std::string& path);

/// Decompresses gzip data (one or more members, as gzip/zlib's gzread accept) read from
/// `source`. Throws lowbit::Error naming `source` and the decompressed byte count reached for
/// corrupt or truncated data.
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& compressed, const std::string& source);

/// 64-bit checksum of a byte range (word-wise multiply-xor, parallel over 1 MiB blocks; not
/// cryptographic — it detects corruption and truncation, not tampering).
uint64_t checksum64(const uint8_t* data, size_t size);

/// splitmix64 finaliser: mixes a 64-bit value (seed derivation, fingerprints).
inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// True when `path` names an existing regular file (or a symlink to one).
bool is_file(const std::string& path);
/// The first of `candidates` that exists, or "" when none does.
std::string first_existing(const std::vector<std::string>& candidates);

}  // namespace lowbit::detail
