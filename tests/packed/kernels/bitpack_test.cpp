#include "packed/kernels/bitpack.h"

#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <limits>

#include "core/check.h"
#include "packed/cpu_features.h"
#include "tests/packed/kernels/kernel_test_util.h"

using namespace lowbit;
using namespace lowbit::kernels;

namespace {

// Every bit of a row past K, and every word of a padding panel row, must be 0 in all planes.
void check_padding_zero(const PackedMatrix& p) {
  for (int64_t r = 0; r < p.padded_rows(); ++r)
    for (int64_t w = 0; w < p.kw; ++w) {
      const int64_t first = 64 * w;  // entry index of bit 0
      uint64_t pad = 0;
      if (r >= p.rows || first >= p.k)
        pad = ~uint64_t{0};
      else if (p.k - first < 64)
        pad = ~((uint64_t{1} << (p.k - first)) - 1);
      const int64_t at = p.word_index(r, w);
      CHECK((p.sign[at] & pad) == 0);
      if (p.ternary()) CHECK((p.mask[at] & pad) == 0);
    }
}

}  // namespace

TEST_CASE("bitpack: binary round trip, sign convention, padding bits stay 0") {
  Rng rng(1);
  for (PackLayout layout : {PackLayout::Rows, PackLayout::Panels})
    for (int64_t K : {1, 63, 64, 65, 130, 1000})
      for (int64_t rows : {1, 7, 9}) {
        INFO("K=", K, " rows=", rows, " panels=", layout == PackLayout::Panels);
        Tensor x = test::random_signs({rows, K}, rng);
        PackedMatrix p = pack_binary(x, layout);
        CHECK(p.rows == rows);
        CHECK(p.k == K);
        CHECK(p.kw == (K + 63) / 64);
        CHECK_FALSE(p.ternary());
        CHECK(p.padded_rows() == (layout == PackLayout::Panels ? (rows + 7) / 8 * 8 : rows));
        Tensor u = unpack(p);
        REQUIRE(u.shape() == Shape{rows, K});
        bool same = true;
        for (int64_t i = 0; i < x.numel(); ++i) same &= u.data()[i] == test::sign_pm1(x.data()[i]);
        CHECK(same);
        check_padding_zero(p);
        // Layout conversion keeps every word.
        PackedMatrix q = relayout(
            relayout(p, layout == PackLayout::Rows ? PackLayout::Panels : PackLayout::Rows),
            layout);
        CHECK(q.sign == p.sign);
      }
}

TEST_CASE("bitpack: sign bit is 1 for x < 0 only; -0.0 and NaN pack as +1") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  Tensor x = Tensor::from_vector({1, 6}, {-1.f, 1.f, 0.f, -0.f, nan, -1e-30f});
  PackedMatrix p = pack_binary(x, PackLayout::Rows);
  CHECK(p.sign[0] == ((uint64_t{1} << 0) | (uint64_t{1} << 5)));
  PackedMatrix t = pack_ternary(x, PackLayout::Rows);
  CHECK(t.sign[0] == ((uint64_t{1} << 0) | (uint64_t{1} << 5)));
  CHECK(t.mask[0] == 0b110011u);  // 0 and -0 are the zeros; NaN != 0 counts as +1
  CHECK(t.nnz[0] == 4);
}

TEST_CASE("bitpack: ternary round trip, nnz, sign plane inside mask plane") {
  Rng rng(2);
  for (PackLayout layout : {PackLayout::Rows, PackLayout::Panels})
    for (int64_t K : {1, 65, 130, 1000}) {
      INFO("K=", K);
      Tensor x = test::random_ternary({11, K}, rng);
      PackedMatrix p = pack_ternary(x, layout);
      REQUIRE(p.ternary());
      Tensor u = unpack(p);
      bool same = true;
      for (int64_t i = 0; i < x.numel(); ++i)
        same &= u.data()[i] == test::sign_ternary(x.data()[i]);
      CHECK(same);
      for (int64_t r = 0; r < p.rows; ++r) {
        int64_t n = 0;
        for (int64_t k = 0; k < K; ++k) n += x.data()[r * K + k] != 0.f;
        CHECK(p.nnz[r] == n);
      }
      for (size_t i = 0; i < p.sign.size(); ++i) CHECK((p.sign[i] & ~p.mask[i]) == 0);
      check_padding_zero(p);
      CHECK(p.bytes() == static_cast<int64_t>(2 * p.sign.size() * 8 + p.nnz.size() * 4));
    }
}

TEST_CASE("bitpack: bad input throws with the function name") {
  CHECK_THROWS_WITH_AS(pack_binary(Tensor::zeros({2, 3, 4}), PackLayout::Rows),
                       doctest::Contains("pack_binary"), Error);
  CHECK_THROWS_WITH_AS(pack_binary(nullptr, 2, 3, 3, PackLayout::Rows), doctest::Contains("null"),
                       Error);
  CHECK_THROWS_WITH_AS(pack_ternary(Tensor::zeros({2, 8}).data(), 2, 8, 4, PackLayout::Rows),
                       doctest::Contains("ld >= K"), Error);
  PackedMatrix m = make_packed(3, 10, 4, PackLayout::Rows, false);  // padded row (conv-style)
  CHECK_THROWS_WITH_AS(unpack(m), doctest::Contains("unpack"), Error);
}

TEST_CASE("cpu_features: names, supported set, set_isa") {
  CHECK(parse_isa("scalar") == Isa::Scalar);
  CHECK(parse_isa("avx2") == Isa::Avx2);
  CHECK(parse_isa("avx512") == Isa::Avx512);
  CHECK_THROWS_WITH_AS(parse_isa("sse9"), doctest::Contains("scalar, avx2, avx512"), Error);
  const std::vector<Isa> isas = supported_isas();
  REQUIRE_FALSE(isas.empty());
  MESSAGE("supported ISAs: ", std::string(cpu_summary()),
          "; active: ", std::string(isa_name(active_isa())));
  bool active_listed = false;
  for (Isa isa : isas) active_listed |= isa == active_isa();
  CHECK(active_listed);
  test::IsaGuard guard;
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    if (isa_supported(isa)) {
      set_isa(isa);
      CHECK(active_isa() == isa);
    } else {
      CHECK_THROWS_WITH_AS(set_isa(isa), doctest::Contains("does not support"), Error);
    }
  }
}
