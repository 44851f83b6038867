#pragma once
/// Canonical Huffman codes (Deep Compression §4: Huffman coding of the quantized weights
/// and of the sparse index differences).
///
/// A code is built from symbol frequencies over an alphabet {0, …, A−1}. It is optimal
/// (minimum Σ f_s·len_s over all prefix codes) and canonical: codes of equal length are
/// consecutive integers in symbol order, so the code lengths alone define it (that is what
/// the compressed file stores). Degenerate alphabets are handled:
///  - no used symbol: the empty code, which encodes only the empty stream;
///  - one used symbol: length 0 — a stream of n copies costs 0 bits (its length is stored
///    elsewhere), which is what the entropy bound H = 0 asks for.
/// Code lengths are capped at kMaxHuffmanCodeLength; an optimal code longer than that needs
/// more than ~10^7 symbols with Fibonacci-like counts, and is then rebuilt from halved counts
/// (close to, but no longer exactly, optimal).
///
///   std::vector<uint64_t> freq = {5, 1, 1, 3};
///   HuffmanCode code = HuffmanCode::from_frequencies(freq);   // lengths {1, 3, 3, 2}
///   BitWriter w;
///   code.encode(symbols, w);
///   uint64_t nbits = w.bit_count();
///   std::vector<uint8_t> bytes = w.finish();
///   BitReader r(bytes.data(), bytes.size(), nbits);
///   std::vector<uint32_t> back = code.decode(r, symbols.size());
#include <cstdint>
#include <span>
#include <vector>

#include "compress/bit_stream.h"

namespace lowbit {

inline constexpr int kMaxHuffmanCodeLength = 32;

class HuffmanCode {
 public:
  /// The empty code over an empty alphabet.
  HuffmanCode() = default;

  /// Optimal canonical code for `freq` (freq[s] = occurrences of symbol s; 0 = unused).
  /// The alphabet size is freq.size() (1 <= A <= 2^24).
  static HuffmanCode from_frequencies(std::span<const uint64_t> freq);
  /// The canonical code with these lengths (0 = unused symbol). Throws lowbit::Error unless
  /// the lengths form a complete prefix code (Kraft sum exactly 1) with every length in
  /// [1, kMaxHuffmanCodeLength], or exactly one used symbol is given through `single_symbol`.
  static HuffmanCode from_lengths(std::vector<uint8_t> lengths);
  /// The one-symbol code: `symbol` costs 0 bits.
  static HuffmanCode single(uint32_t alphabet_size, uint32_t symbol);

  uint32_t alphabet_size() const { return static_cast<uint32_t>(lengths_.size()); }
  /// Code length of each symbol (0 = unused, or the single symbol of a one-symbol code).
  const std::vector<uint8_t>& lengths() const { return lengths_; }
  /// Code of symbol s, right-aligned in `length(s)` bits.
  uint32_t code(uint32_t s) const { return codes_.at(s); }
  int length(uint32_t s) const { return lengths_.at(s); }
  /// Number of symbols with a code.
  uint32_t num_used() const { return num_used_; }
  /// The symbol of a one-symbol code, or -1.
  int64_t single_symbol() const { return single_; }
  int max_length() const { return max_len_; }
  /// Σ freq[s]·length(s): the bits `encode` writes for a stream with these counts.
  uint64_t encoded_bits(std::span<const uint64_t> freq) const;

  /// Appends the codes of `symbols` to `out`. Throws if a symbol has no code.
  void encode(std::span<const uint32_t> symbols, BitWriter& out) const;
  /// Decodes `n` symbols. Throws lowbit::Error if the stream ends early.
  std::vector<uint32_t> decode(BitReader& in, uint64_t n) const;

  /// The code table as stored in a compressed file (mode byte + packed lengths; see
  /// docs/compressed_format.md). `table_bits()` = 8 × its size.
  void write_table(ByteWriter& out) const;
  uint64_t table_bits() const;
  /// Reads a table written by write_table for an alphabet of `alphabet_size` symbols.
  static HuffmanCode read_table(ByteReader& in, uint32_t alphabet_size);

 private:
  void build_canonical();  // codes_ and decoder tables from lengths_

  std::vector<uint8_t> lengths_;
  std::vector<uint32_t> codes_;
  uint32_t num_used_ = 0;
  int64_t single_ = -1;
  int max_len_ = 0;
  // Canonical decoder: per length L, the first code and the index of its first symbol in
  // sorted_ (symbols ordered by (length, symbol)); plus a direct table for the first
  // lookup_bits_ bits: entry = symbol << 8 | length, or 0 when the code is longer.
  std::vector<uint32_t> sorted_;
  uint32_t first_code_[kMaxHuffmanCodeLength + 2] = {};
  uint32_t first_index_[kMaxHuffmanCodeLength + 2] = {};
  uint32_t count_[kMaxHuffmanCodeLength + 2] = {};
  int lookup_bits_ = 0;
  std::vector<uint32_t> lookup_;
};

/// Shannon entropy in bits per symbol of the distribution `freq` (0 for fewer than two
/// used symbols). An optimal code's average length lies in [H, H + 1).
double entropy_bits(std::span<const uint64_t> freq);

}  // namespace lowbit
