#include "core/kernels/im2col.h"

#include <algorithm>

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
}  // namespace

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
  for (int64_t r = r0; r < r1; ++r) {
    const int64_t c = r / (g.KH * g.KW), kh = (r / g.KW) % g.KH, kw = r % g.KW;
    const ColRange cr = valid_cols(g, kw);
    const int64_t shift = kw - g.pad;  // iw = ow·s + shift
    const float* plane = x + c * g.H * g.W;
    float* dst = cols + r * ld;
    for (int64_t oh = 0; oh < OH; ++oh, dst += OW) {
      const int64_t ih = oh * s - g.pad + kh;
      if (ih < 0 || ih >= g.H) {
        std::fill(dst, dst + OW, 0.f);
        continue;
      }
      const float* row = plane + ih * g.W;
      std::fill(dst, dst + cr.lo, 0.f);
      if (s == 1) {
        for (int64_t ow = cr.lo; ow < cr.hi; ++ow) dst[ow] = row[ow + shift];
      } else {
        for (int64_t ow = cr.lo; ow < cr.hi; ++ow) dst[ow] = row[ow * s + shift];
      }
      std::fill(dst + cr.hi, dst + OW, 0.f);
    }
  }
}

void col2im(const float* cols, const ConvGeom& g, int64_t ld, float* x, int64_t c0, int64_t c1) {
  const int64_t OH = g.OH, OW = g.OW, s = g.stride;
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
