#include <algorithm>

#include "core/check.h"
#include "core/kernels/gemm.h"
#include "core/parallel.h"
#include "core/ops.h"

// Legend: M, K, N matrix sizes (a: M×K, b: K×N); for linear, R rows of x, I = in, O = out.

namespace lowbit {

namespace {

using kernels::Trans;

/// C(M, N) = op(A)·op(B) (+ C when accumulate), K = 0 included.
void gemm_into(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, const float* A, const float* B,
               bool accumulate, float* C) {
  if (K == 0) {
    if (!accumulate) std::fill(C, C + M * N, 0.f);
    return;
  }
  kernels::sgemm(ta, tb, M, N, K, 1.f, A, B, accumulate ? 1.f : 0.f, C);
}

/// out(O) = Σ over the R rows of g(R, O): the bias gradient.
Tensor column_sums(const Tensor& g, int64_t R, int64_t O) {
  Tensor out = Tensor::empty({O});
  const float* gp = g.data();
  float* op = out.data();
  kernels::parallel_for(
      O,
      [=](int64_t o0, int64_t o1) {
        std::fill(op + o0, op + o1, 0.f);
        for (int64_t r = 0; r < R; ++r) {
          const float* row = gp + r * O;
          for (int64_t o = o0; o < o1; ++o) op[o] += row[o];
        }
      },
      R);
  return out;
}

}  // namespace

Var matmul(const Var& a, const Var& b) {
  LB_CHECK(a.defined() && b.defined() && a.dim() == 2 && b.dim() == 2 && a.size(1) == b.size(0),
           "matmul: expected (M, K)·(K, N), got ", a.shape(), " and ", b.shape());
  const Tensor ad = a.data(), bd = b.data();
  const int64_t M = a.size(0), K = a.size(1), N = b.size(1);
  Tensor c = Tensor::empty({M, N});
  gemm_into(Trans::No, Trans::No, M, N, K, ad.data(), bd.data(), false, c.data());
  return make_result(c, {a, b}, "matmul", [ad, bd, M, K, N](const Tensor& g, GradInputs& in) {
    if (in.needs(0)) {  // g·bᵀ: (M, N)·(N, K)
      Tensor ga = Tensor::empty({M, K});
      gemm_into(Trans::No, Trans::Yes, M, K, N, g.data(), bd.data(), false, ga.data());
      in.add(0, ga);
    }
    if (in.needs(1)) {  // aᵀ·g: (K, M)·(M, N)
      Tensor gb = Tensor::empty({K, N});
      gemm_into(Trans::Yes, Trans::No, K, N, M, ad.data(), g.data(), false, gb.data());
      in.add(1, gb);
    }
  });
}

Var linear(const Var& x, const Var& w, const Var& b) {
  LB_CHECK(x.defined() && w.defined() && x.dim() >= 2 && w.dim() == 2 && x.size(-1) == w.size(1),
           "linear: input ", x.shape(), " does not fit weight ", w.shape(),
           "; expected input (N, in) and weight (out, in)");
  LB_CHECK(!b.defined() || (b.dim() == 1 && b.size(0) == w.size(0)), "linear: bias ", b.shape(),
           " does not match weight ", w.shape(), "; expected bias (", w.size(0), ")");
  const Tensor xd = x.data(), wd = w.data();
  const int64_t I = w.size(1), O = w.size(0);
  const int64_t R = shape_numel(Shape(x.shape().begin(), x.shape().end() - 1));  // rows of x
  Shape out_shape = x.shape();
  out_shape.back() = O;
  Tensor y = Tensor::empty(out_shape);
  if (b.defined()) {
    const float* bp = b.data().data();
    for (int64_t r = 0; r < R; ++r) std::copy(bp, bp + O, y.data() + r * O);
  }
  // x·wᵀ through the transpose flag: w stays in its (out, in) layout.
  gemm_into(Trans::No, Trans::Yes, R, O, I, xd.data(), wd.data(), b.defined(), y.data());

  const bool has_bias = b.defined();
  std::vector<Var> inputs{x, w};
  if (has_bias) inputs.push_back(b);
  return make_result(
      y, inputs, "linear", [xd, wd, R, I, O, has_bias](const Tensor& g, GradInputs& in) {
        if (in.needs(0)) {  // g·w: (R, O)·(O, I)
          Tensor gx = Tensor::empty(xd.shape());
          gemm_into(Trans::No, Trans::No, R, I, O, g.data(), wd.data(), false, gx.data());
          in.add(0, gx);
        }
        if (in.needs(1)) {  // gᵀ·x: (O, R)·(R, I)
          Tensor gw = Tensor::empty({O, I});
          gemm_into(Trans::Yes, Trans::No, O, I, R, g.data(), xd.data(), false, gw.data());
          in.add(1, gw);
        }
        if (has_bias && in.needs(2)) in.add(2, column_sums(g, R, O));
      });
}

}  // namespace lowbit
