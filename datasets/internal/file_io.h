#pragma once
// Private: file reading (raw or gzip), atomic writes and a fast checksum for the data sets.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lowbit::detail {

/// Whole file as bytes. A name ending in ".gz" is decompressed with zlib. Throws
/// lowbit::Error naming the file when it is missing, unreadable or a corrupt/truncated gzip
/// stream (with the decompressed byte count reached).
std::vector<uint8_t> read_bytes(const std::string& path);

/// Writes `size` bytes to `path` through a temporary file in the same directory + rename, so
/// readers never see a half-written file. Throws naming the file on failure.
void write_bytes_atomic(const std::string& path, const void* data, size_t size);
/// The same for a file made of several byte ranges written one after the other.
void write_parts_atomic(const std::string& path,
                        const std::vector<std::pair<const void*, size_t>>& parts);

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
