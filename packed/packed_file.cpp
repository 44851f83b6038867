#include "packed/packed_file.h"

#include <zlib.h>

#include <bit>
#include <cstring>
#include <set>

#include "core/check.h"
#include "core/json_file.h"
#include "core/serialize.h"

namespace lowbit::packed {

static_assert(std::endian::native == std::endian::little,
              "the packed format is little-endian and read by memcpy");

namespace {

constexpr int64_t kHeaderBytes = 32;
constexpr int64_t kAlign = 64;

int64_t align_up(int64_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

template <class T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof(T));
}

template <class T>
T get(const std::string& in, int64_t at) {
  T v;
  std::memcpy(&v, in.data() + at, sizeof(T));
  return v;
}

uint32_t crc32_of(const char* data, int64_t n) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed in chunks below 4 GiB.
  while (n > 0) {
    const uInt chunk = static_cast<uInt>(std::min<int64_t>(n, int64_t{1} << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data), chunk);
    data += chunk;
    n -= chunk;
  }
  return static_cast<uint32_t>(crc);
}

BlobType parse_type(const std::string& s, const std::string& source, const std::string& name) {
  if (s == "f32") return BlobType::F32;
  if (s == "u64") return BlobType::U64;
  if (s == "i8") return BlobType::I8;
  LB_FAIL(source, ": blob \"", name, "\" has unknown dtype \"", s, "\" (expected f32, u64, i8)");
}

}  // namespace

const char* blob_type_name(BlobType t) {
  switch (t) {
    case BlobType::F32:
      return "f32";
    case BlobType::U64:
      return "u64";
    case BlobType::I8:
      return "i8";
  }
  return "?";
}

int64_t blob_type_size(BlobType t) {
  switch (t) {
    case BlobType::F32:
      return 4;
    case BlobType::U64:
      return 8;
    case BlobType::I8:
      return 1;
  }
  return 1;
}

void PackedFile::add_blob(const std::string& name, BlobType type, const Shape& shape,
                          const void* data) {
  LB_CHECK(!has_blob(name), "PackedFile::add_blob: duplicate blob name \"", name, "\"");
  Blob b{name, type, shape, {}};
  const int64_t n = shape_numel(shape) * blob_type_size(type);
  b.bytes.assign(static_cast<const char*>(data), static_cast<size_t>(n));
  blobs.push_back(std::move(b));
}

void PackedFile::add_f32(const std::string& name, const Tensor& t) {
  add_blob(name, BlobType::F32, t.shape(), t.data());
}

bool PackedFile::has_blob(const std::string& name) const {
  for (const Blob& b : blobs)
    if (b.name == name) return true;
  return false;
}

const Blob& PackedFile::blob(const std::string& name, BlobType type, int64_t numel) const {
  for (const Blob& b : blobs) {
    if (b.name != name) continue;
    LB_CHECK(b.type == type, source, ": blob \"", name, "\" has dtype ", blob_type_name(b.type),
             ", expected ", blob_type_name(type));
    LB_CHECK(numel < 0 || b.numel() == numel, source, ": blob \"", name, "\" holds ", b.numel(),
             " values, expected ", numel);
    return b;
  }
  LB_FAIL(source.empty() ? std::string("packed model") : source, ": missing blob \"", name, "\"");
}

Tensor PackedFile::f32(const std::string& name, int64_t numel) const {
  const Blob& b = blob(name, BlobType::F32, numel);
  Tensor t = Tensor::empty(b.shape);
  std::memcpy(t.data(), b.bytes.data(), b.bytes.size());
  return t;
}

int64_t PackedFile::blob_bytes() const {
  int64_t n = 0;
  for (const Blob& b : blobs) n += static_cast<int64_t>(b.bytes.size());
  return n;
}

std::string serialize_packed_file(const PackedFile& f) {
  nlohmann::json meta = f.meta;
  nlohmann::json list = nlohmann::json::array();
  int64_t offset = 0;
  for (const Blob& b : f.blobs) {
    LB_CHECK(static_cast<int64_t>(b.bytes.size()) == b.numel() * blob_type_size(b.type),
             "serialize_packed_file: blob \"", b.name, "\" has ", b.bytes.size(),
             " bytes for shape ", b.shape, " of ", blob_type_name(b.type));
    list.push_back({{"name", b.name},
                    {"dtype", blob_type_name(b.type)},
                    {"shape", b.shape},
                    {"offset", offset},
                    {"bytes", b.bytes.size()}});
    offset = align_up(offset + static_cast<int64_t>(b.bytes.size()));
  }
  meta["blobs"] = list;
  const std::string json = meta.dump();
  const int64_t J = static_cast<int64_t>(json.size());
  const int64_t P = align_up(kHeaderBytes + J);
  const int64_t B = offset;
  std::string out;
  out.reserve(static_cast<size_t>(P + B + 4));
  out.append(kPackedMagic, 8);
  put<uint32_t>(out, kPackedFormatVersion);
  put<uint32_t>(out, 0);
  put<uint64_t>(out, static_cast<uint64_t>(J));
  put<uint64_t>(out, static_cast<uint64_t>(B));
  out += json;
  out.resize(static_cast<size_t>(P), '\0');
  for (const Blob& b : f.blobs) {
    out += b.bytes;
    out.resize(static_cast<size_t>(align_up(static_cast<int64_t>(out.size()) - P) + P), '\0');
  }
  out.resize(static_cast<size_t>(P + B), '\0');
  put<uint32_t>(out, crc32_of(out.data(), P + B));
  return out;
}

