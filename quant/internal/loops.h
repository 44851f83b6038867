#pragma once
// Private: the elementwise and per-filter loops shared by the quantizer functions.
//
//   map(x, f)              y[i] = f(x[i])
//   zip(a, b, f)           y[i] = f(a[i], b[i])             (same numel; backward masks)
//   filters(x)             (F, n): x viewed as F output filters of n values each
//
// Functors are lambdas passed by template parameter, so they inline into the loop (no
// std::function per element); loops split across threads with kernels::parallel_for.
#include <cmath>
#include <cstdint>

#include "core/check.h"
#include "core/kernels/parallel.h"
#include "core/tensor.h"
#include "core/var.h"

namespace lowbit::detail {

template <class F>
Tensor map(const Tensor& x, F f) {
  Tensor y = Tensor::empty(x.shape());
  const float* src = x.data();
  float* dst = y.data();
  kernels::parallel_for(x.numel(), [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) dst[i] = f(src[i]);
  });
  return y;
}

template <class F>
Tensor zip(const Tensor& a, const Tensor& b, F f) {
  LB_ASSERT(a.numel() == b.numel());
  Tensor y = Tensor::empty(a.shape());
  const float* pa = a.data();
  const float* pb = b.data();
  float* dst = y.data();
  kernels::parallel_for(a.numel(), [&](int64_t lo, int64_t hi) {
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i) dst[i] = f(pa[i], pb[i]);
  });
  return y;
}

/// A weight seen as F output filters (dimension 0) of n values; a 0-d or 1-element tensor
/// is one filter. per_filter = false: the whole tensor is one filter.
struct Filters {
  int64_t count;
  int64_t size;
};
inline Filters filters(const Tensor& w, bool per_filter) {
  if (!per_filter || w.dim() == 0 || w.numel() == 0) return {1, w.numel()};
  return {w.size(0), w.numel() / w.size(0)};
}

/// The clipped straight-through backward shared by the sign-like quantizers:
/// dL/dx = g·1{|x| ≤ clip} (clip = kNoClip = +inf: plain STE). Captures the input only.
inline BackwardFn clipped_ste(Tensor x, float clip) {
  return [x, clip](const Tensor& g, GradInputs& in) {
    in.add(0, zip(g, x, [clip](float gi, float xi) { return std::fabs(xi) <= clip ? gi : 0.f; }));
  };
}

}  // namespace lowbit::detail
