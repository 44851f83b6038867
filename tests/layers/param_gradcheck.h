#pragma once
// Finite-difference check of a module's gradients with respect to its own parameters
// (tests/support/gradcheck.h checks inputs of a function; a module's parameters are Vars it
// owns, so they are perturbed in place here). Same projection and four-point formula.
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

#include "core/random.h"
#include "layers/module.h"
#include "tests/support/gradcheck.h"

namespace lowbit::testing {

inline double module_projected_loss(Module& m, const Tensor& x, const Tensor& w) {
  NoGradGuard guard;
  const Tensor y = m(Var(x)).data();
  double acc = 0;
  for (int64_t i = 0; i < y.numel(); ++i) acc += double(y.data()[i]) * double(w.data()[i]);
  return acc;
}

/// Checks d(Σ w ⊙ m(x))/dθ for every parameter θ of m; returns the number of entries compared.
inline int64_t check_param_grads(Module& m, const Tensor& x, GradCheckOptions opt = {}) {
  Rng rng(opt.seed);
  for (auto& p : m.named_parameters()) p.var.zero_grad();
  Var y = m(Var(x));
  const Tensor w = Tensor::uniform(y.shape(), rng, 0.5f, 1.5f);
  y.backward(w);
  int64_t compared = 0;
  for (auto& p : m.named_parameters()) {
    const Tensor analytic = p.var.grad();
    REQUIRE_MESSAGE(analytic.defined(), "no gradient reached parameter ", p.name);
    const int64_t n = p.var.numel(), count = std::min(n, opt.max_elements);
    for (int64_t c = 0; c < count; ++c) {
      const int64_t i = count == n ? c : int64_t(rng.below(uint64_t(n)));
      float* v = p.var.data().data() + i;
      const float v0 = *v;
      auto at = [&](float d) {
        *v = v0 + d;
        const double r = module_projected_loss(m, x, w);
        *v = v0;
        return r;
      };
      const double e = opt.eps;
      const double fp = at(opt.eps), fm = at(-opt.eps);
      const double fp2 = at(2 * opt.eps), fm2 = at(-2 * opt.eps);
      const double numeric = (8 * (fp - fm) - (fp2 - fm2)) / (12 * e);
      const double a = analytic.data()[i];
      if (std::fabs(a - numeric) > opt.atol + opt.rtol * std::fabs(numeric)) {
        std::ostringstream os;
        os << "parameter " << p.name << " element " << i << ": analytic " << a << " vs numeric "
           << numeric;
        FAIL_CHECK(os.str());
      }
      ++compared;
    }
  }
  return compared;
}

}  // namespace lowbit::testing