PackedFile parse_packed_file(const std::string& bytes, const std::string& source) {
  const int64_t size = static_cast<int64_t>(bytes.size());
  LB_CHECK(size >= 8 && std::memcmp(bytes.data(), kPackedMagic, 8) == 0, source,
           ": not a lowbit packed model (bad magic; expected a file written by "
           "`lowbit export RUN_DIR --packed FILE`)");
  LB_CHECK(size >= kHeaderBytes + 4, source, ": truncated (", size,
           " bytes, shorter than the header)");
  const uint32_t version = get<uint32_t>(bytes, 8);
  LB_CHECK(version == kPackedFormatVersion, source, ": packed format version ", version,
           " is not supported (this build reads version ", kPackedFormatVersion,
           "); re-export the run with this lowbit");
  const uint64_t J = get<uint64_t>(bytes, 16), B = get<uint64_t>(bytes, 24);
  // Bound the header values before arithmetic on them (a flipped high bit must not overflow).
  LB_CHECK(J < (uint64_t{1} << 40) && B < (uint64_t{1} << 40), source,
           ": corrupted header (metadata ", J, " bytes, blobs ", B, " bytes)");
  const int64_t P = align_up(kHeaderBytes + static_cast<int64_t>(J));
  const int64_t expected = P + static_cast<int64_t>(B) + 4;
  LB_CHECK(size >= expected, source, ": truncated (", size, " bytes, the header announces ",
           expected, ")");
  LB_CHECK(size == expected, source, ": ", size - expected,
           " unexpected trailing bytes after the checksum (", expected, " expected)");
  const uint32_t stored = get<uint32_t>(bytes, P + static_cast<int64_t>(B));
  const uint32_t actual = crc32_of(bytes.data(), P + static_cast<int64_t>(B));
  LB_CHECK(stored == actual || kFuzzingSkipsChecksums, source, ": corrupted (CRC-32 mismatch: stored ", stored,
           ", computed ", actual, "); re-export or copy the file again");

  PackedFile f;
  f.source = source;
  f.meta = parse_json(std::string_view(bytes).substr(kHeaderBytes, static_cast<size_t>(J)),
                      source + " (metadata JSON at byte " + std::to_string(kHeaderBytes) + ")");
  LB_CHECK(f.meta.is_object() && f.meta.contains("blobs") && f.meta["blobs"].is_array(), source,
           ": metadata has no \"blobs\" list");
  std::set<std::string> names;
  try {
    for (const auto& e : f.meta["blobs"]) {
      Blob b;
      b.name = e.at("name").get<std::string>();
      b.type = parse_type(e.at("dtype").get<std::string>(), source, b.name);
      const std::string what = source + ": blob \"" + b.name + "\"";
      const auto& shape = e.at("shape");
      LB_CHECK(shape.is_array(), what, ": shape is not a list");
      for (const auto& d : shape) b.shape.push_back(json_int(d, 0, INT64_MAX, what + " shape"));
      const int64_t numel = checked_numel(b.shape, static_cast<int64_t>(B), what);
      const int64_t off = json_int(e.at("offset"), 0, static_cast<int64_t>(B), what + " offset");
      const int64_t n = json_int(e.at("bytes"), 0, static_cast<int64_t>(B), what + " bytes");
      LB_CHECK(n == numel * blob_type_size(b.type), source, ": blob \"", b.name, "\" has ",
               n, " bytes for shape ", b.shape);
      LB_CHECK(off >= 0 && off % kAlign == 0 && off + n <= static_cast<int64_t>(B), source,
               ": blob \"", b.name, "\" (offset ", off, ", ", n, " bytes) lies outside the ", B,
               "-byte blob region");
      LB_CHECK(names.insert(b.name).second, source, ": duplicate blob \"", b.name, "\"");
      b.bytes.assign(bytes, static_cast<size_t>(P + off), static_cast<size_t>(n));
      f.blobs.push_back(std::move(b));
    }
  } catch (const nlohmann::json::exception& e) {
    LB_FAIL(source, ": malformed blob list in the metadata: ", e.what());
  }
  f.meta.erase("blobs");
  return f;
}

void write_packed_file(const std::string& path, const PackedFile& f) {
  write_file_atomic(path, serialize_packed_file(f));
}

PackedFile read_packed_file(const std::string& path) {
  return parse_packed_file(read_file(path), path);
}

}  // namespace lowbit::packed
