// AVX-512 VPOPCNTDQ kernels of the packed GEMM, compiled with -march=x86-64-v4
// -mavx512vpopcntdq whatever the project's -march; see binary_gemm_kernels.h for why
// nothing here is shared inline.
//
// Register tile: R rows of A × P panels of B (8 columns each) -> R·P zmm accumulators whose
// 64-bit lanes are the output columns. Per K word: P panel loads, then for each row one
// broadcast A word and, per panel, xor (or a ternlog for masks) + vpopcntq + vpaddq. The
// lanes already are the dot products, so the K loop ends without horizontal reductions.
//
// Throughput model (measured on this Xeon, issue #6): 512-bit vector uops issue on two
// ports and vpopcntq on one of them, so xor + popcnt + add costs 1.5 cycles per 512 binary
// MACs (about 340 MACs/cycle) when nothing else competes; the tile keeps loads (P + R per
// R·P triples) and loop overhead well below that. Measured: 230-330 MACs/cycle on the
// 2048-class shapes of bench/gemm_bench.cpp (the rest is the per-tile epilogue and noise).
#include <immintrin.h>

#include <cstdint>

#include "packed/kernels/binary_gemm_kernels.h"

namespace lowbit::kernels::detail {

namespace {

// f(a, b, c) = a & (b ^ c): the masked xor in one vpternlogq.
constexpr int kAndXor = 0x60;

template <GemmMode kMode, int R, int P>
__attribute__((always_inline)) inline void tile(const GemmArgs& g, int64_t i, int64_t p) {
  constexpr bool kMaskA = kMode == GemmMode::MaskA || kMode == GemmMode::Ternary;
  constexpr bool kMaskB = kMode == GemmMode::MaskB || kMode == GemmMode::Ternary;
  constexpr bool kCount = kMode == GemmMode::Ternary;
  const int64_t kw = g.kw;
  const uint64_t* as = g.a_sign + i * kw;
  const uint64_t* am = kMaskA ? g.a_mask + i * kw : nullptr;
  const uint64_t* bs = g.b_sign + p * kw * 8;
  const uint64_t* bm = kMaskB ? g.b_mask + p * kw * 8 : nullptr;

  __m512i acc[R][P], cnt[R][kCount ? P : 1];
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < P; ++q) {
      acc[r][q] = _mm512_setzero_si512();
      if constexpr (kCount) cnt[r][q] = _mm512_setzero_si512();
    }

  for (int64_t w = 0; w < kw; ++w) {
    __m512i vb[P], vm[kMaskB ? P : 1];
    for (int q = 0; q < P; ++q) {
      vb[q] = _mm512_loadu_si512(bs + (q * kw + w) * 8);
      if constexpr (kMaskB) vm[q] = _mm512_loadu_si512(bm + (q * kw + w) * 8);
    }
    for (int r = 0; r < R; ++r) {
      const __m512i va = _mm512_set1_epi64(static_cast<long long>(as[r * kw + w]));
      __m512i vam = _mm512_setzero_si512();
      if constexpr (kMaskA) vam = _mm512_set1_epi64(static_cast<long long>(am[r * kw + w]));
      for (int q = 0; q < P; ++q) {
        __m512i x;
        if constexpr (kMode == GemmMode::Binary) {
          x = _mm512_xor_si512(va, vb[q]);
        } else if constexpr (kMode == GemmMode::MaskA) {
          x = _mm512_ternarylogic_epi64(vam, va, vb[q], kAndXor);
        } else if constexpr (kMode == GemmMode::MaskB) {
          x = _mm512_ternarylogic_epi64(vm[q], va, vb[q], kAndXor);
        } else {
          const __m512i m = _mm512_and_si512(vam, vm[q]);
          x = _mm512_ternarylogic_epi64(m, va, vb[q], kAndXor);
          cnt[r][q] = _mm512_add_epi64(cnt[r][q], _mm512_popcnt_epi64(m));
        }
        acc[r][q] = _mm512_add_epi64(acc[r][q], _mm512_popcnt_epi64(x));
      }
    }
  }

