#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "core/check.h"
#include "core/parallel.h"
#include "core/ops.h"

// Legend: N rows (samples), C classes; logits and y are (N, C), targets (N).

namespace lowbit {

namespace {

/// Class indices of `targets`, validated against (N, C) logits of `op`.
std::shared_ptr<std::vector<int32_t>> class_indices(const Var& logits, const Tensor& targets,
                                                    const char* op) {
  LB_CHECK(logits.defined() && logits.dim() == 2 && logits.size(0) >= 1 && logits.size(1) >= 1, op,
           ": expected logits (N, C) with N, C >= 1, got shape ",
           logits.defined() ? logits.shape() : Shape{});
  LB_CHECK(targets.defined() && targets.dim() == 1 && targets.size(0) == logits.size(0), op,
           ": targets ", targets.defined() ? targets.shape() : Shape{}, " do not match logits ",
           logits.shape(), "; expected targets (", logits.size(0), ") of class indices");
  const int64_t N = logits.size(0), C = logits.size(1);
  auto idx = std::make_shared<std::vector<int32_t>>(static_cast<size_t>(N));
  const float* tp = targets.data();
  for (int64_t n = 0; n < N; ++n) {
    const float t = tp[n];
    LB_CHECK(t >= 0.f && t < static_cast<float>(C) && std::floor(t) == t, op, ": target ", t,
             " at index ", n, " is not a class index in [0, ", C, ")");
    (*idx)[static_cast<size_t>(n)] = static_cast<int32_t>(t);
  }
  return idx;
}

}  // namespace

Var cross_entropy(const Var& logits, const Tensor& targets) {
  const auto cls = class_indices(logits, targets, "cross_entropy");
  const int64_t N = logits.size(0), C = logits.size(1);
  const float* xp = logits.data().data();
  // Softmax rows are kept for the backward: d/dlogits = (softmax − onehot)/N.
  Tensor probs = Tensor::empty({N, C});
  std::vector<double> row_loss(static_cast<size_t>(N));
  {
    float* pp = probs.data();
    const int32_t* t = cls->data();
    double* lp = row_loss.data();
    kernels::parallel_for(
        N,
        [=](int64_t n0, int64_t n1) {
          for (int64_t n = n0; n < n1; ++n) {
            const float* row = xp + n * C;
            float* prow = pp + n * C;
            float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
            for (int64_t c = 0; c < C; ++c) m = std::max(m, row[c]);
            float s = 0.f;
            for (int64_t c = 0; c < C; ++c) {
              prow[c] = std::exp(row[c] - m);
              s += prow[c];
            }
            const float inv = 1.f / s;
            for (int64_t c = 0; c < C; ++c) prow[c] *= inv;
            lp[n] =
                static_cast<double>(m) + std::log(static_cast<double>(s)) - row[t[n]];  // lse − x_t
          }
        },
        4 * C);
  }
  double total = 0.0;
  for (double v : row_loss) total += v;
  Tensor loss = Tensor::scalar(static_cast<float>(total / static_cast<double>(N)));
  return make_result(loss, {logits}, "cross_entropy",
                     [probs, cls, N, C](const Tensor& g, GradInputs& in) {
                       const float scale = g.item() / static_cast<float>(N);
                       Tensor gx = Tensor::empty({N, C});
                       const float* pp = probs.data();
                       float* out = gx.data();
                       for (int64_t i = 0; i < N * C; ++i) out[i] = pp[i] * scale;
                       for (int64_t n = 0; n < N; ++n)
                         out[n * C + (*cls)[static_cast<size_t>(n)]] -= scale;
                       in.add(0, gx);
                     });
}

Var mse(const Var& a, const Var& b) {
  LB_CHECK(a.defined() && b.defined() && a.shape() == b.shape() && a.numel() > 0,
           "mse: expected two non-empty tensors of the same shape, got ",
           a.defined() ? a.shape() : Shape{}, " and ", b.defined() ? b.shape() : Shape{});
  const int64_t n = a.numel();
  Tensor diff = Tensor::empty(a.shape());
  const float* ap = a.data().data();
  const float* bp = b.data().data();
  float* dp = diff.data();
  double total = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    dp[i] = ap[i] - bp[i];
    total += static_cast<double>(dp[i]) * dp[i];
  }
  Tensor loss = Tensor::scalar(static_cast<float>(total / static_cast<double>(n)));
  return make_result(loss, {a, b}, "mse", [diff, n](const Tensor& g, GradInputs& in) {
    // d/da = 2(a − b)/n, d/db = −d/da.
    Tensor ga = diff.clone().mul_(2.f * g.item() / static_cast<float>(n));
    if (in.needs(1)) in.add(1, in.needs(0) ? ga.clone().mul_(-1.f) : ga.mul_(-1.f));
    if (in.needs(0)) in.add(0, ga);
  });
}

Var squared_hinge(const Var& y, const Tensor& targets) {
  const auto cls = class_indices(y, targets, "squared_hinge");
  const int64_t N = y.size(0), C = y.size(1);
  // margin = max(0, 1 − t·y), t = ±1; loss = Σ margin²/(N·C), d/dy = −2·t·margin/(N·C).
  Tensor signed_margin = Tensor::empty({N, C});  // −t·margin, the gradient up to 2/(N·C)
  const float* yp = y.data().data();
  float* sp = signed_margin.data();
  double total = 0.0;
  for (int64_t n = 0; n < N; ++n) {
    const int32_t target = (*cls)[static_cast<size_t>(n)];
    for (int64_t c = 0; c < C; ++c) {
      const float t = c == target ? 1.f : -1.f;
      const float margin = std::max(0.f, 1.f - t * yp[n * C + c]);
      sp[n * C + c] = -t * margin;
      total += static_cast<double>(margin) * margin;
    }
  }
  const float inv = 1.f / static_cast<float>(N * C);
  Tensor loss = Tensor::scalar(static_cast<float>(total / static_cast<double>(N * C)));
  return make_result(loss, {y}, "squared_hinge",
                     [signed_margin, inv](const Tensor& g, GradInputs& in) {
                       in.add(0, signed_margin.clone().mul_(2.f * inv * g.item()));
                     });
}

}  // namespace lowbit
