// Reductions. An axis reduction views x as (O, K, I): O = product of the dimensions before
// `axis`, K = x.shape[axis], I = product of those after it; the output is (O, I).
#include <cmath>
#include <limits>
#include <vector>

#include "core/check.h"
#include "core/map.h"
#include "core/ops.h"

namespace lowbit {

namespace {

struct AxisView {
  int64_t O = 1, K = 1, I = 1;
  int64_t axis = 0;
  Shape out;   // reduced shape (keepdim or not)
  Shape keep;  // reduced shape with the axis kept as 1 (for broadcasting back)
};

AxisView axis_view(const Shape& s, int64_t axis, bool keepdim, const char* op) {
  const int64_t nd = static_cast<int64_t>(s.size());
  LB_CHECK(nd > 0, op, ": cannot reduce a 0-d tensor along axis ", axis,
           "; use the all-elements form");
  LB_CHECK(axis >= -nd && axis < nd, op, ": axis ", axis, " out of range for shape ", s,
           " (valid: ", -nd, " to ", nd - 1, ")");
  AxisView v;
  v.axis = axis < 0 ? axis + nd : axis;
  for (int64_t d = 0; d < nd; ++d) {
    if (d < v.axis) v.O *= s[d];
    if (d > v.axis) v.I *= s[d];
  }
  v.K = s[static_cast<size_t>(v.axis)];
  v.keep = s;
  v.keep[static_cast<size_t>(v.axis)] = 1;
  v.out = v.keep;
  if (!keepdim) v.out.erase(v.out.begin() + v.axis);
  return v;
}

Tensor sum_axis(const Tensor& x, const AxisView& v, float scale) {
  Tensor out = Tensor::empty(v.out);
  kernels::sum_axis_n(x.data(), v.O, v.K, v.I, out.data(), scale);
  return out;
}

/// Σ of all elements. Fixed-size blocks summed in float (vectorised), blocks combined in
/// double: the result does not depend on the thread count.
float sum_all(const Tensor& x) {
  constexpr int64_t kBlock = 1 << 14;
  const float* p = x.data();
  const int64_t n = x.numel();
  const int64_t nb = (n + kBlock - 1) / kBlock;
  std::vector<double> partial(static_cast<size_t>(nb), 0.0);
  kernels::parallel_for(
      nb,
      [&](int64_t b0, int64_t b1) {
        for (int64_t blk = b0; blk < b1; ++blk) {
          const int64_t b = blk * kBlock, e = std::min(n, b + kBlock);
          partial[static_cast<size_t>(blk)] = kernels::sum_n(p + b, e - b);
        }
      },
      kBlock);
  double total = 0.0;
  for (double s : partial) total += s;
  return static_cast<float>(total);
}

}  // namespace

Var sum(const Var& x) {
  return make_result(Tensor::scalar(sum_all(x.data())), {x}, "sum",
                     [](const Tensor& g, GradInputs& in) {
                       in.add(0, Tensor::full(in.input_shape(0), g.item()));
                     });
}

Var sum(const Var& x, int64_t axis, bool keepdim) {
  const AxisView v = axis_view(x.shape(), axis, keepdim, "sum");
  const Shape keep = v.keep;
  return make_result(sum_axis(x.data(), v, 1.f), {x}, "sum",
                     [keep](const Tensor& g, GradInputs& in) {
                       in.add(0, kernels::expand(g.reshape(keep), in.input_shape(0)));
                     });
}

Var mean(const Var& x) {
  LB_CHECK(x.numel() > 0, "mean: empty tensor of shape ", x.shape());
  const float inv = 1.f / static_cast<float>(x.numel());
  return make_result(Tensor::scalar(sum_all(x.data()) * inv), {x}, "mean",
                     [inv](const Tensor& g, GradInputs& in) {
                       in.add(0, Tensor::full(in.input_shape(0), g.item() * inv));
                     });
}

Var mean(const Var& x, int64_t axis, bool keepdim) {
  const AxisView v = axis_view(x.shape(), axis, keepdim, "mean");
  LB_CHECK(v.K > 0, "mean: axis ", axis, " of shape ", x.shape(), " is empty");
  const float inv = 1.f / static_cast<float>(v.K);
  const Shape keep = v.keep;
  return make_result(sum_axis(x.data(), v, inv), {x}, "mean",
                     [keep, inv](const Tensor& g, GradInputs& in) {
                       in.add(0, kernels::expand(g.reshape(keep), in.input_shape(0), inv));
                     });
}

Var max(const Var& x, int64_t axis, bool keepdim) {
  const AxisView v = axis_view(x.shape(), axis, keepdim, "max");
  LB_CHECK(v.K > 0, "max: axis ", axis, " of shape ", x.shape(), " is empty");
  LB_CHECK(v.K <= (int64_t{1} << 24), "max: axis of size ", v.K,
           " too long (argmax is stored as float, exact up to 2^24)");
  Tensor out = Tensor::empty(v.out);
  Tensor arg = Tensor::empty(v.out);  // index of the first maximum along the axis, as float
  const float* px = x.data().data();
  float* po = out.data();
  float* pa = arg.data();
  const int64_t K = v.K, I = v.I;
  kernels::for_each_lane(v.O, I, K, [=](int64_t o, int64_t i0, int64_t i1) {
    const float* src = px + o * K * I;
    if (I == 1) {
      // Contiguous row: vectorised max (NaN noted separately), then the first index holding
      // it; a NaN anywhere wins, as in PyTorch.
      const float m = kernels::max_n(src, K);
      bool nan = false;
#pragma omp simd reduction(|| : nan)
      for (int64_t k = 0; k < K; ++k) nan = nan || src[k] != src[k];
      int64_t k = 0;
      if (nan)
        while (src[k] == src[k]) ++k;
      else
        while (src[k] != m) ++k;
      po[o] = src[k];
      pa[o] = static_cast<float>(k);
      return;
    }
    for (int64_t i = i0; i < i1; ++i) {
      po[o * I + i] = src[i];
      pa[o * I + i] = 0.f;
    }
    for (int64_t k = 1; k < K; ++k) {
      const float* row = src + k * I;
      const float kf = static_cast<float>(k);
      // Strict > keeps the first maximum; a NaN wins once and then sticks (as PyTorch).
#pragma omp simd
      for (int64_t i = i0; i < i1; ++i) {
        const float cur = po[o * I + i];
        const bool take = row[i] > cur || (row[i] != row[i] && cur == cur);
        po[o * I + i] = take ? row[i] : cur;
        pa[o * I + i] = take ? kf : pa[o * I + i];
      }
    }
  });
  const int64_t O = v.O;
  return make_result(out, {x}, "max", [arg, O, K, I](const Tensor& g, GradInputs& in) {
    Tensor gx = Tensor::zeros(in.input_shape(0));
    const float* pg = g.data();
    const float* pi = arg.data();
    float* pgx = gx.data();
    kernels::parallel_for(O * I, [=](int64_t b, int64_t e) {
      for (int64_t j = b; j < e; ++j) {
        const int64_t o = j / I, i = j % I;
        pgx[(o * K + static_cast<int64_t>(pi[j])) * I + i] = pg[j];
      }
    });
    in.add(0, gx);
  });
}

}  // namespace lowbit
