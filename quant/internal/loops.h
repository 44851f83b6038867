#pragma once
// Private: the per-filter view and the clipped STE shared by the quantizer functions, and
// core's elementwise loops under the names the quantizers use.
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
#include "core/map.h"
#include "core/tensor.h"
#include "core/var.h"

namespace lowbit::detail {

// The elementwise loops are core's public ones (core/map.h).
using kernels::map;
using kernels::zip;

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
/// dL/dx = g·1{|x| ≤ clip}. Captures the input only.
/// clip = kNoClip (+inf) is the plain STE, dL/dx = g: the gradient is handed on without a
/// pass over it (on BinaryConnect/BNN weights that pass read and wrote three weight-sized
/// buffers every step). The mask would differ only at a NaN input, whose gradient then
/// passes instead of being zeroed; the weight is NaN either way.
inline BackwardFn clipped_ste(Tensor x, float clip) {
  if (std::isinf(clip)) return [](const Tensor& g, GradInputs& in) { in.add(0, g); };
  return [x, clip](const Tensor& g, GradInputs& in) {
    in.add(0, zip(g, x, [clip](float gi, float xi) { return std::fabs(xi) <= clip ? gi : 0.f; }));
  };
}

}  // namespace lowbit::detail
