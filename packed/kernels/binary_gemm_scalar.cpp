// Scalar POPCNT kernels of the packed GEMM, compiled with -march=x86-64-v2 (POPCNT) whatever
// the project's -march; see binary_gemm_kernels.h for why nothing here is shared inline.
//
// Tile: R rows × 4 columns (half a panel) of 64-bit counters. Per word pair: xor (and masks),
// popcnt, add. POPCNT issues once per cycle on current Intel cores, so this path is bound at
// about 64 binary MACs per cycle; it is the reference the vector paths are tested against
// and the fallback for CPUs without AVX2.
#include <cstdint>

#include "packed/kernels/binary_gemm_kernels.h"

namespace lowbit::kernels::detail {

namespace {

constexpr int kCols = 4;

inline int64_t popcount64(uint64_t x) { return __builtin_popcountll(x); }

template <GemmMode kMode, int R>
void tile(const GemmArgs& g, int64_t i, int64_t p, int64_t half) {
  constexpr bool kMaskA = kMode == GemmMode::MaskA || kMode == GemmMode::Ternary;
  constexpr bool kMaskB = kMode == GemmMode::MaskB || kMode == GemmMode::Ternary;
  const int64_t kw = g.kw;
  const uint64_t* bs = g.b_sign + p * kw * 8 + half * kCols;
  const uint64_t* bm = kMaskB ? g.b_mask + p * kw * 8 + half * kCols : nullptr;
  int64_t pop[R][kCols] = {}, cnt[R][kCols] = {};
  for (int64_t w = 0; w < kw; ++w) {
    for (int r = 0; r < R; ++r) {
      const uint64_t sa = g.a_sign[(i + r) * kw + w];
      const uint64_t ma = kMaskA ? g.a_mask[(i + r) * kw + w] : 0;
      for (int c = 0; c < kCols; ++c) {
        const uint64_t x = sa ^ bs[w * 8 + c];
        if constexpr (kMode == GemmMode::Binary) {
          pop[r][c] += popcount64(x);
        } else if constexpr (kMode == GemmMode::MaskA) {
          pop[r][c] += popcount64(ma & x);
        } else if constexpr (kMode == GemmMode::MaskB) {
          pop[r][c] += popcount64(bm[w * 8 + c] & x);
        } else {
          const uint64_t m = ma & bm[w * 8 + c];
          pop[r][c] += popcount64(m & x);
          cnt[r][c] += popcount64(m);
        }
      }
    }
  }
  const int64_t j = p * 8 + half * kCols;
  const int64_t n = g.N - j < kCols ? g.N - j : kCols;
  for (int r = 0; r < R; ++r) {
    // Copies: passing pop/cnt themselves would make their address escape, and the compiler
    // would then keep the counters in memory inside the K loop.
    int64_t out_pop[kCols], out_cnt[kCols];
    for (int c = 0; c < kCols; ++c) {
      out_pop[c] = pop[r][c];
      out_cnt[c] = cnt[r][c];
    }
    store_dots(g, i + r, j, n, out_pop, out_cnt);
  }
}

template <GemmMode kMode, int R>
void block(const GemmArgs& g, int64_t i0, int64_t i1, int64_t p0, int64_t p1) {
  for (int64_t i = i0; i < i1; i += R) {
    const int64_t rows = i1 - i < R ? i1 - i : R;
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t half = 0; half < 2 && p * 8 + half * kCols < g.N; ++half) {
        if (rows == R) {
          tile<kMode, R>(g, i, p, half);
        } else {
          for (int64_t r = 0; r < rows; ++r) tile<kMode, 1>(g, i + r, p, half);
        }
      }
  }
}

void scalar_block(const GemmArgs& g, int64_t i0, int64_t i1, int64_t p0, int64_t p1) {
  switch (g.mode) {
    case GemmMode::Binary:
      return block<GemmMode::Binary, 2>(g, i0, i1, p0, p1);
    case GemmMode::MaskA:
      return block<GemmMode::MaskA, 2>(g, i0, i1, p0, p1);
    case GemmMode::MaskB:
      return block<GemmMode::MaskB, 2>(g, i0, i1, p0, p1);
    case GemmMode::Ternary:
      return block<GemmMode::Ternary, 1>(g, i0, i1, p0, p1);
  }
}

}  // namespace

const KernelInfo kScalarKernel = {scalar_block, {2, 2, 2, 1}};

}  // namespace lowbit::kernels::detail
