#include "compress/bit_stream.h"

#include <cstring>

#include "core/check.h"

namespace lowbit {

// ---- BitWriter

void BitWriter::put(uint32_t value, int nbits) {
  LB_ASSERT(nbits >= 0 && nbits <= 32);
  LB_ASSERT(nbits == 32 || (uint64_t{value} >> nbits) == 0);
  if (nbits == 0) return;
  acc_ = (acc_ << nbits) | value;  // at most 7 + 32 bits pending
  acc_bits_ += nbits;
  bit_count_ += static_cast<uint64_t>(nbits);
  while (acc_bits_ >= 8) {
    acc_bits_ -= 8;
    bytes_.push_back(static_cast<uint8_t>(acc_ >> acc_bits_));
  }
  acc_ &= (uint64_t{1} << acc_bits_) - 1;
}

std::vector<uint8_t> BitWriter::finish() {
  if (acc_bits_ > 0) bytes_.push_back(static_cast<uint8_t>(acc_ << (8 - acc_bits_)));
  std::vector<uint8_t> out = std::move(bytes_);
  bytes_.clear();
  acc_ = 0;
  acc_bits_ = 0;
  bit_count_ = 0;
  return out;
}

// ---- BitReader

BitReader::BitReader(const uint8_t* data, uint64_t nbytes, uint64_t nbits)
    : data_(data), nbytes_(nbytes), nbits_(nbits) {
  LB_CHECK(nbytes == (nbits + 7) / 8, "BitReader: ", nbits, " bits need ", (nbits + 7) / 8,
           " bytes, got ", nbytes);
}

uint32_t BitReader::peek(int n) const {
  LB_ASSERT(n >= 0 && n <= 32);
  if (n == 0) return 0;
  // A 40-bit window starting at the byte that holds bit pos_ covers any 32-bit field.
  const uint64_t byte = pos_ >> 3;
  uint64_t window = 0;
  for (uint64_t i = 0; i < 5; ++i) {
    window <<= 8;
    if (byte + i < nbytes_) window |= data_[byte + i];
  }
  const int shift = 40 - static_cast<int>(pos_ & 7) - n;
  return static_cast<uint32_t>((window >> shift) & ((uint64_t{1} << n) - 1));
}

void BitReader::skip(int n) {
  LB_CHECK(static_cast<uint64_t>(n) <= nbits_ - pos_, "bit stream: read past its end (", n,
           " bits at bit ", pos_, " of ", nbits_, "): the stream is corrupt");
  pos_ += static_cast<uint64_t>(n);
}

uint32_t BitReader::get(int n) {
  const uint32_t v = peek(n);
  skip(n);
  return v;
}

// ---- ByteWriter

void ByteWriter::u16(uint16_t v) {
  for (int i = 0; i < 2; ++i) u8(static_cast<uint8_t>(v >> (8 * i)));
}
void ByteWriter::u32(uint32_t v) {
  for (int i = 0; i < 4; ++i) u8(static_cast<uint8_t>(v >> (8 * i)));
}
void ByteWriter::u64(uint64_t v) {
  for (int i = 0; i < 8; ++i) u8(static_cast<uint8_t>(v >> (8 * i)));
}
void ByteWriter::f32(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  u32(u);
}
void ByteWriter::bytes(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }

// ---- ByteReader

const char* ByteReader::need(uint64_t n, const char* what) {
  LB_CHECK(n <= size_ - pos_, source_, ": truncated at byte offset ", offset(), ": need ", n,
           " bytes for ", what, ", ", size_ - pos_, " left");
  const char* p = data_ + pos_;
  pos_ += static_cast<size_t>(n);
  return p;
}

uint8_t ByteReader::u8(const char* what) { return static_cast<uint8_t>(*need(1, what)); }

uint16_t ByteReader::u16(const char* what) {
  const auto* p = reinterpret_cast<const uint8_t*>(need(2, what));
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

uint32_t ByteReader::u32(const char* what) {
  const auto* p = reinterpret_cast<const uint8_t*>(need(4, what));
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

uint64_t ByteReader::u64(const char* what) {
  const auto* p = reinterpret_cast<const uint8_t*>(need(8, what));
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

float ByteReader::f32(const char* what) {
  const uint32_t u = u32(what);
  float v;
  std::memcpy(&v, &u, 4);
  return v;
}

const char* ByteReader::bytes(uint64_t n, const char* what) { return need(n, what); }

}  // namespace lowbit
