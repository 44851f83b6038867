// The integer GEMM of 8-bit levels × {−1, 0, +1} weights (packed/kernels/u8_gemm.h) against a
// naive loop on odd shapes (M not a multiple of the 4-row tile, N not a multiple of 64
// columns, K not a multiple of 4 or 64; mostly zero levels), for every ISA (avx512: VNNI when compiled in;
// others: bit planes through the popcount GEMM).
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include "packed/kernels/u8_gemm.h"
#include "core/random.h"
#include "tests/packed/kernels/kernel_test_util.h"

using namespace lowbit;
using namespace lowbit::packed;

TEST_CASE("u8_gemm equals the naive integer product on odd shapes") {
  Rng rng(5);
  for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {3, 17, 5}, {7, 65, 63},
                         {9, 130, 131}, {100, 70, 784}, {4, 64, 4}}) {
    CAPTURE(M);
    CAPTURE(N);
    CAPTURE(K);
    std::vector<uint8_t> v(static_cast<size_t>(M * K));
    // Mostly zeros (whole groups of 4 get skipped by the VNNI kernel), an all-zero row.
    for (auto& x : v) x = rng.below(3) == 0 ? static_cast<uint8_t>(rng.below(256)) : 0;
    if (M > 1) std::fill(v.begin() + K, v.begin() + 2 * K, 0);
    v[0] = 255;  // extremes
    Tensor u = Tensor::empty({N, K});
    for (int64_t i = 0; i < u.numel(); ++i) u.data()[i] = static_cast<float>(rng.below(3)) - 1.f;
    const U8Weights w = pack_u8_weights(u);
    std::vector<int32_t> want(static_cast<size_t>(M * N));
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        int32_t s = 0;
        for (int64_t k = 0; k < K; ++k)
          s += v[static_cast<size_t>(i * K + k)] * static_cast<int32_t>(u.data()[j * K + k]);
        want[static_cast<size_t>(i * N + j)] = s;
      }
    test::for_each_isa([&](kernels::Isa) {
      std::vector<int32_t> got(static_cast<size_t>(M * N), -7);
      u8_gemm(v.data(), M, w, got.data());
      CHECK(got == want);
    });
  }
}
