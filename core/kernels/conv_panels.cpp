#include "core/kernels/conv_panels.h"

#include <algorithm>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace lowbit::kernels {

namespace {
constexpr int64_t kPanel = 32;  // output pixels per panel: two 16-lane vectors
constexpr int64_t kRows = 8;    // output channels per micro-kernel tile

#if defined(__AVX512F__)
// Lanes i of a 16-lane chunk starting at output column `base` whose input column
// base + i + shift lies inside [0, W) (and base + i < OW).
__mmask16 valid_lanes(int64_t base, int64_t shift, int64_t W, int64_t OW) {
  uint32_t m = 0;
  for (int64_t i = 0; i < 16; ++i) {
    const int64_t ow = base + i, iw = ow + shift;
    if (ow < OW && iw >= 0 && iw < W) m |= 1u << i;
  }
  return static_cast<__mmask16>(m);
}

// The (K, 32) panel of output rows [oh0, oh0 + 32 / OW) of a stride-1 convolution: the
// columns of those pixels in im2col's cols (core/kernels/im2col.h), with the per-row
// bookkeeping of the general im2col (index divisions, column ranges) replaced by masks
// computed once per kernel column (a panel row is only 32 values wide).
void fill_panel(const float* x, const ConvGeom& g, int64_t oh0, float* panel) {
  const int64_t OW = g.OW, R = kPanel / OW, chunks = (OW + 15) / 16;
  __mmask16 valid[16][2];  // [kw][chunk]; KW <= 16 (checked by conv_panels_apply)
  for (int64_t kw = 0; kw < g.KW; ++kw)
    for (int64_t j = 0; j < chunks; ++j) valid[kw][j] = valid_lanes(16 * j, kw - g.pad, g.W, OW);
  const __mmask16 store = OW >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << OW) - 1u);
  float* dst = panel;
  for (int64_t c = 0; c < g.C; ++c) {
    const float* plane = x + c * g.H * g.W;
    for (int64_t kh = 0; kh < g.KH; ++kh)
      for (int64_t kw = 0; kw < g.KW; ++kw, dst += kPanel) {
        const int64_t shift = kw - g.pad;
        for (int64_t i = 0; i < R; ++i) {
          const int64_t ih = oh0 + i - g.pad + kh;
          const bool inside = ih >= 0 && ih < g.H;
          // Masked-off lanes are not read: the base address may lie before the row.
          const uintptr_t src = reinterpret_cast<uintptr_t>(plane + (inside ? ih * g.W : 0)) +
                                static_cast<uintptr_t>(shift * 4);
          for (int64_t j = 0; j < chunks; ++j) {
            const __mmask16 m = inside ? valid[kw][j] : __mmask16(0);
            const __m512 v = _mm512_maskz_loadu_ps(m, reinterpret_cast<const float*>(src + 64 * j));
            _mm512_mask_storeu_ps(dst + i * OW + 16 * j, store, v);
          }
        }
      }
  }
}
#endif
}  // namespace

bool conv_panels_apply(const ConvGeom& g, int64_t OC) {
#if defined(__AVX512F__)
  return g.stride == 1 && g.KW <= 16 && OC > 0 && OC % kRows == 0 && g.OW > 0 &&
         kPanel % g.OW == 0 && g.OH % (kPanel / g.OW) == 0;
#else
  (void)g, (void)OC;
  return false;
#endif
}

std::unique_ptr<float[]> conv_panels_pack_weights(const float* w, int64_t OC, int64_t K) {
  auto p = std::make_unique_for_overwrite<float[]>(static_cast<size_t>(OC * K));
  for (int64_t b = 0; b < OC / kRows; ++b)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < kRows; ++i) p[(b * K + k) * kRows + i] = w[(b * kRows + i) * K + k];
  return p;
}

int64_t conv_panels_scratch(const ConvGeom& g) { return g.col_rows() * kPanel; }

void conv_panels_image(const float* x, const ConvGeom& g, const float* packed_w, int64_t OC,
                       float* scratch, float* y) {
#if defined(__AVX512F__)
  const int64_t K = g.col_rows(), P = g.col_cols(), R = kPanel / g.OW;
  for (int64_t oh0 = 0; oh0 < g.OH; oh0 += R) {
    fill_panel(x, g, oh0, scratch);  // (K, 32): output rows [oh0, oh0 + R)
    float* yq = y + oh0 * g.OW;
    for (int64_t b = 0; b < OC / kRows; ++b) {
      const float* a = packed_w + b * K * kRows;
      // 8 rows x 2 vectors = 16 accumulators; with constant bounds GCC unrolls the row loops
      // and keeps them all in zmm registers (checked: no stack traffic in the k loop).
      __m512 acc[kRows][2];
#pragma GCC unroll 8
      for (int64_t i = 0; i < kRows; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
      const float* bp = scratch;
      for (int64_t k = 0; k < K; ++k, a += kRows, bp += kPanel) {
        const __m512 b0 = _mm512_loadu_ps(bp), b1 = _mm512_loadu_ps(bp + 16);
#pragma GCC unroll 8
        for (int64_t i = 0; i < kRows; ++i) {
          const __m512 w = _mm512_set1_ps(a[i]);
          acc[i][0] = _mm512_fmadd_ps(w, b0, acc[i][0]);
          acc[i][1] = _mm512_fmadd_ps(w, b1, acc[i][1]);
        }
      }
      // The panel's 32 pixels are output rows [oh0, oh0 + R) of the image: contiguous in y.
      float* o = yq + b * kRows * P;
#pragma GCC unroll 8
      for (int64_t i = 0; i < kRows; ++i) {
        _mm512_storeu_ps(o + i * P, acc[i][0]);
        _mm512_storeu_ps(o + i * P + 16, acc[i][1]);
      }
    }
  }
#else
  (void)x, (void)g, (void)packed_w, (void)OC, (void)scratch, (void)y;
#endif
}

}  // namespace lowbit::kernels
