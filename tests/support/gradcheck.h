#pragma once
// The shared finite-difference gradient checker.
//
//   check_grad([](const std::vector<Var>& v) { return tanh(v[0]); },
//              {Tensor::uniform({3, 4}, rng, -2, 2)});
//
// The output is reduced to a scalar with a fixed random projection, L = Σ w ⊙ f(x), so
// every output element contributes with a distinct weight. Analytic dL/dx (from backward)
// is compared with central differences (two-point, or four-point with `four_point`),
// on at most `max_elements` sampled entries per input. Inputs are perturbed in float32;
// the loss is accumulated in double.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <sstream>
#include <vector>

#include "core/ops.h"
#include "core/random.h"

namespace lowbit::testing {

struct GradCheckOptions {
  float eps = 1e-2f;
  float atol = 2e-3f;
  float rtol = 2e-2f;
  bool four_point = true;
  int64_t max_elements = 64;
  /// Skip entries whose forward output changes non-smoothly within ±eps (kinks of relu,
  /// abs, clamp, max): detected when the one-sided differences disagree strongly.
  bool avoid_kinks = false;
  /// Which inputs to check (empty: all).
  std::vector<size_t> only;
  uint64_t seed = 1234;
};

using VarFn = std::function<Var(const std::vector<Var>&)>;

inline double projected_loss(const VarFn& fn, const std::vector<Tensor>& xs, const Tensor& w) {
  NoGradGuard guard;
  std::vector<Var> vars;
  for (const Tensor& x : xs) vars.emplace_back(x);
  Tensor y = fn(vars).data();
  double acc = 0.0;
  for (int64_t i = 0; i < y.numel(); ++i) acc += double(y.data()[i]) * double(w.data()[i]);
  return acc;
}

/// Returns the number of entries compared; fails doctest checks on mismatches.
inline int64_t check_grad(const VarFn& fn, std::vector<Tensor> inputs, GradCheckOptions opt = {}) {
  Rng rng(opt.seed);
  std::vector<Var> vars;
  for (Tensor& x : inputs) vars.emplace_back(x.clone(), true);
  Var y = fn(vars);
  Tensor w = Tensor::uniform(y.shape(), rng, 0.5f, 1.5f);
  // Analytic: backward of Σ w ⊙ y is backward(y) with seed w.
  y.backward(w);
  int64_t compared = 0;
  for (size_t k = 0; k < inputs.size(); ++k) {
    if (!opt.only.empty() && std::find(opt.only.begin(), opt.only.end(), k) == opt.only.end())
      continue;
    Tensor analytic = vars[k].grad();
    if (!analytic.defined()) analytic = Tensor::zeros(inputs[k].shape());
    std::vector<Tensor> xs;
    for (const Tensor& x : inputs) xs.push_back(x.clone());
    const int64_t n = xs[k].numel();
    const int64_t count = std::min(n, opt.max_elements);
    for (int64_t c = 0; c < count; ++c) {
      const int64_t i = count == n ? c : static_cast<int64_t>(rng.below(static_cast<uint64_t>(n)));
      float* p = xs[k].data() + i;
      const float x0 = *p;
      auto at = [&](float delta) {
        *p = x0 + delta;
        const double v = projected_loss(fn, xs, w);
        *p = x0;
        return v;
      };
      const double e = opt.eps;
      const double fp = at(opt.eps), fm = at(-opt.eps);
      double numeric = (fp - fm) / (2 * e);
      double fp2 = 0, fm2 = 0;
      if (opt.four_point) {
        fp2 = at(2 * opt.eps);
        fm2 = at(-2 * opt.eps);
        numeric = (8 * (fp - fm) - (fp2 - fm2)) / (12 * e);
      }
      if (opt.avoid_kinks) {
        // A kink anywhere in the sampled span shows as one-sided slopes that disagree; the
        // four-point stencil samples ±2·eps, so look that far too.
        const double f0 = at(0.f);
        auto kinked = [&](double right, double left) {
          return std::fabs(right - left) > 10 * opt.atol + opt.rtol * std::fabs(right);
        };
        if (kinked((fp - f0) / e, (f0 - fm) / e)) continue;
        if (opt.four_point && (kinked((fp2 - fp) / e, (fp - f0) / e) || kinked((fm - fm2) / e, (f0 - fm) / e)))
          continue;
      }
      const double a = analytic.data()[i];
      const bool ok = std::fabs(a - numeric) <= opt.atol + opt.rtol * std::fabs(numeric);
      if (!ok) {
        std::ostringstream os;
        os << "input " << k << " shape " << inputs[k].shape() << " element " << i
           << ": analytic " << a << " vs numeric " << numeric;
        FAIL_CHECK(os.str());
      }
      ++compared;
    }
  }
  return compared;
}

}  // namespace lowbit::testing
