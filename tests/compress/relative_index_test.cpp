#include <doctest/doctest.h>

#include "core/check.h"
#include "core/random.h"
#include "compress/relative_index.h"

using namespace lowbit;

TEST_CASE("relative index: the documented example, with one filler zero") {
  const std::vector<uint16_t> codes = {0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  const RelativeIndex r = encode_relative_index(codes, 3);
  CHECK(r.diffs == std::vector<uint32_t>{1, 7, 2});
  CHECK(r.codes == std::vector<uint32_t>{3, 0, 1});
  CHECK(r.num_fillers() == 1);
  CHECK(decode_relative_index(r, 13) == codes);
}

TEST_CASE("relative index: random round trips; filler count = Σ ceil(gap / 2^b) − 1") {
  Rng rng(31);
  for (int bits : {1, 2, 3, 5, 8}) {
    for (float density : {0.001f, 0.05f, 0.3f, 1.f}) {
      CAPTURE(bits);
      CAPTURE(density);
      std::vector<uint16_t> codes(5000, 0);
      for (auto& c : codes)
        if (rng.uniform() < density) c = static_cast<uint16_t>(1 + rng.below(31));
      const RelativeIndex r = encode_relative_index(codes, bits);
      CHECK(decode_relative_index(r, 5000) == codes);
      uint64_t fillers = 0, nonzero = 0;
      int64_t prev = -1;
      for (int64_t i = 0; i < 5000; ++i) {
        if (codes[i] == 0) continue;
        const int64_t gap = i - prev, max_gap = int64_t{1} << bits;
        fillers += static_cast<uint64_t>((gap + max_gap - 1) / max_gap - 1);
        ++nonzero;
        prev = i;
      }
      CHECK(r.num_fillers() == fillers);
      CHECK(r.num_entries() == nonzero + fillers);
      for (uint32_t d : r.diffs) REQUIRE(d < (1u << bits));
    }
  }
}

TEST_CASE("relative index edge cases: empty, all-zero, one weight, last position") {
  CHECK(encode_relative_index(std::vector<uint16_t>{}, 5).num_entries() == 0);
  CHECK(decode_relative_index(encode_relative_index(std::vector<uint16_t>{}, 5), 0).empty());
  const std::vector<uint16_t> zeros(1000, 0);
  const RelativeIndex rz = encode_relative_index(zeros, 4);
  CHECK(rz.num_entries() == 0);  // trailing pruned weights cost nothing
  CHECK(decode_relative_index(rz, 1000) == zeros);
  for (uint16_t v : {uint16_t{0}, uint16_t{9}}) {
    const std::vector<uint16_t> one = {v};
    const RelativeIndex r1 = encode_relative_index(one, 1);
    CHECK(r1.num_entries() == (v ? 1u : 0u));
    CHECK(decode_relative_index(r1, 1) == one);
  }
  std::vector<uint16_t> last(100, 0);
  last[99] = 2;  // gap 100 with 1-bit differences: 49 fillers at 1, 3, …, 97, then 99
  const RelativeIndex rl = encode_relative_index(last, 1);
  CHECK(rl.num_fillers() == 49);
  CHECK(decode_relative_index(rl, 100) == last);
  CHECK_THROWS_AS(encode_relative_index(last, 0), Error);
  CHECK_THROWS_AS(encode_relative_index(last, 17), Error);
}

TEST_CASE("relative index: inconsistent streams are rejected") {
  RelativeIndex r;
  r.index_bits = 3;
  r.diffs = {1, 7};
  r.codes = {2, 3};
  CHECK(decode_relative_index(r, 10).at(9) == 3);
  CHECK_THROWS_WITH_AS(decode_relative_index(r, 9), doctest::Contains("past the end"), Error);
  r.diffs = {8, 0};
  CHECK_THROWS_AS(decode_relative_index(r, 100), Error);  // 8 does not fit 3 bits
  r.diffs = {1};
  CHECK_THROWS_AS(decode_relative_index(r, 100), Error);  // length mismatch
}
