#pragma once
/// Bit and byte streams used by the compressed model format (docs/compressed_format.md).
///
/// Bits are written most significant first, and the first bit of a stream is bit 7 of its
/// first byte; the last byte is padded with zero bits. Multi-byte integers in the byte
/// streams are little-endian, floats are IEEE-754 binary32 little-endian.
///
///   BitWriter w;
///   w.put(5, 3);                        // 101
///   w.put(1, 1);                        // 1011
///   std::vector<uint8_t> bytes = w.finish();   // {0xB0}, 4 bits
///   BitReader r(bytes.data(), bytes.size(), 4);
///   uint32_t a = r.get(3), b = r.get(1);       // 5, 1
#include <cstdint>
#include <string>
#include <vector>

namespace lowbit {

/// Appends bit fields to a growing byte buffer.
class BitWriter {
 public:
  /// Appends the low `nbits` bits of `value`, most significant first. 0 <= nbits <= 32;
  /// bits of `value` above `nbits` must be zero.
  void put(uint32_t value, int nbits);
  /// Bits written so far.
  uint64_t bit_count() const { return bit_count_; }
  /// Pads the last byte with zeros and returns ceil(bit_count / 8) bytes. The writer is
  /// empty afterwards.
  std::vector<uint8_t> finish();

 private:
  std::vector<uint8_t> bytes_;
  uint64_t acc_ = 0;  // pending bits, right-aligned
  int acc_bits_ = 0;  // < 8 between calls
  uint64_t bit_count_ = 0;
};

/// Reads bit fields from `nbits` bits stored in `nbytes` bytes (nbytes == ceil(nbits / 8)).
/// Reading past `nbits` throws lowbit::Error: a stream that claims fewer bits than its
/// symbols need is corrupt and is never decoded into garbage.
class BitReader {
 public:
  BitReader(const uint8_t* data, uint64_t nbytes, uint64_t nbits);
  /// Consumes and returns the next `n` bits (0 <= n <= 32).
  uint32_t get(int n);
  /// The next `n` bits (0 <= n <= 32) without consuming them; bits past the end read as 0.
  uint32_t peek(int n) const;
  /// Consumes `n` bits; throws when fewer than `n` remain.
  void skip(int n);
  uint64_t position() const { return pos_; }
  uint64_t remaining() const { return nbits_ - pos_; }

 private:
  const uint8_t* data_;
  uint64_t nbytes_;
  uint64_t nbits_;
  uint64_t pos_ = 0;
};

/// Appends little-endian integers, floats and raw bytes to a string.
class ByteWriter {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u16(uint16_t v);
  void u32(uint32_t v);
  void u64(uint64_t v);
  void f32(float v);
  void bytes(const void* p, size_t n);
  size_t size() const { return out_.size(); }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

/// Reads little-endian fields from a byte range with bounds checks. Every failure throws
/// lowbit::Error "<source>: truncated at byte offset X: need N bytes for <what>, M left",
/// where X is the absolute offset in the file (`base` is the offset of `data`).
class ByteReader {
 public:
  ByteReader(const char* data, size_t size, std::string source, uint64_t base = 0)
      : data_(data), size_(size), source_(std::move(source)), base_(base) {}
  uint8_t u8(const char* what);
  uint16_t u16(const char* what);
  uint32_t u32(const char* what);
  uint64_t u64(const char* what);
  float f32(const char* what);
  /// Pointer to the next `n` bytes, consumed.
  const char* bytes(uint64_t n, const char* what);
  /// Absolute offset (in the file) of the next byte.
  uint64_t offset() const { return base_ + pos_; }
  size_t remaining() const { return size_ - pos_; }
  const std::string& source() const { return source_; }

 private:
  const char* need(uint64_t n, const char* what);
  const char* data_;
  size_t size_;
  size_t pos_ = 0;
  std::string source_;
  uint64_t base_;
};

}  // namespace lowbit
