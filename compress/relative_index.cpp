#include "compress/relative_index.h"

#include <algorithm>

#include "core/check.h"

namespace lowbit {

uint64_t RelativeIndex::num_fillers() const {
  return static_cast<uint64_t>(std::count(codes.begin(), codes.end(), 0u));
}

RelativeIndex encode_relative_index(std::span<const uint16_t> dense_codes, int index_bits) {
  LB_CHECK(index_bits >= 1 && index_bits <= 16,
           "encode_relative_index: index_bits must be in [1, 16], got ", index_bits);
  RelativeIndex r;
  r.index_bits = index_bits;
  const int64_t max_gap = int64_t{1} << index_bits;
  const int64_t n = static_cast<int64_t>(dense_codes.size());
  int64_t prev = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (dense_codes[i] == 0) continue;
    while (i - prev > max_gap) {  // filler zero at prev + max_gap
      r.diffs.push_back(static_cast<uint32_t>(max_gap - 1));
      r.codes.push_back(0);
      prev += max_gap;
    }
    r.diffs.push_back(static_cast<uint32_t>(i - prev - 1));
    r.codes.push_back(dense_codes[i]);
    prev = i;
  }
  return r;
}

std::vector<uint16_t> decode_relative_index(const RelativeIndex& r, int64_t numel) {
  LB_CHECK(r.index_bits >= 1 && r.index_bits <= 16,
           "decode_relative_index: index_bits must be in [1, 16], got ", r.index_bits);
  LB_CHECK(r.diffs.size() == r.codes.size(), "decode_relative_index: ", r.diffs.size(),
           " index differences but ", r.codes.size(), " weight codes");
  LB_CHECK(numel >= 0, "decode_relative_index: numel must be >= 0, got ", numel);
  std::vector<uint16_t> dense(static_cast<size_t>(numel), 0);
  const uint32_t max_diff = (1u << r.index_bits) - 1;
  int64_t pos = -1;
  for (size_t e = 0; e < r.diffs.size(); ++e) {
    LB_CHECK(r.diffs[e] <= max_diff, "decode_relative_index: entry ", e, " has difference ",
             r.diffs[e], " > ", max_diff, " (", r.index_bits, " bits)");
    LB_CHECK(r.codes[e] <= 0xFFFF, "decode_relative_index: entry ", e, " has code ",
             r.codes[e], " > 65535");
    pos += int64_t{r.diffs[e]} + 1;
    LB_CHECK(pos < numel, "decode_relative_index: entry ", e, " lands at position ", pos,
             " past the end of a layer of ", numel, " weights");
    dense[static_cast<size_t>(pos)] = static_cast<uint16_t>(r.codes[e]);
  }
  return dense;
}

}  // namespace lowbit
