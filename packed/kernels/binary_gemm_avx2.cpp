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

#include "packed/kernels/binary_gemm_kernels.h"

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

// The low 32 bits of 8 int64 values (counts < 2^31) as one vector of 8 int32.
__attribute__((always_inline)) inline __m256i low_dwords(const int64_t* v) {
  const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
  const __m256i a =
      _mm256_permutevar8x32_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(v)), even);
  const __m256i b =
      _mm256_permutevar8x32_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(v + 4)), even);
  return _mm256_permute2x128_si256(a, b, 0x20);
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

  // 64-bit totals per row and column live in memory: kept in registers they would push the
  // byte accumulators of the inner loop out to the stack (16 ymm registers only).
  alignas(32) int64_t tot[R][8] = {}, ctot[R][8] = {};

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
        auto* t = reinterpret_cast<__m256i*>(tot[r] + 4 * h);
        _mm256_store_si256(
            t, _mm256_add_epi64(_mm256_load_si256(t), _mm256_sad_epu8(acc[r][h], zero)));
        if constexpr (kCount) {
          auto* ct = reinterpret_cast<__m256i*>(ctot[r] + 4 * h);
          _mm256_store_si256(
              ct, _mm256_add_epi64(_mm256_load_si256(ct), _mm256_sad_epu8(cacc[r][h], zero)));
        }
      }
  }

  // Epilogue in 32-bit lanes (every count fits): dot = base - 2·pop, then the float
  // transform or the int32 store, masked to the n valid columns.
  const int64_t j = p * 8;
  const int n = static_cast<int>(g.N - j < 8 ? g.N - j : 8);
  const __m256i valid =
      _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (int r = 0; r < R; ++r) {
    const int64_t row = i + r;
    const __m256i pop = low_dwords(tot[r]);
    __m256i base;
    if constexpr (kMode == GemmMode::Binary) {
      base = _mm256_set1_epi32(static_cast<int>(g.K));
    } else if constexpr (kMode == GemmMode::MaskA) {
      base = _mm256_set1_epi32(g.a_nnz[row]);
    } else if constexpr (kMode == GemmMode::MaskB) {
      base = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.b_nnz + j));  // padded to 8
    } else {
      base = low_dwords(ctot[r]);
    }
    const __m256i dot = _mm256_sub_epi32(base, _mm256_add_epi32(pop, pop));
    if (g.c_i32) {
      _mm256_maskstore_epi32(g.c_i32 + row * g.ldc + j, valid, dot);
      continue;
    }
    __m256 v = _mm256_cvtepi32_ps(dot);
    if (g.row_scale) v = _mm256_mul_ps(v, _mm256_set1_ps(g.row_scale[row]));
    if (g.col_scale) v = _mm256_mul_ps(v, _mm256_maskload_ps(g.col_scale + j, valid));
    if (g.row_bias) v = _mm256_add_ps(v, _mm256_set1_ps(g.row_bias[row]));
    if (g.col_bias) v = _mm256_add_ps(v, _mm256_maskload_ps(g.col_bias + j, valid));
    _mm256_maskstore_ps(g.c_f32 + row * g.ldc + j, valid, v);
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
    case GemmMode::Binary:
      return block<GemmMode::Binary, kRowsBinary>(g, i0, i1, p0, p1);
    case GemmMode::MaskA:
      return block<GemmMode::MaskA, kRowsMask>(g, i0, i1, p0, p1);
    case GemmMode::MaskB:
      return block<GemmMode::MaskB, kRowsMask>(g, i0, i1, p0, p1);
    case GemmMode::Ternary:
      return block<GemmMode::Ternary, kRowsTernary>(g, i0, i1, p0, p1);
  }
}

}  // namespace

const KernelInfo kAvx2Kernel = {avx2_block, {kRowsBinary, kRowsMask, kRowsMask, kRowsTernary}};

}  // namespace lowbit::kernels::detail
