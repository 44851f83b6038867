// Activations. Softmax-type ops view x as (O, K, I) around the axis (K = x.shape[axis]); the
// common last-axis case (I = 1) runs contiguous rows.
#include <cmath>
#include <limits>
#include <vector>

#include "core/check.h"
#include "core/map.h"
#include "core/ops.h"

namespace lowbit {

namespace {

struct TanhFn {
  static float f(float x) { return kernels::fast_tanh(x); }
  static float df_from_y(float y) { return 1.f - y * y; }
};
struct SigmoidFn {
  static float f(float x) { return kernels::fast_sigmoid(x); }
  static float df_from_y(float y) { return y * (1.f - y); }
};

struct Axis3 {
  int64_t O = 1, K = 1, I = 1;
};

Axis3 axis3(const Shape& s, int64_t axis, const char* op) {
  const int64_t nd = static_cast<int64_t>(s.size());
  LB_CHECK(nd > 0 && axis >= -nd && axis < nd, op, ": axis ", axis, " out of range for shape ", s,
           nd ? "" : " (0-d tensor: reshape it to (1,) first)");
  const int64_t ax = axis < 0 ? axis + nd : axis;
  Axis3 a;
  for (int64_t d = 0; d < nd; ++d) {
    if (d < ax) a.O *= s[static_cast<size_t>(d)];
    if (d > ax) a.I *= s[static_cast<size_t>(d)];
  }
  a.K = s[static_cast<size_t>(ax)];
  return a;
}

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

/// Softmax (log_softmax when `log`) of one contiguous row of K.
void softmax_row(const float* x, float* y, int64_t K, bool log) {
  const float m = kernels::max_n(x, K);
  float s = 0.f;
  if (log) {
#pragma omp simd reduction(+ : s)
    for (int64_t k = 0; k < K; ++k) s += kernels::fast_exp(x[k] - m);
    const float shift = m + std::log(s);
#pragma omp simd
    for (int64_t k = 0; k < K; ++k) y[k] = x[k] - shift;
  } else {
#pragma omp simd reduction(+ : s)
    for (int64_t k = 0; k < K; ++k) {
      const float e = kernels::fast_exp(x[k] - m);
      y[k] = e;
      s += e;
    }
    const float inv = 1.f / s;
#pragma omp simd
    for (int64_t k = 0; k < K; ++k) y[k] *= inv;
  }
}

/// Softmax (log_softmax when `log`) over k of lanes [i0, i1) of x(K, I) at base pointers.
void softmax_lanes(const float* x, float* y, int64_t K, int64_t I, int64_t i0, int64_t i1,
                   bool log) {
  const int64_t L = i1 - i0;
  std::vector<float> m(static_cast<size_t>(L), kNegInf), s(static_cast<size_t>(L), 0.f);
  float* pm = m.data();
  float* ps = s.data();
  for (int64_t k = 0; k < K; ++k) {
    const float* row = x + k * I + i0;
#pragma omp simd
    for (int64_t i = 0; i < L; ++i) pm[i] = row[i] > pm[i] ? row[i] : pm[i];
  }
  for (int64_t k = 0; k < K; ++k) {
    const float* row = x + k * I + i0;
    float* out = y + k * I + i0;
#pragma omp simd
    for (int64_t i = 0; i < L; ++i) {
      const float e = kernels::fast_exp(row[i] - pm[i]);
      if (!log) out[i] = e;
      ps[i] += e;
    }
  }
  for (int64_t i = 0; i < L; ++i) ps[i] = log ? pm[i] + std::log(ps[i]) : 1.f / ps[i];
  for (int64_t k = 0; k < K; ++k) {
    const float* row = x + k * I + i0;
    float* out = y + k * I + i0;
    if (log) {
#pragma omp simd
      for (int64_t i = 0; i < L; ++i) out[i] = row[i] - ps[i];
    } else {
#pragma omp simd
      for (int64_t i = 0; i < L; ++i) out[i] *= ps[i];
    }
  }
}

Tensor softmax_forward(const Tensor& x, const Axis3& a, bool log) {
  Tensor y = Tensor::empty(x.shape());
  const float* px = x.data();
  float* py = y.data();
  const int64_t K = a.K, I = a.I;
  if (I == 1) {
    kernels::parallel_for(
        a.O,
        [=](int64_t o0, int64_t o1) {
          for (int64_t o = o0; o < o1; ++o) softmax_row(px + o * K, py + o * K, K, log);
        },
        K * 8);
  } else {
    kernels::for_each_lane(a.O, I, K * 8, [=](int64_t o, int64_t i0, int64_t i1) {
      softmax_lanes(px + o * K * I, py + o * K * I, K, I, i0, i1, log);
    });
  }
  return y;
}

/// dx = y ⊙ (g − Σ_k g⊙y)        (softmax, y = softmax output)
/// dx = g − exp(y) ⊙ Σ_k g       (log_softmax, y = log_softmax output)
Tensor softmax_backward(const Tensor& g, const Tensor& y, const Axis3& a, bool log) {
  Tensor dx = Tensor::empty(y.shape());
  const float* pg = g.data();
  const float* py = y.data();
  float* pd = dx.data();
  const int64_t K = a.K, I = a.I;
  kernels::for_each_lane(a.O, I, K * 6, [=](int64_t o, int64_t i0, int64_t i1) {
    const int64_t base = o * K * I;
    if (I == 1) {
      const float* gr = pg + base;
      const float* yr = py + base;
      float* dr = pd + base;
      float s = 0.f;
      if (log) {
#pragma omp simd reduction(+ : s)
        for (int64_t k = 0; k < K; ++k) s += gr[k];
#pragma omp simd
        for (int64_t k = 0; k < K; ++k) dr[k] = gr[k] - kernels::fast_exp(yr[k]) * s;
      } else {
#pragma omp simd reduction(+ : s)
        for (int64_t k = 0; k < K; ++k) s += gr[k] * yr[k];
#pragma omp simd
        for (int64_t k = 0; k < K; ++k) dr[k] = yr[k] * (gr[k] - s);
      }
      return;
    }
    const int64_t L = i1 - i0;
    std::vector<float> s(static_cast<size_t>(L), 0.f);
    float* ps = s.data();
    for (int64_t k = 0; k < K; ++k) {
      const float* gr = pg + base + k * I + i0;
      const float* yr = py + base + k * I + i0;
#pragma omp simd
      for (int64_t i = 0; i < L; ++i) ps[i] += log ? gr[i] : gr[i] * yr[i];
    }
    for (int64_t k = 0; k < K; ++k) {
      const float* gr = pg + base + k * I + i0;
      const float* yr = py + base + k * I + i0;
      float* dr = pd + base + k * I + i0;
      if (log) {
#pragma omp simd
        for (int64_t i = 0; i < L; ++i) dr[i] = gr[i] - kernels::fast_exp(yr[i]) * ps[i];
      } else {
#pragma omp simd
        for (int64_t i = 0; i < L; ++i) dr[i] = yr[i] * (gr[i] - ps[i]);
      }
    }
  });
  return dx;
}

}  // namespace

Var relu(const Var& x) {
  Tensor y = kernels::map(x.data(), [](float v) { return v < 0.f ? 0.f : v; });  // keeps NaN
  return make_result(y, {x}, "relu", [y](const Tensor& g, GradInputs& in) {
    in.add(0, kernels::zip(g, y, [](float gv, float yv) { return yv > 0.f ? gv : 0.f; }));
  });
}

Var hardtanh(const Var& x, float lo, float hi) {
  LB_CHECK(lo <= hi, "hardtanh: lo must be <= hi, got lo=", lo, " hi=", hi);
  const Tensor xd = x.data();
  return make_result(kernels::map(xd, [lo, hi](float v) { return kernels::clamp_nan(v, lo, hi); }),
                     {x}, "hardtanh", [xd, lo, hi](const Tensor& g, GradInputs& in) {
                       in.add(0, kernels::zip(g, xd, [lo, hi](float gv, float v) {
                                return (v >= lo && v <= hi) ? gv : 0.f;
                              }));
                     });
}

Var tanh(const Var& x) {
  Tensor y = kernels::map<TanhFn>(x.data());
  return make_result(y, {x}, "tanh", [y](const Tensor& g, GradInputs& in) {
    in.add(0, kernels::grad_from_y<TanhFn>(g, y));
  });
}

Var sigmoid(const Var& x) {
  Tensor y = kernels::map<SigmoidFn>(x.data());
  return make_result(y, {x}, "sigmoid", [y](const Tensor& g, GradInputs& in) {
    in.add(0, kernels::grad_from_y<SigmoidFn>(g, y));
  });
}

Var softmax(const Var& x, int64_t axis) {
  const Axis3 a = axis3(x.shape(), axis, "softmax");
  Tensor y = softmax_forward(x.data(), a, false);
  return make_result(y, {x}, "softmax", [y, a](const Tensor& g, GradInputs& in) {
    in.add(0, softmax_backward(g, y, a, false));
  });
}

Var log_softmax(const Var& x, int64_t axis) {
  const Axis3 a = axis3(x.shape(), axis, "log_softmax");
  Tensor y = softmax_forward(x.data(), a, true);
  return make_result(y, {x}, "log_softmax", [y, a](const Tensor& g, GradInputs& in) {
    in.add(0, softmax_backward(g, y, a, true));
  });
}

}  // namespace lowbit
