#include "core/kernels/im2col.h"

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "core/kernels/conv_algo.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

// A cols row is OH segments of OW values; on small feature maps (LeNet's second layer: OW = 8)
// the per-segment overhead of a generic copy loop (trip-count checks, memset calls for the
// padding) cost more than the copy itself. With AVX-512 a stride-1 segment of up to 16 values
// is one masked load and one masked store: padding lanes are masked off (not read, written as
// zeros); measured 1.7x faster on LeNet's layer 2, close to memcpy speed. Other strides and
// builds without AVX-512 use the scalar loops.

namespace lowbit::kernels {

namespace {

// Output columns [lo, hi) whose input column ow·s − p + kw lies inside [0, W).
struct ColRange {
  int64_t lo, hi;
};
ColRange valid_cols(const ConvGeom& g, int64_t kw) {
  const int64_t off = g.pad - kw;  // iw = ow·s − off
  const int64_t lo = off > 0 ? (off + g.stride - 1) / g.stride : 0;
  const int64_t last = g.W - 1 + off;  // iw ≤ W − 1  ⇔  ow·s ≤ last
  const int64_t hi = last >= 0 ? std::min(g.OW, last / g.stride + 1) : 0;
  return {std::min(lo, g.OW), std::max(std::min(lo, g.OW), hi)};
}

#if defined(__AVX512F__)
// Lanes [lo, hi) ∩ [base, base + 16) of the 16-lane chunk starting at column `base`.
inline __mmask16 lane_mask(int64_t lo, int64_t hi, int64_t base) {
  const int64_t a = std::max<int64_t>(lo - base, 0), b = std::min<int64_t>(hi - base, 16);
  if (a >= b) return 0;
  return static_cast<__mmask16>(((1u << b) - 1u) & ~((1u << a) - 1u));
}

// row + offset without forming an out-of-range pointer in C++ terms: masked lanes are never
// accessed, but the base address of a padded segment lies before the row.
inline const float* offset_ptr(const float* row, int64_t offset) {
  return reinterpret_cast<const float*>(reinterpret_cast<uintptr_t>(row) +
                                        static_cast<uintptr_t>(offset * 4));
}

// dst[ow] = row[ow + shift] for ow in [lo, hi), 0 for the other ow in [0, OW).
inline void gather_segment_s1(const float* row, int64_t shift, int64_t lo, int64_t hi, int64_t OW,
                              float* dst) {
  for (int64_t base = 0; base < OW; base += 16) {
    const __m512 v = _mm512_maskz_loadu_ps(lane_mask(lo, hi, base), offset_ptr(row, shift + base));
    _mm512_mask_storeu_ps(dst + base, lane_mask(0, OW, base), v);
  }
}

#endif

std::atomic<Im2colRows> rows_algo{Im2colRows::Auto};

// One cols row (kernel offset kh, column shift) of a stride-1 convolution whose output is as
// wide as its input ("same" padding): the input rows that exist form one contiguous run of
// the plane, so the row is a single copy of that run, then the columns whose input lies left
// or right of the image (|shift| per output row; the copy put the neighbouring rows' pixels
// there) are set to zero. On VGG-small's 32×32 layers this beat the segment loop below by
// 1.14x per conv block (bench/conv_ab): two masked 16-lane chunks per 32-wide segment, with
// their mask arithmetic, cost more than a plain copy.
void same_width_row(const float* plane, const ConvGeom& g, int64_t kh, int64_t shift,
                    ColRange cr, int64_t OH, float* dst) {
  const int64_t W = g.W, HW = g.H * g.W;
  // Output rows whose input row ih = oh − pad + kh lies inside [0, H).
  const int64_t lo = std::clamp<int64_t>(g.pad - kh, 0, OH),
                hi = std::clamp<int64_t>(g.H + g.pad - kh, lo, OH);
  std::fill(dst, dst + lo * W, 0.f);
  std::fill(dst + hi * W, dst + OH * W, 0.f);
  if (lo == hi) return;
  // dst[oh·W + ow] = plane[(oh − pad + kh)·W + ow + shift]: source indices [a, b), clipped to
  // the plane (the clipped ends are border columns, zeroed below; with padding wider than the
  // image, |shift| >= W, nothing may be left).
  float* out = dst + lo * W;
  const int64_t a = (lo - g.pad + kh) * W + shift, b = a + (hi - lo) * W;
  const int64_t ca = std::max<int64_t>(a, 0), cb = std::min(b, HW);
  if (ca < cb) std::copy(plane + ca, plane + cb, out + (ca - a));
  for (int64_t oh = lo; oh < hi; ++oh, out += W) {
    for (int64_t ow = 0; ow < cr.lo; ++ow) out[ow] = 0.f;
    for (int64_t ow = cr.hi; ow < W; ++ow) out[ow] = 0.f;
  }
}

}  // namespace

void set_im2col_rows(Im2colRows algo) { rows_algo = algo; }
Im2colRows im2col_rows() { return rows_algo; }

ConvGeom ConvGeom::make(int64_t C, int64_t H, int64_t W, int64_t KH, int64_t KW, int64_t stride,
                        int64_t pad) {
  ConvGeom g;
  g.C = C, g.H = H, g.W = W, g.KH = KH, g.KW = KW, g.stride = stride, g.pad = pad;
  g.OH = (H + 2 * pad - KH) / stride + 1;
  g.OW = (W + 2 * pad - KW) / stride + 1;
  return g;
}

void im2col(const float* x, const ConvGeom& g, float* cols, int64_t ld, int64_t r0, int64_t r1) {
  const int64_t OH = g.OH, OW = g.OW, s = g.stride;
  const bool whole_rows = s == 1 && OW == g.W && OW > 16 && im2col_rows() == Im2colRows::Auto;
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t c = r / (g.KH * g.KW), kh = (r / g.KW) % g.KH, kw = r % g.KW;
    const ColRange cr = valid_cols(g, kw);
    const int64_t shift = kw - g.pad;  // iw = ow·s + shift
    const float* plane = x + c * g.H * g.W;
    float* dst = cols + r * ld;
    if (whole_rows) {
      same_width_row(plane, g, kh, shift, cr, OH, dst);
      continue;
    }
#if defined(__AVX512F__)
    if (s == 1 && OW <= 16) {  // one chunk per segment: masks fixed for the whole row
      const __mmask16 store = lane_mask(0, OW, 0), valid = lane_mask(cr.lo, cr.hi, 0);
      for (int64_t oh = 0; oh < OH; ++oh, dst += OW) {
        const int64_t ih = oh - g.pad + kh;
        const __mmask16 m = ih >= 0 && ih < g.H ? valid : 0;
        _mm512_mask_storeu_ps(dst, store,
                              _mm512_maskz_loadu_ps(m, offset_ptr(plane, ih * g.W + shift)));
      }
      continue;
    }
    if (s == 1) {
      for (int64_t oh = 0; oh < OH; ++oh, dst += OW) {
        const int64_t ih = oh - g.pad + kh;
        const bool inside = ih >= 0 && ih < g.H;
        gather_segment_s1(plane + (inside ? ih * g.W : 0), shift, inside ? cr.lo : 0,
                          inside ? cr.hi : 0, OW, dst);
      }
      continue;
    }
#endif
    for (int64_t oh = 0; oh < OH; ++oh, dst += OW) {
      const int64_t ih = oh * s - g.pad + kh;
      if (ih < 0 || ih >= g.H) {
        std::fill(dst, dst + OW, 0.f);
        continue;
      }
      const float* row = plane + ih * g.W;
      for (int64_t ow = 0; ow < cr.lo; ++ow) dst[ow] = 0.f;
      if (s == 1) {
        for (int64_t ow = cr.lo; ow < cr.hi; ++ow) dst[ow] = row[ow + shift];
      } else {
        for (int64_t ow = cr.lo; ow < cr.hi; ++ow) dst[ow] = row[ow * s + shift];
      }
      for (int64_t ow = cr.hi; ow < OW; ++ow) dst[ow] = 0.f;
    }
  }
}

