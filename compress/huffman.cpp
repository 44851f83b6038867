#include "compress/huffman.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/check.h"

namespace lowbit {

namespace {

constexpr uint32_t kMaxAlphabet = 1u << 24;  // symbol << 8 | length fits the lookup entry
constexpr int kLookupBits = 10;

// Optimal code lengths for >= 2 used symbols (two-queue Huffman on counts sorted ascending;
// on equal weights the leaf is taken first, which keeps merged nodes high in the tree and
// so the longest code as short as possible among optimal codes).
std::vector<uint8_t> huffman_lengths(std::span<const uint64_t> freq, int* max_len) {
  std::vector<uint32_t> sym;
  for (uint32_t s = 0; s < freq.size(); ++s)
    if (freq[s] > 0) sym.push_back(s);
  std::stable_sort(sym.begin(), sym.end(),
                   [&](uint32_t a, uint32_t b) { return freq[a] < freq[b]; });
  const size_t n = sym.size();
  std::vector<uint64_t> weight(2 * n - 1);
  std::vector<size_t> parent(2 * n - 1, 0);
  for (size_t i = 0; i < n; ++i) weight[i] = freq[sym[i]];
  size_t leaf = 0, inner = n, next = n;
  auto pop = [&]() {
    if (leaf < n && (inner >= next || weight[leaf] <= weight[inner])) return leaf++;
    return inner++;
  };
  for (; next < 2 * n - 1; ++next) {
    const size_t a = pop(), b = pop();
    weight[next] = weight[a] + weight[b];
    parent[a] = parent[b] = next;
  }
  // Parents have larger ids than their children: one downward pass gives the depths.
  std::vector<uint8_t> depth(2 * n - 1, 0);
  int longest = 0;
  for (size_t i = 2 * n - 1; i-- > 0;) {
    if (i == 2 * n - 2) continue;
    const int d = depth[parent[i]] + 1;
    depth[i] = static_cast<uint8_t>(std::min(d, 255));
    longest = std::max(longest, d);
  }
  std::vector<uint8_t> lengths(freq.size(), 0);
  for (size_t i = 0; i < n; ++i) lengths[sym[i]] = depth[i];
  *max_len = longest;
  return lengths;
}

}  // namespace

HuffmanCode HuffmanCode::from_frequencies(std::span<const uint64_t> freq) {
  LB_CHECK(!freq.empty() && freq.size() <= kMaxAlphabet,
           "HuffmanCode::from_frequencies: alphabet size must be in [1, 2^24], got ",
           freq.size());
  size_t used = 0, last = 0;
  for (size_t s = 0; s < freq.size(); ++s)
    if (freq[s] > 0) ++used, last = s;
  if (used == 0) {
    HuffmanCode c;
    c.lengths_.assign(freq.size(), 0);
    c.codes_.assign(freq.size(), 0);
    return c;
  }
  if (used == 1) return single(static_cast<uint32_t>(freq.size()), static_cast<uint32_t>(last));
  int max_len = 0;
  std::vector<uint8_t> lengths = huffman_lengths(freq, &max_len);
  if (max_len > kMaxHuffmanCodeLength) {
    // Rare: flatten the counts until the optimal code fits (used symbols stay used).
    std::vector<uint64_t> f(freq.begin(), freq.end());
    while (max_len > kMaxHuffmanCodeLength) {
      for (auto& x : f)
        if (x > 0) x = std::max<uint64_t>(1, x >> 1);
      lengths = huffman_lengths(f, &max_len);
    }
  }
  return from_lengths(std::move(lengths));
}

HuffmanCode HuffmanCode::single(uint32_t alphabet_size, uint32_t symbol) {
  LB_CHECK(alphabet_size >= 1 && alphabet_size <= kMaxAlphabet && symbol < alphabet_size,
           "HuffmanCode::single: symbol ", symbol, " outside the alphabet of ", alphabet_size);
  HuffmanCode c;
  c.lengths_.assign(alphabet_size, 0);
  c.codes_.assign(alphabet_size, 0);
  c.num_used_ = 1;
  c.single_ = symbol;
  return c;
}

HuffmanCode HuffmanCode::from_lengths(std::vector<uint8_t> lengths) {
  LB_CHECK(!lengths.empty() && lengths.size() <= kMaxAlphabet,
           "HuffmanCode::from_lengths: alphabet size must be in [1, 2^24], got ", lengths.size());
  HuffmanCode c;
  c.lengths_ = std::move(lengths);
  uint64_t kraft = 0;  // Σ 2^(32 − len): a complete code sums to exactly 2^32
  for (uint8_t len : c.lengths_) {
    if (len == 0) continue;
    LB_CHECK(len <= kMaxHuffmanCodeLength, "HuffmanCode::from_lengths: code length ",
             int{len}, " exceeds the maximum ", kMaxHuffmanCodeLength);
    kraft += uint64_t{1} << (kMaxHuffmanCodeLength - len);
    ++c.num_used_;
  }
  if (c.num_used_ == 0) {
    c.codes_.assign(c.lengths_.size(), 0);
    return c;
  }
  LB_CHECK(c.num_used_ >= 2 && kraft == (uint64_t{1} << kMaxHuffmanCodeLength),
           "HuffmanCode::from_lengths: the ", c.num_used_,
           " code lengths do not form a complete prefix code (Kraft sum ",
           static_cast<double>(kraft) / 4294967296.0, ", expected 1)");
  c.build_canonical();
  return c;
}

void HuffmanCode::build_canonical() {
  const uint32_t A = alphabet_size();
  max_len_ = 0;
  std::fill(std::begin(count_), std::end(count_), 0u);
  for (uint32_t s = 0; s < A; ++s) {
    ++count_[lengths_[s]];
    max_len_ = std::max<int>(max_len_, lengths_[s]);
  }
  count_[0] = 0;
  uint32_t code = 0, index = 0;
  for (int L = 1; L <= max_len_; ++L) {
    first_code_[L] = code;
    first_index_[L] = index;
    index += count_[L];
    code = (code + count_[L]) << 1;  // wraps to 0 only past the last (complete) length
  }
  sorted_.assign(index, 0);
  codes_.assign(A, 0);
  uint32_t next_index[kMaxHuffmanCodeLength + 2];
  std::copy(std::begin(first_index_), std::end(first_index_), std::begin(next_index));
  for (uint32_t s = 0; s < A; ++s) {
    const int L = lengths_[s];
    if (L == 0) continue;
    const uint32_t i = next_index[L]++;
    sorted_[i] = s;
    codes_[s] = first_code_[L] + (i - first_index_[L]);
  }
  lookup_bits_ = std::min(max_len_, kLookupBits);
  lookup_.assign(size_t{1} << lookup_bits_, 0);
  for (uint32_t s = 0; s < A; ++s) {
    const int L = lengths_[s];
    if (L == 0 || L > lookup_bits_) continue;
    const uint32_t begin = codes_[s] << (lookup_bits_ - L);
    const uint32_t end = begin + (1u << (lookup_bits_ - L));
    for (uint32_t p = begin; p < end; ++p) lookup_[p] = s << 8 | static_cast<uint32_t>(L);
  }
}

uint64_t HuffmanCode::encoded_bits(std::span<const uint64_t> freq) const {
  LB_CHECK(freq.size() <= lengths_.size(), "HuffmanCode::encoded_bits: ", freq.size(),
           " counts for an alphabet of ", lengths_.size());
  uint64_t bits = 0;
  for (size_t s = 0; s < freq.size(); ++s) bits += freq[s] * lengths_[s];
  return bits;
}

void HuffmanCode::encode(std::span<const uint32_t> symbols, BitWriter& out) const {
  const uint32_t A = alphabet_size();
  for (uint32_t s : symbols) {
    LB_CHECK(s < A && (lengths_[s] > 0 || s == single_), "HuffmanCode::encode: symbol ", s,
             " has no code (alphabet ", A, ", ", num_used_,
             " used symbols); build the code from this stream's frequencies");
    out.put(codes_[s], lengths_[s]);
  }
}

std::vector<uint32_t> HuffmanCode::decode(BitReader& in, uint64_t n) const {
  if (n == 0) return {};
  if (single_ >= 0) return std::vector<uint32_t>(n, static_cast<uint32_t>(single_));
  LB_CHECK(num_used_ > 0, "HuffmanCode::decode: ", n, " symbols requested from an empty code");
  std::vector<uint32_t> out(n);
  for (uint64_t i = 0; i < n; ++i) {
    const uint32_t e = lookup_[in.peek(lookup_bits_)];
    if (e != 0) {
      in.skip(static_cast<int>(e & 0xFF));
      out[i] = e >> 8;
      continue;
    }
    // Longer than the lookup table: canonical codes of length L are the consecutive values
    // first_code_[L] … first_code_[L] + count_[L] − 1 (the code is complete, so one matches).
    for (int L = lookup_bits_ + 1; L <= max_len_; ++L) {
      const uint32_t v = in.peek(L) - first_code_[L];
      if (v < count_[L]) {
        in.skip(L);
        out[i] = sorted_[first_index_[L] + v];
        break;
      }
    }
  }
  return out;
}

// ---- table serialisation: u8 mode (0 empty, 1 single, 2 lengths)
//      mode 1: u32 symbol; mode 2: u8 width w, then the A lengths in w bits each, MSB first.

namespace {
int length_width(int max_len) {
  int w = 1;
  while ((1 << w) <= max_len) ++w;
  return w;
}
}  // namespace

void HuffmanCode::write_table(ByteWriter& out) const {
  if (single_ >= 0) {
    out.u8(1);
    out.u32(static_cast<uint32_t>(single_));
    return;
  }
  if (num_used_ == 0) {
    out.u8(0);
    return;
  }
  const int w = length_width(max_len_);
  out.u8(2);
  out.u8(static_cast<uint8_t>(w));
  BitWriter bits;
  for (uint8_t len : lengths_) bits.put(len, w);
  const std::vector<uint8_t> packed = bits.finish();
  out.bytes(packed.data(), packed.size());
}

uint64_t HuffmanCode::table_bits() const {
  if (single_ >= 0) return 8 + 32;
  if (num_used_ == 0) return 8;
  const uint64_t w = static_cast<uint64_t>(length_width(max_len_));
  return 16 + 8 * ((alphabet_size() * w + 7) / 8);
}

HuffmanCode HuffmanCode::read_table(ByteReader& in, uint32_t alphabet_size) {
  const uint64_t at = in.offset();
  const uint8_t mode = in.u8("Huffman table mode");
  if (mode == 0) return from_lengths(std::vector<uint8_t>(alphabet_size, 0));
  if (mode == 1) {
    const uint32_t s = in.u32("Huffman single symbol");
    LB_CHECK(s < alphabet_size, in.source(), ": corrupt Huffman table at byte offset ", at,
             ": symbol ", s, " outside the alphabet of ", alphabet_size);
    return single(alphabet_size, s);
  }
  LB_CHECK(mode == 2, in.source(), ": corrupt Huffman table at byte offset ", at,
           ": unknown mode ", int{mode}, " (expected 0, 1 or 2)");
  const int w = in.u8("Huffman length width");
  LB_CHECK(w >= 1 && w <= 6, in.source(), ": corrupt Huffman table at byte offset ", at,
           ": length width ", w, " outside [1, 6]");
  const uint64_t nbits = uint64_t{alphabet_size} * static_cast<uint64_t>(w);
  const auto* p = reinterpret_cast<const uint8_t*>(in.bytes((nbits + 7) / 8, "Huffman lengths"));
  BitReader bits(p, (nbits + 7) / 8, nbits);
  std::vector<uint8_t> lengths(alphabet_size);
  for (auto& len : lengths) len = static_cast<uint8_t>(bits.get(w));
  try {
    return from_lengths(std::move(lengths));
  } catch (const Error& e) {
    LB_FAIL(in.source(), ": corrupt Huffman table at byte offset ", at, ": ", e.what());
  }
}

double entropy_bits(std::span<const uint64_t> freq) {
  double total = 0;
  for (uint64_t f : freq) total += static_cast<double>(f);
  if (total == 0) return 0;
  double h = 0;
  for (uint64_t f : freq) {
    if (f == 0) continue;
    const double p = static_cast<double>(f) / total;
    h -= p * std::log2(p);
  }
  return std::max(h, 0.0);
}

}  // namespace lowbit
