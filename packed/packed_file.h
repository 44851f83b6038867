#pragma once
/// The packed model container (docs/packed_format.md): a fixed header, JSON metadata, a
/// region of 64-byte aligned binary blobs and a CRC-32 of everything before it.
///
///   PackedFile f;
///   f.meta = {{"name", "mnist_bnn"}};
///   f.add_blob("0.sign", BlobType::U64, {2048, 13}, words.data());
///   write_packed_file("model.lbp", f);        // atomic (temp file + rename)
///   PackedFile g = read_packed_file("model.lbp");   // checks magic, sizes and CRC
///   const Blob& b = g.blob("0.sign");
///
/// Layout (all integers little-endian):
///   0   8 bytes   magic "LBPACKED"
///   8   u32       format version (kPackedFormatVersion)
///   12  u32       reserved, 0
///   16  u64       J: bytes of JSON metadata
///   24  u64       B: bytes of the blob region
///   32  J bytes   JSON (UTF-8), then zero padding up to a multiple of 64 (offset P)
///   P   B bytes   blobs; each starts at a multiple of 64 relative to P, zero padding between
///   P+B u32       CRC-32 (zlib's crc32) of bytes [0, P + B)
/// The metadata's "blobs" list holds {name, dtype, shape, offset, bytes} per blob; offsets
/// are relative to P.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace lowbit::packed {

inline constexpr char kPackedMagic[9] = "LBPACKED";
inline constexpr uint32_t kPackedFormatVersion = 1;

enum class BlobType { F32, U64, I8 };
/// "f32", "u64", "i8".
const char* blob_type_name(BlobType t);
int64_t blob_type_size(BlobType t);

/// One named array of raw little-endian values.
struct Blob {
  std::string name;
  BlobType type = BlobType::F32;
  Shape shape;
  std::string bytes;  ///< numel(shape) · blob_type_size(type) bytes
  int64_t numel() const { return shape_numel(shape); }
};

struct PackedFile {
  /// Free-form metadata (the model description); "blobs" is filled in by the writer.
  nlohmann::json meta = nlohmann::json::object();
  std::vector<Blob> blobs;

  /// Appends a blob copying numel(shape) values from `data`; throws on a duplicate name.
  void add_blob(const std::string& name, BlobType type, const Shape& shape, const void* data);
  void add_f32(const std::string& name, const Tensor& t);
  /// The blob `name`, checked to have `type` (and `numel` values when >= 0); throws
  /// lowbit::Error naming `source` (the file) otherwise.
  const Blob& blob(const std::string& name, BlobType type, int64_t numel = -1) const;
  bool has_blob(const std::string& name) const;
  /// Float blob as a Tensor of its shape (copy).
  Tensor f32(const std::string& name, int64_t numel = -1) const;
  /// Sum of blob sizes in bytes.
  int64_t blob_bytes() const;
  /// Where the file came from, for error messages ("" when built in memory).
  std::string source;
};

/// The bytes of `f` in the format above.
std::string serialize_packed_file(const PackedFile& f);
/// Parses bytes; errors name `source`: bad magic, unsupported version, truncated or
/// trailing bytes, CRC mismatch ("corrupted"), malformed metadata, blobs out of range.
PackedFile parse_packed_file(const std::string& bytes, const std::string& source);
/// Atomic write (core/serialize.h write_file_atomic).
void write_packed_file(const std::string& path, const PackedFile& f);
PackedFile read_packed_file(const std::string& path);

}  // namespace lowbit::packed
