#include "layers/shift_batch_norm.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

#include "core/check.h"
#include "core/collective.h"
#include "core/channels.h"
#include "core/ops.h"
#include "core/ap2.h"

// Legend: x viewed as (N, C, S) (core/channels.h). The terms of the per-channel sums
// are double, so (N, C) input (the BNN MLP) sums in double element by element; (N, C, H, W)
// input sums each run of H·W in float first, as batch_norm does.

namespace lowbit {

using kernels::ChannelLayout;
using kernels::map_channels;
using kernels::reduce_channels;

Var shift_batch_norm(const Var& x, const Var& gamma, const Var& beta, Tensor running_mean,
                     Tensor running_var, BatchNormArgs args) {
  LB_CHECK(x.defined() && (x.dim() == 2 || x.dim() == 4),
           "shift_batch_norm: expected input (N, C) or (N, C, H, W), got shape ",
           x.defined() ? x.shape() : Shape{});
  const ChannelLayout l{x.size(0), x.size(1), x.dim() == 4 ? x.size(2) * x.size(3) : 1};
  const int64_t C = l.C;
  // Multi-process training: the statistics of the global batch (core/collective.h). Inactive
  // (null) in one process, where M and the sums are this batch's.
  const BatchShard* shard = args.training ? active_batch_shard(l.N) : nullptr;
  const int64_t M = l.S * (shard ? shard->global_rows : l.N);
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
    // train.shards: the shards of one process see the same global statistics; one updates.
    const bool updates = !shard || shard->updates_shared_state;
    float* rm = running_mean.defined() && updates ? running_mean.data() : nullptr;
    float* rv = running_var.defined() && updates ? running_var.data() : nullptr;
    const double m = args.momentum;
    std::vector<double> sum(static_cast<size_t>(C)), var_sum(static_cast<size_t>(C));
    reduce_channels(l, sum.data(), [xp](int64_t, int64_t i) { return xp[i]; });
    if (shard) batch_norm_sum_across_processes(sum.data(), C);
    for (int64_t c = 0; c < C; ++c) mean[c] = static_cast<float>(sum[c] / static_cast<double>(M));
    // Σ d·AP2(d), d = x − μ: the shift-based variance.
    const float* mp = mean.data();
    reduce_channels(l, var_sum.data(), [xp, mp](int64_t c, int64_t i) {
      const float d = xp[i] - mp[c];
      return static_cast<double>(d) * ap2(d);
    });
    if (shard) batch_norm_sum_across_processes(var_sum.data(), C);
    for (int64_t c = 0; c < C; ++c) {
      const double var = var_sum[c] / static_cast<double>(M);
      s[c] = ap2(static_cast<float>(1.0 / std::sqrt(var + args.eps)));
      if (rm) rm[c] = static_cast<float>((1 - m) * rm[c] + m * mean[c]);
      if (rv) rv[c] = static_cast<float>((1 - m) * rv[c] + m * var * M / (M - 1));
    }
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
  std::vector<float> beta_c(static_cast<size_t>(C), 0.f);
  if (bp) beta_c.assign(bp, bp + C);
  map_channels(l, y.data(), [&](int64_t c, int64_t i) {
    return gamma_ap2[c] * ((xp[i] - mean[c]) * s[c]) + beta_c[c];
  });

  std::vector<Var> inputs{x};
  if (gamma.defined()) inputs.push_back(gamma);
  if (beta.defined()) inputs.push_back(beta);
  const size_t gamma_at = gamma.defined() ? 1 : 0, beta_at = inputs.size() - 1;
  const bool has_gamma = gamma.defined(), has_beta = beta.defined(), training = args.training;
  return make_result(
      std::move(y), inputs, "shift_batch_norm",
      [xd, l, mean = std::move(mean), s = std::move(s), gamma_ap2 = std::move(gamma_ap2), has_gamma,
       has_beta, gamma_at, beta_at, training, M, synced = shard != nullptr](const Tensor& gy,
                                                                             GradInputs& in) {
        const int64_t nc = l.C;
        const double count = static_cast<double>(M);
        const float* xv = xd.data();
        const float* g = gy.data();
        // Per channel: Σg, Σg·x̂ (x̂ = (x − μ)·s) and Σ AP2(x − μ)·g.
        std::vector<double> sg(static_cast<size_t>(nc)), sgx(static_cast<size_t>(nc)),
            sga(static_cast<size_t>(nc));
        reduce_channels(l, sg.data(), [g](int64_t, int64_t i) { return g[i]; });
        reduce_channels(l, sgx.data(), [&](int64_t c, int64_t i) {
          return static_cast<double>(g[i]) * (xv[i] - mean[c]);
        });
        reduce_channels(l, sga.data(), [&](int64_t c, int64_t i) {
          return static_cast<double>(g[i]) * ap2(xv[i] - mean[c]);
        });
        for (int64_t c = 0; c < nc; ++c) sgx[c] *= s[c];
        // Multi-process: gx needs the global batch's Σg and Σ AP2(x − μ)·g; γ and β keep this
        // process's sums (their gradients are summed with the others' afterwards).
        std::vector<double> sg_x = sg;
        if (synced) {
          sg_x.insert(sg_x.end(), sga.begin(), sga.end());
          batch_norm_sum_across_processes(sg_x.data(), 2 * nc);
          sga.assign(sg_x.begin() + nc, sg_x.end());
          sg_x.resize(static_cast<size_t>(nc));
        }
        if (in.needs(0)) {
          Tensor gx = Tensor::empty(xd.shape());
          float* out = gx.data();
          if (!training) {
            map_channels(l, out, [&](int64_t c, int64_t i) { return gamma_ap2[c] * s[c] * g[i]; });
          } else {
            // gx = AP2(γ)·s·(g − mean(g) − s²·AP2(x − μ)·mean(AP2(x − μ)·g))
            std::vector<float> k(static_cast<size_t>(nc)), mean_g(k.size()), ak(k.size());
            for (int64_t c = 0; c < nc; ++c) {
              k[c] = gamma_ap2[c] * s[c];
              mean_g[c] = static_cast<float>(sg_x[c] / count);
              ak[c] = s[c] * s[c] * static_cast<float>(sga[c] / count);
            }
            map_channels(l, out, [&](int64_t c, int64_t i) {
              return k[c] * (g[i] - mean_g[c] - ap2(xv[i] - mean[c]) * ak[c]);
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
