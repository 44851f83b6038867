// AVX2 kernels of the packed GEMM, compiled with -march=x86-64-v3 whatever the project's
// -march; see binary_gemm_kernels.h for why nothing here is shared inline.
//
// AVX2 has no vector popcount, so bytes are counted with the pshufb nibble table (Muła,
// Kurz, Lemire, "Faster population counts using AVX2 instructions", arXiv:1611.07612):
// popcount8(x) = lut[x & 15] + lut[(x >> 4) & 15]. Byte counts accumulate for up to 31 K
// words (31 · 8 = 248 < 256), then vpsadbw folds them into the 64-bit lanes, which are the
// output columns (a panel of 8 columns = 2 ymm), as in the AVX-512 kernel.
// Cost per 256 bits: xor, 2 and, shift, 2 pshufb, 2 add = 8 uops on three vector ports.
#include <immintrin.h>

#include <cstdint>

#include "core/kernels/binary_gemm_kernels.h"

namespace lowbit::kernels::detail {

namespace {

constexpr int64_t kChunkWords = 31;

__attribute__((always_inline)) inline __m256i add_popcount8(__m256i acc, __m256i x, __m256i lut,
                                                            __m256i low) {
  const __m256i lo = _mm256_and_si256(x, low);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), low);
  acc = _mm256_add_epi8(acc, _mm256_shuffle_epi8(lut, lo));
  return _mm256_add_epi8(acc, _mm256_shuffle_epi8(lut, hi));
}

template <GemmMode kMode, int R>
__attribute__((always_inline)) inline void tile(const GemmArgs& g, int64_t i, int64_t p) {
  constexpr bool kMaskA = kMode == GemmMode::MaskA || kMode == GemmMode::Ternary;
  constexpr bool kMaskB = kMode == GemmMode::MaskB || kMode == GemmMode::Ternary;
  constexpr bool kCount = kMode == GemmMode::Ternary;
  const int64_t kw = g.kw;
  const uint64_t* as = g.a_sign + i * kw;
  const uint64_t* am = kMaskA ? g.a_mask + i * kw : nullptr;
  const uint64_t* bs = g.b_sign + p * kw * 8;
  const uint64_t* bm = kMaskB ? g.b_mask + p * kw * 8 : nullptr;
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,  //
                                       0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i zero = _mm256_setzero_si256();

  __m256i tot[R][2], ctot[R][2];
  for (int r = 0; r < R; ++r)
    for (int h = 0; h < 2; ++h) tot[r][h] = ctot[r][h] = zero;

  for (int64_t w0 = 0; w0 < kw; w0 += kChunkWords) {
    const int64_t w1 = kw - w0 < kChunkWords ? kw : w0 + kChunkWords;
    __m256i acc[R][2], cacc[R][kCount ? 2 : 1];
    for (int r = 0; r < R; ++r)
      for (int h = 0; h < 2; ++h) {
        acc[r][h] = zero;
        if constexpr (kCount) cacc[r][h] = zero;
      }
    for (int64_t w = w0; w < w1; ++w) {
      __m256i vb[2], vm[2];
      for (int h = 0; h < 2; ++h) {
        vb[h] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bs + w * 8 + 4 * h));
        if constexpr (kMaskB)
          vm[h] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(bm + w * 8 + 4 * h));
      }
      for (int r = 0; r < R; ++r) {
        const __m256i va = _mm256_set1_epi64x(static_cast<long long>(as[r * kw + w]));
        __m256i vam = zero;
        if constexpr (kMaskA) vam = _mm256_set1_epi64x(static_cast<long long>(am[r * kw + w]));
        for (int h = 0; h < 2; ++h) {
          __m256i x = _mm256_xor_si256(va, vb[h]);
          if constexpr (kMode == GemmMode::MaskA) x = _mm256_and_si256(x, vam);
          if constexpr (kMode == GemmMode::MaskB) x = _mm256_and_si256(x, vm[h]);
          if constexpr (kMode == GemmMode::Ternary) {
            const __m256i m = _mm256_and_si256(vam, vm[h]);
            x = _mm256_and_si256(x, m);
            cacc[r][h] = add_popcount8(cacc[r][h], m, lut, low);
          }
          acc[r][h] = add_popcount8(acc[r][h], x, lut, low);
        }
      }
    }
    for (int r = 0; r < R; ++r)
      for (int h = 0; h < 2; ++h) {
        tot[r][h] = _mm256_add_epi64(tot[r][h], _mm256_sad_epu8(acc[r][h], zero));
        if constexpr (kCount)
          ctot[r][h] = _mm256_add_epi64(ctot[r][h], _mm256_sad_epu8(cacc[r][h], zero));
      }
  }

  const int64_t j = p * 8;
  const int64_t n = g.N - j < 8 ? g.N - j : 8;
  for (int r = 0; r < R; ++r) {
    alignas(32) int64_t pop[8], cnt[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(pop), tot[r][0]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(pop + 4), tot[r][1]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(cnt), ctot[r][0]);
    _mm256_store_si256(reinterpret_cast<__m256i*>(cnt + 4), ctot[r][1]);
    store_dots(g, i + r, j, n, pop, cnt);
  }
}

template <GemmMode kMode, int R>
void sweep_rows(const GemmArgs& g, int64_t i, int64_t rows, int64_t p0, int64_t p1) {
  if constexpr (R > 1) {
    if (rows < R) return sweep_rows<kMode, R - 1>(g, i, rows, p0, p1);
  }
  for (int64_t p = p0; p < p1; ++p) tile<kMode, R>(g, i, p);
}

template <GemmMode kMode, int R>
void block(const GemmArgs& g, int64_t i0, int64_t i1, int64_t p0, int64_t p1) {
  for (int64_t i = i0; i < i1; i += R) sweep_rows<kMode, R>(g, i, i1 - i < R ? i1 - i : R, p0, p1);
}

// Rows per tile: byte accumulators (2 per row, 4 with the ternary counts) + 2 panel
// registers (+ 2 masks) + table, nibble mask and temporaries within the 16 ymm registers.
constexpr int kRowsBinary = 4, kRowsMask = 3, kRowsTernary = 2;

void avx2_block(const GemmArgs& g, int64_t i0, int64_t i1, int64_t p0, int64_t p1) {
  switch (g.mode) {
    case GemmMode::Binary: return block<GemmMode::Binary, kRowsBinary>(g, i0, i1, p0, p1);
    case GemmMode::MaskA: return block<GemmMode::MaskA, kRowsMask>(g, i0, i1, p0, p1);
    case GemmMode::MaskB: return block<GemmMode::MaskB, kRowsMask>(g, i0, i1, p0, p1);
    case GemmMode::Ternary: return block<GemmMode::Ternary, kRowsTernary>(g, i0, i1, p0, p1);
  }
}

}  // namespace

const KernelInfo kAvx2Kernel = {avx2_block, {kRowsBinary, kRowsMask, kRowsMask, kRowsTernary}};

}  // namespace lowbit::kernels::detail
