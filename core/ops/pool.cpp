#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "core/check.h"
#include "core/parallel.h"
#include "core/ops.h"

// Legend: N·C independent planes of H×W input and OH×OW output, k×k window, s stride,
// p zero padding. Window (oh, ow) covers rows [oh·s − p, oh·s − p + k) ∩ [0, H), same for
// columns; at least one real cell is always inside because p ≤ k/2 (checked, as PyTorch).

namespace lowbit {

namespace {

struct PoolGeom {
  int64_t planes, H, W, k, s, p, OH, OW;
};

PoolGeom pool_geom(const Var& x, int64_t kernel, int64_t stride, int64_t padding, const char* op) {
  LB_CHECK(x.defined() && x.dim() == 4, op, ": expected input (N, C, H, W), got shape ",
           x.defined() ? x.shape() : Shape{});
  LB_CHECK(kernel >= 1 && stride >= 0 && padding >= 0, op,
           ": expected kernel >= 1, stride >= 0 "
           "(0 = kernel) and padding >= 0, got kernel ",
           kernel, " stride ", stride, " padding ", padding);
  LB_CHECK(2 * padding <= kernel, op, ": padding ", padding, " must be at most half the kernel ",
           kernel);
  PoolGeom g{x.size(0) * x.size(1),    x.size(2), x.size(3), kernel,
             stride ? stride : kernel, padding,   0,         0};
  LB_CHECK(g.H + 2 * g.p >= g.k && g.W + 2 * g.p >= g.k, op, ": kernel ", kernel,
           " is larger than the input ", x.shape(), " padded by ", padding);
  g.OH = (g.H + 2 * g.p - g.k) / g.s + 1;
  g.OW = (g.W + 2 * g.p - g.k) / g.s + 1;
  return g;
}

Shape out_shape(const Var& x, const PoolGeom& g) { return {x.size(0), x.size(1), g.OH, g.OW}; }

/// Calls fn(plane) for every plane, in parallel when the work is large.
template <class Fn>
void for_each_plane(const PoolGeom& g, Fn&& fn) {
  kernels::parallel_for(
      g.planes,
      [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) fn(q);
      },
      g.OH * g.OW * g.k * g.k + g.H * g.W);
}

}  // namespace

namespace {

// Max pooling of one plane. The running maximum is updated with selects, not branches: on
// real activations the winner of a window is unpredictable and mispredicted branches made
// this loop several times slower. NaN propagates, as in PyTorch.
// One output row of 2×2, stride-2 windows over plane rows r0 and r0 + W; `base` is the
// plane offset of r0. Selects over a straight loop so that it vectorises (bitwise | on
// purpose: || becomes a branch).
template <bool kIndex>
void max_pool_row_2x2(const float* r0, int64_t W, int64_t OW, int32_t base, float* out,
                      int32_t* idx) {
  const float* r1 = r0 + W;
  const int32_t w = static_cast<int32_t>(W);
  for (int64_t ow = 0; ow < OW; ++ow) {
    const float a = r0[2 * ow], b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1];
    const int32_t i = base + 2 * static_cast<int32_t>(ow);
    float best = a;
    int32_t at = i;
    bool t = (b > best) | (b != b);
    best = t ? b : best;
    at = t ? i + 1 : at;
    t = (c > best) | (c != c);
    best = t ? c : best;
    at = t ? i + w : at;
    t = (d > best) | (d != d);
    best = t ? d : best;
    at = t ? i + w + 1 : at;
    out[ow] = best;
    if constexpr (kIndex) idx[ow] = at;
  }
}

template <bool kIndex>
void max_pool_plane(const float* plane, const PoolGeom& g, float* out, int32_t* idx) {
  if (g.k == 2 && g.s == 2 && g.p == 0) {  // the common LeNet/VGG case
    for (int64_t oh = 0; oh < g.OH; ++oh)
      max_pool_row_2x2<kIndex>(plane + 2 * oh * g.W, g.W, g.OW, static_cast<int32_t>(2 * oh * g.W),
                               out + oh * g.OW, kIndex ? idx + oh * g.OW : nullptr);
    return;
  }
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    const int64_t h0 = std::max<int64_t>(oh * g.s - g.p, 0);
    const int64_t h1 = std::min(oh * g.s - g.p + g.k, g.H);
    for (int64_t ow = 0; ow < g.OW; ++ow) {
      const int64_t w0 = std::max<int64_t>(ow * g.s - g.p, 0);
      const int64_t w1 = std::min(ow * g.s - g.p + g.k, g.W);
      float best = -std::numeric_limits<float>::infinity();
      int32_t at = static_cast<int32_t>(h0 * g.W + w0);
      for (int64_t ih = h0; ih < h1; ++ih)
        for (int64_t iw = w0; iw < w1; ++iw) {
          const float v = plane[ih * g.W + iw];
          const bool t = (v > best) | (v != v);
          best = t ? v : best;
          at = t ? static_cast<int32_t>(ih * g.W + iw) : at;
        }
      out[oh * g.OW + ow] = best;
      if constexpr (kIndex) idx[oh * g.OW + ow] = at;
    }
  }
}

