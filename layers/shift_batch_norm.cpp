#include "layers/shift_batch_norm.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/check.h"
#include "core/kernels/parallel.h"
#include "core/ops.h"
#include "quant/ap2.h"

// Legend: x viewed as (N, C, S), S = H·W (1 for (N, C) input); channel c owns the N runs
// x[n, c, 0..S); M = N·S values per channel. Loops run over channels in parallel.

namespace lowbit {

namespace {

struct Layout {
  int64_t N, C, S;
};

/// Calls f(c, i) for every flat index i of the channels [c0, c1), in memory order: for
/// (N, C) input the channels of one row are adjacent, so walking channel by channel would
/// stride by C floats and reload each cache line C/16 times.
template <class F>
inline void for_channels(const Layout& l, int64_t c0, int64_t c1, F f) {
  for (int64_t n = 0; n < l.N; ++n)
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t i0 = (n * l.C + c) * l.S;
      for (int64_t s = 0; s < l.S; ++s) f(c, i0 + s);
    }
}

/// Splits the channels into blocks across threads and calls f(c0, c1) on each.
template <class F>
void parallel_channels(const Layout& l, F f) {
  kernels::parallel_for(
      l.C, [&](int64_t c0, int64_t c1) { f(c0, c1); }, l.N * l.S);
}

}  // namespace