  // Epilogue: dot = base - 2·pop per lane, then the float transform or the int32 store.
  for (int r = 0; r < R; ++r) {
    const int64_t row = i + r;
    for (int q = 0; q < P; ++q) {
      const int64_t j = (p + q) * 8;
      const int64_t n = g.N - j < 8 ? g.N - j : 8;
      const auto k8 = static_cast<__mmask8>((1u << n) - 1u);
      __m512i base;
      if constexpr (kMode == GemmMode::Binary) {
        base = _mm512_set1_epi64(g.K);
      } else if constexpr (kMode == GemmMode::MaskA) {
        base = _mm512_set1_epi64(g.a_nnz[row]);
      } else if constexpr (kMode == GemmMode::MaskB) {
        // maskz form: GCC 12's unmasked one trips -Wmaybe-uninitialized in its own header.
        base = _mm512_maskz_cvtepi32_epi64(
            0xff, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(g.b_nnz + j)));
      } else {
        base = cnt[r][q];
      }
      const __m512i dot = _mm512_sub_epi64(base, _mm512_add_epi64(acc[r][q], acc[r][q]));
      if (g.c_i32) {
        _mm512_mask_cvtepi64_storeu_epi32(g.c_i32 + row * g.ldc + j, k8, dot);
        continue;
      }
      __m256 v = _mm512_cvtepi64_ps(dot);
      if (g.row_scale) v = _mm256_mul_ps(v, _mm256_set1_ps(g.row_scale[row]));
      if (g.col_scale) v = _mm256_mul_ps(v, _mm256_maskz_loadu_ps(k8, g.col_scale + j));
      if (g.row_bias) v = _mm256_add_ps(v, _mm256_set1_ps(g.row_bias[row]));
      if (g.col_bias) v = _mm256_add_ps(v, _mm256_maskz_loadu_ps(k8, g.col_bias + j));
      _mm256_mask_storeu_ps(g.c_f32 + row * g.ldc + j, k8, v);
    }
  }
}

// Rows [i, i + R) against panels [p0, p1): full P-panel tiles, then single-panel tiles.
template <GemmMode kMode, int R, int P>
void sweep(const GemmArgs& g, int64_t i, int64_t p0, int64_t p1) {
  int64_t p = p0;
  for (; p + P <= p1; p += P) tile<kMode, R, P>(g, i, p);
  for (; p < p1; ++p) tile<kMode, R, 1>(g, i, p);
}

// Picks the tile height for the last, partial row tile.
template <GemmMode kMode, int R, int P>
void sweep_rows(const GemmArgs& g, int64_t i, int64_t rows, int64_t p0, int64_t p1) {
  if constexpr (R > 1) {
    if (rows < R) return sweep_rows<kMode, R - 1, P>(g, i, rows, p0, p1);
  }
  sweep<kMode, R, P>(g, i, p0, p1);
}

template <GemmMode kMode, int R, int P>
void block(const GemmArgs& g, int64_t i0, int64_t i1, int64_t p0, int64_t p1) {
  for (int64_t i = i0; i < i1; i += R)
    sweep_rows<kMode, R, P>(g, i, i1 - i < R ? i1 - i : R, p0, p1);
}

// Tiles: 24 accumulators (+ P panel registers, + P mask registers for MaskB) of 32 zmm.
constexpr int kRowsBinary = 6, kPanelsBinary = 4;
constexpr int kRowsMaskB = 6, kPanelsMaskB = 3;
constexpr int kRowsTernary = 4, kPanelsTernary = 2;

void avx512_block(const GemmArgs& g, int64_t i0, int64_t i1, int64_t p0, int64_t p1) {
  switch (g.mode) {
    case GemmMode::Binary:
      return block<GemmMode::Binary, kRowsBinary, kPanelsBinary>(g, i0, i1, p0, p1);
    case GemmMode::MaskA:
      return block<GemmMode::MaskA, kRowsBinary, kPanelsBinary>(g, i0, i1, p0, p1);
    case GemmMode::MaskB:
      return block<GemmMode::MaskB, kRowsMaskB, kPanelsMaskB>(g, i0, i1, p0, p1);
    case GemmMode::Ternary:
      return block<GemmMode::Ternary, kRowsTernary, kPanelsTernary>(g, i0, i1, p0, p1);
  }
}

}  // namespace

const KernelInfo kAvx512Kernel = {avx512_block,
                                  {kRowsBinary, kRowsBinary, kRowsMaskB, kRowsTernary}};

}  // namespace lowbit::kernels::detail