// Gradient of one plane: each output's gradient goes to its argmax cell. (A select-based
// 2×2 variant that writes every cell instead of fill + scatter measured slower: rows of
// 12 windows are too short to vectorise.)
void max_pool_plane_backward(const float* go, const int32_t* idx, const PoolGeom& g, float* plane) {
  std::fill(plane, plane + g.H * g.W, 0.f);
  for (int64_t o = 0; o < g.OH * g.OW; ++o) plane[idx[o]] += go[o];
}

}  // namespace

Var max_pool2d(const Var& x, int64_t kernel, int64_t stride, int64_t padding) {
  const PoolGeom g = pool_geom(x, kernel, stride, padding, "max_pool2d");
  LB_CHECK(g.H * g.W < (int64_t{1} << 31), "max_pool2d: input plane ", g.H, "x", g.W, " too large");
  Tensor y = Tensor::empty(out_shape(x, g));
  const bool keep_index = grad_enabled() && x.requires_grad();
  // Argmax per output as an offset inside its input plane (fits int32, checked above).
  auto index =
      keep_index
          ? std::make_shared<std::vector<int32_t>>(static_cast<size_t>(g.planes * g.OH * g.OW))
          : nullptr;
  const float* xp = x.data().data();
  float* yp = y.data();
  int32_t* ip = index ? index->data() : nullptr;
  for_each_plane(g, [&](int64_t q) {
    const float* plane = xp + q * g.H * g.W;
    float* out = yp + q * g.OH * g.OW;
    if (ip)
      max_pool_plane<true>(plane, g, out, ip + q * g.OH * g.OW);
    else
      max_pool_plane<false>(plane, g, out, nullptr);
  });
  const Shape x_shape = x.shape();
  return make_result(y, {x}, "max_pool2d", [index, g, x_shape](const Tensor& gy, GradInputs& in) {
    Tensor gx = Tensor::empty(x_shape);
    const float* gp = gy.data();
    float* gxp = gx.data();
    const int32_t* argmax = index->data();
    for_each_plane(g, [&](int64_t q) {
      max_pool_plane_backward(gp + q * g.OH * g.OW, argmax + q * g.OH * g.OW, g,
                              gxp + q * g.H * g.W);
    });
    in.add(0, gx);
  });
}

Var avg_pool2d(const Var& x, int64_t kernel, int64_t stride, int64_t padding) {
  const PoolGeom g = pool_geom(x, kernel, stride, padding, "avg_pool2d");
  Tensor y = Tensor::empty(out_shape(x, g));
  // count_include_pad: the divisor is always k², since windows never reach past the padding.
  const float scale = 1.f / static_cast<float>(g.k * g.k);
  const float* xp = x.data().data();
  float* yp = y.data();
  for_each_plane(g, [&](int64_t q) {
    const float* plane = xp + q * g.H * g.W;
    float* out = yp + q * g.OH * g.OW;
    for (int64_t oh = 0; oh < g.OH; ++oh) {
      const int64_t h0 = std::max<int64_t>(oh * g.s - g.p, 0);
      const int64_t h1 = std::min(oh * g.s - g.p + g.k, g.H);
      for (int64_t ow = 0; ow < g.OW; ++ow) {
        const int64_t w0 = std::max<int64_t>(ow * g.s - g.p, 0);
        const int64_t w1 = std::min(ow * g.s - g.p + g.k, g.W);
        float acc = 0.f;
        for (int64_t ih = h0; ih < h1; ++ih)
          for (int64_t iw = w0; iw < w1; ++iw) acc += plane[ih * g.W + iw];
        out[oh * g.OW + ow] = acc * scale;
      }
    }
  });
  const Shape x_shape = x.shape();
  return make_result(y, {x}, "avg_pool2d", [g, x_shape, scale](const Tensor& gy, GradInputs& in) {
    Tensor gx = Tensor::empty(x_shape);
    const float* gp = gy.data();
    float* gxp = gx.data();
    for_each_plane(g, [&](int64_t q) {
      float* plane = gxp + q * g.H * g.W;
      std::fill(plane, plane + g.H * g.W, 0.f);
      const float* go = gp + q * g.OH * g.OW;
      for (int64_t oh = 0; oh < g.OH; ++oh) {
        const int64_t h0 = std::max<int64_t>(oh * g.s - g.p, 0);
        const int64_t h1 = std::min(oh * g.s - g.p + g.k, g.H);
        for (int64_t ow = 0; ow < g.OW; ++ow) {
          const int64_t w0 = std::max<int64_t>(ow * g.s - g.p, 0);
          const int64_t w1 = std::min(ow * g.s - g.p + g.k, g.W);
          const float v = go[oh * g.OW + ow] * scale;
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) plane[ih * g.W + iw] += v;
        }
      }
    });
    in.add(0, gx);
  });
}

}  // namespace lowbit