void col2im(const float* cols, const ConvGeom& g, int64_t ld, float* x, int64_t c0, int64_t c1) {
  const int64_t OH = g.OH, OW = g.OW, s = g.stride;
#if defined(__AVX512F__)
  if (s == 1) {
    // Gather form: each 16-wide chunk of an input row sums its KH·KW contributions in a
    // register and is stored once. (Scattering segment by segment instead re-reads what the
    // previous, overlapping masked store just wrote; store forwarding fails on masked
    // stores and that version was 2x slower.)
    for (int64_t c = c0; c < c1; ++c) {
      for (int64_t ih = 0; ih < g.H; ++ih) {
        float* row = x + (c * g.H + ih) * g.W;
        for (int64_t base = 0; base < g.W; base += 16) {
          const __mmask16 in_row = lane_mask(0, g.W, base);
          // Four accumulators: one add chain would wait on the add latency.
          __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0, acc2 = acc0, acc3 = acc0;
          for (int64_t kh = 0; kh < g.KH; ++kh) {
            const int64_t oh = ih + g.pad - kh;
            if (oh < 0 || oh >= OH) continue;
            const float* seg0 = cols + (c * g.KH + kh) * g.KW * ld + oh * OW;
            // Lane iw = base + i reads ow = iw + pad − kw, valid for 0 <= ow < OW.
            auto load = [&](int64_t kw) {
              const int64_t shift = kw - g.pad;
              const __mmask16 m = in_row & lane_mask(shift, shift + OW, base);
              return _mm512_maskz_loadu_ps(m, offset_ptr(seg0 + kw * ld, base - shift));
            };
            int64_t kw = 0;
            for (; kw + 4 <= g.KW; kw += 4) {
              acc0 = _mm512_add_ps(acc0, load(kw));
              acc1 = _mm512_add_ps(acc1, load(kw + 1));
              acc2 = _mm512_add_ps(acc2, load(kw + 2));
              acc3 = _mm512_add_ps(acc3, load(kw + 3));
            }
            for (; kw < g.KW; ++kw) acc0 = _mm512_add_ps(acc0, load(kw));
          }
          const __m512 acc = _mm512_add_ps(_mm512_add_ps(acc0, acc1), _mm512_add_ps(acc2, acc3));
          _mm512_mask_storeu_ps(row + base, in_row, acc);
        }
      }
    }
    return;
  }
#endif
  for (int64_t c = c0; c < c1; ++c) {
    float* plane = x + c * g.H * g.W;
    std::fill(plane, plane + g.H * g.W, 0.f);
    for (int64_t kh = 0; kh < g.KH; ++kh) {
      for (int64_t kw = 0; kw < g.KW; ++kw) {
        const ColRange cr = valid_cols(g, kw);
        const int64_t shift = kw - g.pad;
        const float* src = cols + ((c * g.KH + kh) * g.KW + kw) * ld;
        for (int64_t oh = 0; oh < OH; ++oh, src += OW) {
          const int64_t ih = oh * s - g.pad + kh;
          if (ih < 0 || ih >= g.H) continue;
          float* row = plane + ih * g.W;
          if (s == 1) {
            for (int64_t ow = cr.lo; ow < cr.hi; ++ow) row[ow + shift] += src[ow];
          } else {
            for (int64_t ow = cr.lo; ow < cr.hi; ++ow) row[ow * s + shift] += src[ow];
          }
        }
      }
    }
  }
}

}  // namespace lowbit::kernels
