#include "packed/kernels/binary_gemm.h"

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "core/check.h"
#include "core/threads.h"
#include "tests/packed/kernels/kernel_test_util.h"

using namespace lowbit;
using namespace lowbit::kernels;

namespace {

struct Operands {
  Tensor a, b;  // float sources: a (M, K), b (N, K)
  PackedMatrix pa, pb;
  bool ta = false, tb = false;
  std::vector<int64_t> ref;  // naive dots, (M, N)
};

Operands make_operands(int64_t M, int64_t N, int64_t K, bool ta, bool tb, Rng& rng) {
  Operands o;
  o.ta = ta;
  o.tb = tb;
  o.a = ta ? test::random_ternary({M, K}, rng) : test::random_signs({M, K}, rng);
  o.b = tb ? test::random_ternary({N, K}, rng) : test::random_signs({N, K}, rng);
  o.pa = ta ? pack_ternary(o.a, PackLayout::Rows) : pack_binary(o.a, PackLayout::Rows);
  o.pb = tb ? pack_ternary(o.b, PackLayout::Panels) : pack_binary(o.b, PackLayout::Panels);
  o.ref = test::naive_dots(o.a, ta, o.b, tb);
  return o;
}

// Integer output with ldc > N: every entry equals the naive dot, the gap columns are untouched.
void check_int32(const Operands& o) {
  const int64_t M = o.pa.rows, N = o.pb.rows, ldc = N + 3;
  const std::vector<int64_t>& ref = o.ref;
  std::vector<int32_t> c(static_cast<size_t>(M * ldc), -77777);
  packed_gemm(o.pa, o.pb, c.data(), ldc);
  int64_t bad = 0, gap_bad = 0;
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) bad += c[i * ldc + j] != ref[i * N + j];
    for (int64_t j = N; j < ldc; ++j) gap_bad += c[i * ldc + j] != -77777;
  }
  CHECK(bad == 0);
  CHECK(gap_bad == 0);
}

// Float output with the full epilogue against the same formula evaluated here.
void check_f32_epilogue(const Operands& o, Rng& rng) {
  const int64_t M = o.pa.rows, N = o.pb.rows;
  const std::vector<int64_t>& ref = o.ref;
  const Tensor rs = Tensor::uniform({M}, rng, 0.1f, 2.f), cs = Tensor::uniform({N}, rng, 0.1f, 2.f);
  const Tensor rb = Tensor::normal({M}, rng), cb = Tensor::normal({N}, rng);
  const GemmEpilogue ep{rs.data(), cs.data(), rb.data(), cb.data()};
  std::vector<float> c(static_cast<size_t>(M * N));
  packed_gemm(o.pa, o.pb, c.data(), N, ep);
  int64_t bad = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      const float want = static_cast<float>(ref[i * N + j]) * rs.data()[i] * cs.data()[j] +
                         rb.data()[i] + cb.data()[j];
      bad += std::fabs(c[i * N + j] - want) > 1e-5f * std::fmax(1.f, std::fabs(want));
    }
  CHECK(bad == 0);
  // Without an epilogue the float result is the exact integer.
  Tensor plain = o.ta || o.tb ? ternary_gemm(o.pa, o.pb) : binary_gemm(o.pa, o.pb);
  REQUIRE(plain.shape() == Shape{M, N});
  int64_t inexact = 0;
  for (int64_t i = 0; i < M * N; ++i) inexact += plain.data()[i] != static_cast<float>(ref[i]);
  CHECK(inexact == 0);
}

const char* mode_name(bool ta, bool tb) {
  return ta ? (tb ? "ternary x ternary" : "ternary A x binary B")
            : (tb ? "binary A x ternary B" : "binary x binary");
}

}  // namespace

TEST_CASE("packed gemm: every ISA and mode equals the naive ±1 / ternary reference, odd shapes") {
  test::for_each_isa([](Isa) {
    Rng rng(11);
    for (int mode = 0; mode < 4; ++mode) {
      const bool ta = mode & 1, tb = mode & 2;
      for (int64_t K : {1, 63, 64, 65, 130, 1000})
        for (int64_t M : {1, 5, 7, 13})
          for (int64_t N : {1, 3, 9, 33}) {
            INFO(mode_name(ta, tb), " M=", M, " N=", N, " K=", K);
            const Operands o = make_operands(M, N, K, ta, tb, rng);
            check_int32(o);
          }
      // Row tails of every tile height (up to 6 rows) and panel tails (up to 4 panels).
      for (int64_t M : {2, 3, 4, 6, 8, 11, 25})
        for (int64_t N : {17, 25, 41, 70}) {
          INFO(mode_name(ta, tb), " M=", M, " N=", N, " K=77");
          check_int32(make_operands(M, N, 77, ta, tb, rng));
        }
    }
  });
}