Var shift_batch_norm(const Var& x, const Var& gamma, const Var& beta, Tensor running_mean,
                     Tensor running_var, BatchNormArgs args) {
  LB_CHECK(x.defined() && (x.dim() == 2 || x.dim() == 4),
           "shift_batch_norm: expected input (N, C) or (N, C, H, W), got shape ",
           x.defined() ? x.shape() : Shape{});
  const Layout l{x.size(0), x.size(1), x.dim() == 4 ? x.size(2) * x.size(3) : 1};
  const int64_t C = l.C, M = l.N * l.S;
  for (const Tensor* t : {&gamma.data(), &beta.data(), static_cast<const Tensor*>(&running_mean),
                          static_cast<const Tensor*>(&running_var)})
    LB_CHECK(!t->defined() || (t->dim() == 1 && t->size(0) == C), "shift_batch_norm: a (", C,
             ") per-channel vector was expected for input ", x.shape(), ", got ", t->shape());
  LB_CHECK(args.eps > 0.f && args.momentum >= 0.f && args.momentum <= 1.f,
           "shift_batch_norm: expected eps > 0 and momentum in [0, 1], got eps ", args.eps,
           " momentum ", args.momentum);
  LB_CHECK(args.training || (running_mean.defined() && running_var.defined()),
           "shift_batch_norm: eval mode needs running_mean and running_var");
  LB_CHECK(!args.training || M > 1,
           "shift_batch_norm: expected more than 1 value per channel "
           "when training, got input shape ",
           x.shape());

  const Tensor xd = x.data();
  const float* xp = xd.data();
  std::vector<float> mean(static_cast<size_t>(C)), s(static_cast<size_t>(C));
  if (args.training) {
    float* rm = running_mean.defined() ? running_mean.data() : nullptr;
    float* rv = running_var.defined() ? running_var.data() : nullptr;
    const double m = args.momentum;
    std::vector<double> sum(static_cast<size_t>(C)), var_sum(static_cast<size_t>(C));
    parallel_channels(l, [&](int64_t c0, int64_t c1) {
      for_channels(l, c0, c1, [&](int64_t c, int64_t i) { sum[c] += xp[i]; });
      for (int64_t c = c0; c < c1; ++c)
        mean[c] = static_cast<float>(sum[c] / static_cast<double>(M));
      // Σ d·AP2(d), d = x − μ: the shift-based variance.
      for_channels(l, c0, c1, [&](int64_t c, int64_t i) {
        const float d = xp[i] - mean[c];
        var_sum[c] += static_cast<double>(d) * ap2(d);
      });
      for (int64_t c = c0; c < c1; ++c) {
        const double var = var_sum[c] / static_cast<double>(M);
        s[c] = ap2(static_cast<float>(1.0 / std::sqrt(var + args.eps)));
        if (rm) rm[c] = static_cast<float>((1 - m) * rm[c] + m * mean[c]);
        if (rv) rv[c] = static_cast<float>((1 - m) * rv[c] + m * var * M / (M - 1));
      }
    });
  } else {
    for (int64_t c = 0; c < C; ++c) {
      mean[c] = running_mean.data()[c];
      s[c] = ap2(1.f / std::sqrt(running_var.data()[c] + args.eps));
    }
  }

  // y = AP2(γ)·(x − μ)·s + β
  const float* gp = gamma.defined() ? gamma.data().data() : nullptr;
  const float* bp = beta.defined() ? beta.data().data() : nullptr;
  std::vector<float> gamma_ap2(static_cast<size_t>(C), 1.f);
  if (gp)
    for (int64_t c = 0; c < C; ++c) gamma_ap2[c] = ap2(gp[c]);
  Tensor y = Tensor::empty(xd.shape());
  float* yp = y.data();
  std::vector<float> beta_c(static_cast<size_t>(C), 0.f);
  if (bp) beta_c.assign(bp, bp + C);
  parallel_channels(l, [&](int64_t c0, int64_t c1) {
    for_channels(l, c0, c1, [&](int64_t c, int64_t i) {
      yp[i] = gamma_ap2[c] * ((xp[i] - mean[c]) * s[c]) + beta_c[c];
    });
  });

  std::vector<Var> inputs{x};
  if (gamma.defined()) inputs.push_back(gamma);
  if (beta.defined()) inputs.push_back(beta);
  const size_t gamma_at = gamma.defined() ? 1 : 0, beta_at = inputs.size() - 1;
  const bool has_gamma = gamma.defined(), has_beta = beta.defined(), training = args.training;
  return make_result(
      std::move(y), inputs, "shift_batch_norm",
      [xd, l, mean = std::move(mean), s = std::move(s), gamma_ap2 = std::move(gamma_ap2), has_gamma,
       has_beta, gamma_at, beta_at, training](const Tensor& gy, GradInputs& in) {
        const int64_t nc = l.C;
        const double count = static_cast<double>(l.N * l.S);
        const float* xv = xd.data();
        const float* g = gy.data();
        // Per channel: Σg, Σg·x̂ (x̂ = (x − μ)·s) and Σ AP2(x − μ)·g.
        std::vector<double> sg(static_cast<size_t>(nc)), sgx(static_cast<size_t>(nc)),
            sga(static_cast<size_t>(nc));
        parallel_channels(l, [&](int64_t c0, int64_t c1) {
          for_channels(l, c0, c1, [&](int64_t c, int64_t i) {
            const float d = xv[i] - mean[c];
            sg[c] += g[i];
            sgx[c] += static_cast<double>(g[i]) * d;
            sga[c] += static_cast<double>(g[i]) * ap2(d);
          });
          for (int64_t c = c0; c < c1; ++c) sgx[c] *= s[c];
        });
        if (in.needs(0)) {
          Tensor gx = Tensor::empty(xd.shape());
          float* out = gx.data();
          if (!training) {
            parallel_channels(l, [&](int64_t c0, int64_t c1) {
              for_channels(l, c0, c1, [&](int64_t c, int64_t i) {
                out[i] = gamma_ap2[c] * s[c] * g[i];
              });
            });
          } else {
            // gx = AP2(γ)·s·(g − mean(g) − s²·AP2(x − μ)·mean(AP2(x − μ)·g))
            std::vector<float> k(static_cast<size_t>(nc)), mean_g(k.size()), ak(k.size());
            for (int64_t c = 0; c < nc; ++c) {
              k[c] = gamma_ap2[c] * s[c];
              mean_g[c] = static_cast<float>(sg[c] / count);
              ak[c] = s[c] * s[c] * static_cast<float>(sga[c] / count);
            }
            parallel_channels(l, [&](int64_t c0, int64_t c1) {
              for_channels(l, c0, c1, [&](int64_t c, int64_t i) {
                out[i] = k[c] * (g[i] - mean_g[c] - ap2(xv[i] - mean[c]) * ak[c]);
              });
            });
          }
          in.add(0, gx);
        }
        if (has_gamma && in.needs(gamma_at)) {
          Tensor gg = Tensor::empty({nc});
          for (int64_t c = 0; c < nc; ++c) gg.data()[c] = static_cast<float>(sgx[c]);
          in.add(gamma_at, gg);
        }
        if (has_beta && in.needs(beta_at)) {
          Tensor gb = Tensor::empty({nc});
          for (int64_t c = 0; c < nc; ++c) gb.data()[c] = static_cast<float>(sg[c]);
          in.add(beta_at, gb);
        }
      });
}

// ---- the layer

ShiftBatchNorm::ShiftBatchNorm(BatchNormOptions options)
    : BatchNormLayer(std::move(options), "ShiftBatchNorm") {}

Var ShiftBatchNorm::forward(const Var& x) {
  const int64_t c = options().num_features;
  LB_CHECK((x.dim() == 2 || x.dim() == 4) && x.size(1) == c, "shift_batch_norm(num_features=", c,
           "): expected input (N, ", c, ") or (N, ", c, ", H, W), got ", x.shape());
  check_batch_statistics(x);
  return shift_batch_norm(x, weight(), bias(), running_mean(), running_var(), op_args());
}

ModulePtr ShiftBatchNorm::from_json(const nlohmann::json& spec, Rng&, const std::string& path) {
  return std::make_shared<ShiftBatchNorm>(BatchNormOptions::from_json(spec, path));
}

}  // namespace lowbit
