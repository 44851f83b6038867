#pragma once
// Public: the elementwise loops shared by the math ops, quantizers and optimizers.
//
//   map<Fn>(x)               y[i] = Fn::f(x[i])                 (unary ops, one functor each)
//   map(x, f)                y[i] = f(x[i])                     (ops with parameters: pow, clamp)
//   zip(a, b, f)             y[i] = f(a[i], b[i])               (same numel; backward formulas)
//   broadcast_zip(a, b, f)   numpy-broadcast binary op          (add, sub, mul, div)
//   expand(g, shape, s)      broadcast s·g up to shape          (backward of reductions)
//   unbroadcast(g, shape)    sum g down to shape                (backward of binary ops)
//   sum_axis_n, for_each_lane                                   (axis reductions)
//
// Every loop runs over contiguous float buffers, is marked `omp simd` so the functor inlines
// into a vector loop, and splits across threads with parallel_for above kParallelGrain.
// Functors are plain structs with static members (ggml's unary_op<op_sqr> pattern): no
// virtual call or std::function per element.
//
// exp/tanh/sigmoid use the polynomial approximations below instead of std::exp/std::tanh:
// without -ffast-math, glibc's vector math (libmvec) is not used, so a libm call per element
// would keep these loops scalar.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/parallel.h"
#include "core/tensor.h"