TEST_CASE("packed gemm: float epilogue (row/col scale and bias) on every ISA and mode") {
  test::for_each_isa([](Isa) {
    Rng rng(12);
    for (int mode = 0; mode < 4; ++mode) {
      const bool ta = mode & 1, tb = mode & 2;
      for (int64_t K : {65, 1000}) {
        INFO(mode_name(ta, tb), " K=", K);
        check_f32_epilogue(make_operands(13, 21, K, ta, tb, rng), rng);
      }
    }
  });
}

TEST_CASE("packed gemm: long K (AVX2 byte-counter flush), several L2 column blocks, threads") {
  // Operands are built once and shared by the ISAs (generation dominates otherwise).
  Rng rng(13);
  std::vector<std::pair<std::string, Operands>> cases;
  for (int mode = 0; mode < 4; ++mode) {
    const bool ta = mode & 1, tb = mode & 2;
    const std::string m = mode_name(ta, tb);
    // 33 words > the 31-word byte-counter chunk of the AVX2 kernel.
    cases.emplace_back(m + " M=67 N=45 K=2100", make_operands(67, 45, 2100, ta, tb, rng));
    // 1100 words per row: an L2 block of B holds 4 panels, so N=60 (8 panels) spans two.
    cases.emplace_back(m + " M=7 N=60 K=70400", make_operands(7, 60, 70400, ta, tb, rng));
    // A single row: columns are split across threads instead of rows.
    cases.emplace_back(m + " M=1 N=300 K=5000", make_operands(1, 300, 5000, ta, tb, rng));
  }
  test::for_each_isa([&](Isa) {
    for (const auto& [name, o] : cases) {
      INFO(name);
      check_int32(o);
    }
  });
}

TEST_CASE("packed gemm: one thread and all threads give the same result") {
  Rng rng(14);
  const Operands o = make_operands(40, 90, 3000, false, false, rng);
  const int saved = num_threads();
  set_num_threads(1);
  Tensor one = binary_gemm(o.pa, o.pb);
  set_num_threads(2);
  Tensor two = binary_gemm(o.pa, o.pb);
  set_num_threads(saved);
  CHECK(allclose(one, two, 0.f, 0.f));
}

TEST_CASE("packed gemm: empty shapes and K = 0") {
  Rng rng(15);
  const Operands o = make_operands(0, 5, 10, false, false, rng);
  CHECK(binary_gemm(o.pa, o.pb).shape() == Shape{0, 5});
  PackedMatrix a = pack_binary(Tensor::zeros({3, 0}), PackLayout::Rows);
  PackedMatrix b = pack_binary(Tensor::zeros({2, 0}), PackLayout::Panels);
  Tensor c = binary_gemm(a, b);
  CHECK(c.shape() == Shape{3, 2});
  for (float v : c.to_vector()) CHECK(v == 0.f);
}

TEST_CASE("packed gemm: mismatched operands throw with the function name and shapes") {
  Rng rng(16);
  const Operands o = make_operands(4, 5, 100, false, false, rng);
  const Operands t = make_operands(4, 5, 100, true, true, rng);
  PackedMatrix b_k99 = pack_binary(test::random_signs({5, 99}, rng), PackLayout::Panels);
  PackedMatrix b_k200 = pack_binary(test::random_signs({5, 200}, rng), PackLayout::Panels);
  CHECK_THROWS_WITH_AS(binary_gemm(o.pa, b_k99), doctest::Contains("K=99"), Error);
  CHECK_THROWS_WITH_AS(binary_gemm(o.pa, b_k200), doctest::Contains("inner dimensions"), Error);
  CHECK_THROWS_WITH_AS(binary_gemm(o.pb, o.pb), doctest::Contains("PackLayout::Rows"), Error);
  CHECK_THROWS_WITH_AS(binary_gemm(o.pa, o.pa), doctest::Contains("PackLayout::Panels"), Error);
  CHECK_THROWS_WITH_AS(binary_gemm(t.pa, o.pb), doctest::Contains("ternary_gemm"), Error);
  CHECK_THROWS_WITH_AS(ternary_gemm(o.pa, o.pb), doctest::Contains("binary_gemm"), Error);
  std::vector<int32_t> c(20);
  CHECK_THROWS_WITH_AS(binary_gemm(o.pa, o.pb, c.data(), 4), doctest::Contains("ldc=4"), Error);
}