namespace lowbit::kernels {

// ---- vectorisable scalar math

/// min(max(x, lo), hi) that keeps NaN (std::fmin/fmax would drop it, and are libm calls that
/// block vectorisation without -ffast-math).
inline float clamp_nan(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

/// eˣ with ~1 ulp error (Cephes expf: range reduction x = n·ln2 + r, degree-6 polynomial in r,
/// 2ⁿ built from exponent bits). 2ⁿ is applied as two factors 2^(n/2)·2^(n−n/2) so that both
/// overflow to inf (x > 88.72) and gradual underflow (x < −87.3) come out right.
inline float fast_exp(float x) {
  const float xc = clamp_nan(x, -104.f, 89.f);
  // n = round(x·log2 e) by the 1.5·2²³ trick: std::floor would block vectorisation (GCC keeps
  // it a libm call without -fno-trapping-math).
  const float fn = (xc * 1.44269504088896341f + 12582912.f) - 12582912.f;
  float r = xc - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  const float r2 = r * r;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r2 + r + 1.f;
  const int32_t n = static_cast<int32_t>(fn);
  const int32_t n1 = n >> 1;
  const float s1 = std::bit_cast<float>((n1 + 127) << 23);
  const float s2 = std::bit_cast<float>((n - n1 + 127) << 23);
  const float y = p * s1 * s2;
  return x != x ? x : y;  // NaN in, NaN out (the clamp kept it, the int conversion did not)
}

/// tanh x as an odd 13/6 rational minimax approximation (Eigen's ptanh_float; the same
/// constants as onnxruntime MLAS). Odd in x, so small x keeps full relative accuracy, unlike
/// 1 − 2/(e²ˣ + 1). Saturates to ±1 beyond |x| = 7.9053 where float tanh rounds to ±1.
inline float fast_tanh(float x) {
  const float c = clamp_nan(x, -7.90531110763549805f, 7.90531110763549805f);
  const float c2 = c * c;
  float p = -2.76076847742355e-16f;
  p = p * c2 + 2.00018790482477e-13f;
  p = p * c2 + -8.60467152213735e-11f;
  p = p * c2 + 5.12229709037114e-08f;
  p = p * c2 + 1.48572235717979e-05f;
  p = p * c2 + 6.37261928875436e-04f;
  p = p * c2 + 4.89352455891786e-03f;
  float q = 1.19825839466702e-06f;
  q = q * c2 + 1.18534705686654e-04f;
  q = q * c2 + 2.26843463243900e-03f;
  q = q * c2 + 4.89352518554385e-03f;
  return c * p / q;
}

/// 1/(1 + e⁻ˣ).
inline float fast_sigmoid(float x) { return 1.f / (1.f + fast_exp(-x)); }

// ---- raw loops over contiguous buffers

/// y[i] = f(x[i]) for i in [0, n). x and y may be the same buffer.
template <class F>
void map_n(int64_t n, const float* x, float* y, F f) {
  parallel_for(n, [=](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) y[i] = f(x[i]);
  });
}

/// y[i] = f(a[i], b[i]) for i in [0, n).
template <class F>
void zip_n(int64_t n, const float* a, const float* b, float* y, F f) {
  parallel_for(n, [=](int64_t i0, int64_t i1) {
#pragma omp simd
    for (int64_t i = i0; i < i1; ++i) y[i] = f(a[i], b[i]);
  });
}

/// y[i] = f(a[i], b[i], c[i]) for i in [0, n).
template <class F>
void zip3_n(int64_t n, const float* a, const float* b, const float* c, float* y, F f) {
  parallel_for(n, [=](int64_t i0, int64_t i1) {
#pragma omp simd
    for (int64_t i = i0; i < i1; ++i) y[i] = f(a[i], b[i], c[i]);
  });
}

// ---- tensor forms

template <class F>
Tensor map(const Tensor& x, F f) {
  Tensor y = Tensor::empty(x.shape());
  map_n(x.numel(), x.data(), y.data(), f);
  return y;
}

/// Unary op through a functor with `static float f(float)`.
template <class Fn>
Tensor map(const Tensor& x) {
  return map(x, [](float v) { return Fn::f(v); });
}

/// Same-numel binary loop; the result takes a's shape.
template <class F>
Tensor zip(const Tensor& a, const Tensor& b, F f) {
  Tensor y = Tensor::empty(a.shape());
  zip_n(a.numel(), a.data(), b.data(), y.data(), f);
  return y;
}

/// Backward of a unary op whose derivative is cheapest from its output: g · Fn::df_from_y(y).
template <class Fn>
Tensor grad_from_y(const Tensor& g, const Tensor& y) {
  return zip(g, y, [](float gv, float yv) { return gv * Fn::df_from_y(yv); });
}

/// Backward of a unary op whose derivative needs its input: g · Fn::df(x).
template <class Fn>
Tensor grad_from_x(const Tensor& g, const Tensor& x) {
  return zip(g, x, [](float gv, float xv) { return gv * Fn::df(xv); });
}

/// Σ p[0..n) with 64 independent lanes (four AVX-512 or eight AVX2 accumulators), so the
/// loop is bound by loads rather than by the latency of one vector add chain. The lane
/// partials are added pairwise, which also keeps the rounding error low.
inline float sum_n(const float* p, int64_t n) {
  constexpr int kW = 64;
  float acc[kW] = {};
  int64_t i = 0;
  for (; i + kW <= n; i += kW) {
#pragma omp simd
    for (int j = 0; j < kW; ++j) acc[j] += p[i + j];
  }
  for (int j = 0; i < n; ++i, ++j) acc[j] += p[i];
  for (int w = kW / 2; w > 0; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  return acc[0];
}

/// max p[0..n) over 64 lanes (see sum_n), ignoring NaN; −inf for n = 0.
inline float max_n(const float* p, int64_t n) {
  constexpr int kW = 64;
  float acc[kW];
  for (int j = 0; j < kW; ++j) acc[j] = -INFINITY;
  int64_t i = 0;
  for (; i + kW <= n; i += kW) {
#pragma omp simd
    for (int j = 0; j < kW; ++j) acc[j] = p[i + j] > acc[j] ? p[i + j] : acc[j];
  }
  for (int j = 0; i < n; ++i, ++j) acc[j] = p[i] > acc[j] ? p[i] : acc[j];
  for (int w = kW / 2; w > 0; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] = acc[j + w] > acc[j] ? acc[j + w] : acc[j];
  return acc[0];
}

/// Axis loops. With x viewed as (O, K, I) around a reduction axis, calls fn(o, i0, i1) over
/// disjoint lane ranges covering all O·I (o, i) pairs, in parallel when O·I·cost is large.
/// Inside, the kernel loops over k and runs contiguous over i (or, when I = 1, contiguous
/// over k).
template <class Fn>
void for_each_lane(int64_t O, int64_t I, int64_t cost, Fn&& fn) {
  parallel_for(
      O * I,
      [&](int64_t b, int64_t e) {
        while (b < e) {
          const int64_t o = b / I, i0 = b % I, i1 = std::min(I, i0 + (e - b));
          fn(o, i0, i1);
          b += i1 - i0;
        }
      },
      cost);
}

/// out(O, I) = scale · Σ_k x(O, k, I). Parallel over output lanes; the k loop runs over
/// contiguous rows of I (vectorised adds) or, when I = 1, as a contiguous vector reduction.
inline void sum_axis_n(const float* x, int64_t O, int64_t K, int64_t I, float* out, float scale) {
  for_each_lane(O, I, K, [=](int64_t o, int64_t i0, int64_t i1) {
    const float* src = x + o * K * I;
    float* dst = out + o * I;
    if (I == 1) {
      dst[0] = sum_n(src, K) * scale;
      return;
    }
    for (int64_t i = i0; i < i1; ++i) dst[i] = 0.f;
    for (int64_t k = 0; k < K; ++k) {
      const float* row = src + k * I;
#pragma omp simd
      for (int64_t i = i0; i < i1; ++i) dst[i] += row[i];
    }
    if (scale != 1.f)
      for (int64_t i = i0; i < i1; ++i) dst[i] *= scale;
  });
}

/// Sums g over its broadcast dimensions down to `shape` (which must broadcast to g.shape()):
/// the un-broadcasting step of binary-op backward passes (a parallel lowbit::sum_to).
/// Dimensions are merged into alternating kept/reduced runs, e.g. (N,C,H,W) -> (1,C,1,1) is
/// (N | C | H·W), and each reduced run is one parallel, vectorised axis sum.
inline Tensor unbroadcast(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  const Shape& gs = g.shape();
  const size_t n = gs.size();
  // Collapse into runs of (extent, reduced?) from outer to inner, skipping size-1 dims of g.
  std::vector<std::pair<int64_t, bool>> runs;
  for (size_t d = 0; d < n; ++d) {
    if (gs[d] == 1) continue;
    const size_t off = n - shape.size();
    const bool reduced = d < off || shape[d - off] == 1;
    if (!runs.empty() && runs.back().second == reduced)
      runs.back().first *= gs[d];
    else
      runs.push_back({gs[d], reduced});
  }
  Tensor cur = g;
  // Reduce the innermost reduced run first; each pass shrinks the buffer.
  for (size_t r = runs.size(); r-- > 0;) {
    if (!runs[r].second) continue;
    int64_t O = 1, I = 1;
    for (size_t j = 0; j < r; ++j) O *= runs[j].first;
    for (size_t j = r + 1; j < runs.size(); ++j) I *= runs[j].first;
    Tensor next = Tensor::empty({O * I});
    sum_axis_n(cur.data(), O, runs[r].first, I, next.data(), 1.f);
    cur = next;
    runs[r].first = 1;
  }
  return cur.reshape(shape);
}

// ---- broadcasting

/// Strided iteration plan for a broadcast binary op. Dimensions of size 1 in the output are
/// dropped and neighbouring dimensions that are contiguous in both operands (or broadcast in
/// both) are merged, so (N,C,H,W)+(1,C,1,1) becomes (N, C, H·W) with b strides (0, 1, 0) and
/// (N,C)+(C) becomes (N, C) with b strides (0, 1): the innermost loop always has unit or zero
/// stride in each operand and vectorises.
struct BroadcastPlan {
  std::vector<int64_t> shape, sa, sb;  // outer to inner; sa/sb are element strides (0 = broadcast)
};

inline BroadcastPlan plan_broadcast(const Shape& a, const Shape& b, const Shape& out) {
  const size_t n = out.size();
  auto strides = [n, &out](const Shape& s) {
    std::vector<int64_t> st(n, 0);
    int64_t acc = 1;
    for (size_t k = 0; k < s.size(); ++k) {
      const size_t d = s.size() - 1 - k, od = n - 1 - k;
      st[od] = (s[d] == 1 && out[od] != 1) ? 0 : acc;
      acc *= s[d];
    }
    return st;
  };
  const std::vector<int64_t> sa = strides(a), sb = strides(b);
  BroadcastPlan p;
  for (size_t d = 0; d < n; ++d) {
    if (out[d] == 1) continue;
    if (!p.shape.empty()) {
      // Merge with the previous (outer) dimension when that one steps by exactly our extent.
      const int64_t sz = out[d];
      if (p.sa.back() == sa[d] * sz && p.sb.back() == sb[d] * sz) {
        p.shape.back() *= sz;
        p.sa.back() = sa[d];
        p.sb.back() = sb[d];
        continue;
      }
    }
    p.shape.push_back(out[d]);
    p.sa.push_back(sa[d]);
    p.sb.push_back(sb[d]);
  }
  if (p.shape.empty()) p = {{1}, {1}, {1}};
  return p;
}

/// out = f(a, b) with numpy broadcasting; `out_shape` must be broadcast_shapes(a, b).
/// Fast paths: same shape; scalar on either side; everything else (row vectors, per-channel
/// (1,C,1,1), outer products) through the merged BroadcastPlan.
template <class F>
Tensor broadcast_zip(const Tensor& a, const Tensor& b, const Shape& out_shape, F f) {
  Tensor out = Tensor::empty(out_shape);
  const int64_t n = out.numel();
  const float* pa = a.data();
  const float* pb = b.data();
  float* po = out.data();
  if (n == 0) return out;
  if (a.numel() == n && b.numel() == n) {
    zip_n(n, pa, pb, po, f);
    return out;
  }
  if (b.numel() == 1 && a.numel() == n) {
    const float bv = pb[0];
    map_n(n, pa, po, [=](float x) { return f(x, bv); });
    return out;
  }
  if (a.numel() == 1 && b.numel() == n) {
    const float av = pa[0];
    map_n(n, pb, po, [=](float x) { return f(av, x); });
    return out;
  }
  const BroadcastPlan p = plan_broadcast(a.shape(), b.shape(), out_shape);
  const size_t nd = p.shape.size();
  const int64_t inner = p.shape.back(), ia = p.sa.back(), ib = p.sb.back();
  const int64_t rows = n / inner;
  parallel_for(
      rows,
      [&](int64_t r0, int64_t r1) {
        // Decode the multi-index of row r0, then step it like an odometer.
        std::vector<int64_t> idx(nd, 0);
        int64_t rem = r0, oa = 0, ob = 0;
        for (size_t d = nd - 1; d-- > 0;) {
          idx[d] = rem % p.shape[d];
          rem /= p.shape[d];
          oa += idx[d] * p.sa[d];
          ob += idx[d] * p.sb[d];
        }
        for (int64_t r = r0; r < r1; ++r) {
          const float* ra = pa + oa;
          const float* rb = pb + ob;
          float* ro = po + r * inner;
          if (ia == 1 && ib == 1) {
#pragma omp simd
            for (int64_t i = 0; i < inner; ++i) ro[i] = f(ra[i], rb[i]);
          } else if (ia == 1) {
            const float bv = rb[0];
#pragma omp simd
            for (int64_t i = 0; i < inner; ++i) ro[i] = f(ra[i], bv);
          } else if (ib == 1) {
            const float av = ra[0];
#pragma omp simd
            for (int64_t i = 0; i < inner; ++i) ro[i] = f(av, rb[i]);
          } else {
            for (int64_t i = 0; i < inner; ++i) ro[i] = f(ra[i * ia], rb[i * ib]);
          }
          for (size_t d = nd - 1; d-- > 0;) {
            ++idx[d];
            oa += p.sa[d];
            ob += p.sb[d];
            if (idx[d] < p.shape[d]) break;
            oa -= idx[d] * p.sa[d];
            ob -= idx[d] * p.sb[d];
            idx[d] = 0;
          }
        }
      },
      inner);
  return out;
}

/// Broadcasts scale·g up to `shape` (g.shape() must broadcast to it): the backward of
/// reductions.
inline Tensor expand(const Tensor& g, const Shape& shape, float scale = 1.f) {
  if (g.shape() == shape && scale == 1.f) return g;
  if (g.numel() == 1) return Tensor::full(shape, g.data()[0] * scale);
  return broadcast_zip(g, g, shape, [scale](float x, float) { return x * scale; });
}

}  // namespace lowbit::kernels
