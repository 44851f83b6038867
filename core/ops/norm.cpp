#include <cmath>
#include <utility>
#include <vector>

#include "core/check.h"
#include "core/collective.h"
#include "core/channels.h"
#include "core/ops.h"

// Legend: x viewed as (N, C, S) (core/channels.h).

namespace lowbit {

namespace {

using kernels::ChannelLayout;
using kernels::map_channels;
using kernels::reduce_channels;
using kernels::reduce_channels2;

void check_channel_vector(const Tensor& t, int64_t C, const char* what, const Shape& x_shape) {
  LB_CHECK(!t.defined() || (t.dim() == 1 && t.size(0) == C), "batch_norm: ", what, " ", t.shape(),
           " does not match input ", x_shape, "; expected (", C, ")");
}

/// The batch statistics of training mode, per channel: the mean and the biased variance (the
/// one that normalises the batch) of the M values of each channel. The one place the forward
/// pass computes them. In one process M = N·S; with a batch sharded across processes
/// (`synced`) the sums are added across them and M counts the global batch.
void batch_statistics(const ChannelLayout& l, const float* xp, bool synced, int64_t M_values,
                      std::vector<float>& mean, std::vector<double>& var) {
  const int64_t C = l.C;
  const double M = static_cast<double>(M_values);
  std::vector<double> acc(static_cast<size_t>(C));
  reduce_channels(l, acc.data(), [xp](int64_t, int64_t i) { return xp[i]; });
  if (synced) batch_norm_sum_across_processes(acc.data(), C);
  for (int64_t c = 0; c < C; ++c) mean[c] = static_cast<float>(acc[c] / M);
  // Two passes (Σ(x − mean)²) rather than E[x²] − mean²: no cancellation.
  const float* mp = mean.data();
  reduce_channels(l, acc.data(), [xp, mp](int64_t c, int64_t i) {
    const float d = xp[i] - mp[c];
    return d * d;
  });
  if (synced) batch_norm_sum_across_processes(acc.data(), C);
  for (int64_t c = 0; c < C; ++c) var[c] = acc[c] / M;
}

/// The backward of batch_norm: what the forward keeps and the closed-form gradients.
/// grad_of(g, i) is the gradient reaching the batch norm's output at flat index i given the
/// incoming one g (identity, or the fused ReLU's mask).
struct BatchNormBackward {
  Tensor xd;
  ChannelLayout l;
  int64_t M;
  bool synced, training;
  std::vector<float> mean, invstd, scale;
  size_t gamma_at, beta_at;
  bool has_gamma, has_beta;

  template <class GradOf>
  void run(const Tensor& gy, GradOf grad_of, GradInputs& in) const {
    const int64_t C = l.C;
    const double count = static_cast<double>(M);
    const float* xv = xd.data();
    const float* g = gy.data();
    const float* mp = mean.data();
    // Σg and Σg·(x − mean) per channel: the two sums of the closed form. One pass over g and
    // x for both.
    std::vector<double> sg(static_cast<size_t>(C)), sgx(static_cast<size_t>(C));
    reduce_channels2(l, sg.data(), sgx.data(), [g, xv, mp, grad_of](int64_t c, int64_t i) {
      const float gi = grad_of(g[i], i);
      return std::pair<float, float>(gi, gi * (xv[i] - mp[c]));
    });
    // Multi-process: dx needs the global batch's sums; γ and β keep this process's (their
    // gradients are summed with the others' afterwards).
    std::vector<double> sg_all, sgx_all;
    if (synced) {
      std::vector<double> both(sg);
      both.insert(both.end(), sgx.begin(), sgx.end());
      batch_norm_sum_across_processes(both.data(), 2 * C);
      sg_all.assign(both.begin(), both.begin() + C);
      sgx_all.assign(both.begin() + C, both.end());
    }
    const std::vector<double>& sg_x = synced ? sg_all : sg;
    const std::vector<double>& sgx_x = synced ? sgx_all : sgx;
    if (in.needs(0)) {
      // Training: dx = scale·(g − Σg/M − x̂·Σ(g·x̂)/M), x̂ = (x − mean)·invstd, written as
      // dx = scale·g + k1·x + k0. Eval: the statistics are constants, dx = scale·g.
      std::vector<float> k1(static_cast<size_t>(C), 0.f), k0(static_cast<size_t>(C), 0.f);
      if (training) {
        for (int64_t c = 0; c < C; ++c) {
          const double a = scale[c], is = invstd[c];
          const double c1 = -a * is * is * sgx_x[c] / count;
          k1[c] = static_cast<float>(c1);
          k0[c] = static_cast<float>(-a * sg_x[c] / count - c1 * mean[c]);
        }
      }
      Tensor gx = Tensor::empty(xd.shape());
      const float* sp = scale.data();
      const float* k1p = k1.data();
      const float* k0p = k0.data();
      map_channels(l, gx.data(), [g, xv, sp, k1p, k0p, grad_of](int64_t c, int64_t i) {
        return sp[c] * grad_of(g[i], i) + k1p[c] * xv[i] + k0p[c];
      });
      in.add(0, gx);
    }
    if (has_gamma && in.needs(gamma_at)) {  // Σ g·x̂
      Tensor gg = Tensor::empty({C});
      for (int64_t c = 0; c < C; ++c) gg.data()[c] = static_cast<float>(sgx[c] * invstd[c]);
      in.add(gamma_at, gg);
    }
    if (has_beta && in.needs(beta_at)) {  // Σ g
      Tensor gb = Tensor::empty({C});
      for (int64_t c = 0; c < C; ++c) gb.data()[c] = static_cast<float>(sg[c]);
      in.add(beta_at, gb);
    }
  }
};

}  // namespace

Var batch_norm(const Var& x, const Var& gamma, const Var& beta, Tensor running_mean,
               Tensor running_var, BatchNormArgs args) {
  LB_CHECK(x.defined() && x.dim() >= 2 && x.dim() <= 4,
           "batch_norm: expected input (N, C), (N, C, L) or (N, C, H, W), got shape ",
           x.defined() ? x.shape() : Shape{});
  const ChannelLayout l{x.size(0), x.size(1), shape_numel(Shape(x.shape().begin() + 2, x.shape().end()))};
  const int64_t C = l.C;
  // Multi-process training: the statistics of the global batch (core/collective.h). Inactive
  // (null) in one process, where M and the sums are this batch's.
  const BatchShard* shard = args.training ? active_batch_shard(l.N) : nullptr;
  const int64_t M = l.S * (shard ? shard->global_rows : l.N);
  check_channel_vector(gamma.data(), C, "gamma", x.shape());
  check_channel_vector(beta.data(), C, "beta", x.shape());
  check_channel_vector(running_mean, C, "running_mean", x.shape());
  check_channel_vector(running_var, C, "running_var", x.shape());
  LB_CHECK(args.eps > 0.f && args.momentum >= 0.f && args.momentum <= 1.f,
           "batch_norm: expected eps > 0 and momentum in [0, 1], got eps ", args.eps, " momentum ",
           args.momentum);
  LB_CHECK(args.training || (running_mean.defined() && running_var.defined()),
           "batch_norm: eval mode normalises with running statistics; pass running_mean and "
           "running_var (or use training mode)");
  LB_CHECK(!args.training || M > 1,
           "batch_norm: expected more than 1 value per channel when "
           "training, got input shape ",
           x.shape());

  const float* xp = x.data().data();
  std::vector<float> mean(static_cast<size_t>(C)), invstd(static_cast<size_t>(C));
  if (args.training) {
    std::vector<double> batch_var(static_cast<size_t>(C));
    batch_statistics(l, xp, shard != nullptr, M, mean, batch_var);
    // train.shards: the shards of one process see the same global statistics; one updates.
    const bool updates = !shard || shard->updates_shared_state;
    float* rm = running_mean.defined() && updates ? running_mean.data() : nullptr;
    float* rv = running_var.defined() && updates ? running_var.data() : nullptr;
    const double m = args.momentum;
    for (int64_t c = 0; c < C; ++c) {
      const double var = batch_var[c];  // biased: normalises the batch
      invstd[c] = static_cast<float>(1.0 / std::sqrt(var + args.eps));
      if (rm) rm[c] = static_cast<float>((1 - m) * rm[c] + m * mean[c]);
      if (rv) rv[c] = static_cast<float>((1 - m) * rv[c] + m * var * M / (M - 1));  // unbiased
    }
  } else {
    const float* rm = running_mean.data();
    const float* rv = running_var.data();
    for (int64_t c = 0; c < C; ++c) {
      mean[c] = rm[c];
      invstd[c] = 1.f / std::sqrt(rv[c] + args.eps);
    }
  }

  // y = x·scale + shift per channel, scale = γ·invstd, shift = β − mean·scale.
  const float* gp = gamma.defined() ? gamma.data().data() : nullptr;
  const float* bp = beta.defined() ? beta.data().data() : nullptr;
  std::vector<float> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    scale[c] = (gp ? gp[c] : 1.f) * invstd[c];
    shift[c] = (bp ? bp[c] : 0.f) - mean[c] * scale[c];
  }
  Tensor y = Tensor::empty(x.shape());
  {
    const float* sp = scale.data();
    const float* hp = shift.data();
    if (args.relu)  // the same expression as relu(): NaN passes through
      map_channels(l, y.data(), [xp, sp, hp](int64_t c, int64_t i) {
        const float v = xp[i] * sp[c] + hp[c];
        return v < 0.f ? 0.f : v;
      });
    else
      map_channels(l, y.data(), [xp, sp, hp](int64_t c, int64_t i) { return xp[i] * sp[c] + hp[c]; });
  }

  std::vector<Var> inputs{x};
  if (gamma.defined()) inputs.push_back(gamma);
  if (beta.defined()) inputs.push_back(beta);
  BatchNormBackward back{.xd = x.data(),
                         .l = l,
                         .M = M,
                         .synced = shard != nullptr,
                         .training = args.training,
                         .mean = std::move(mean),
                         .invstd = std::move(invstd),
                         .scale = std::move(scale),
                         .gamma_at = gamma.defined() ? size_t{1} : size_t{0},
                         .beta_at = inputs.size() - 1,
                         .has_gamma = gamma.defined(),
                         .has_beta = beta.defined()};
  if (!args.relu)
    return make_result(y, inputs, "batch_norm",
                       [back = std::move(back)](const Tensor& gy, GradInputs& in) {
                         back.run(gy, [](float g, int64_t) { return g; }, in);
                       });
  // The gradient reaching the batch norm is g·1{y > 0}, formed where g is read (the test
  // relu()'s backward uses) instead of in a pass of its own.
  return make_result(y, inputs, "batch_norm_relu",
                     [back = std::move(back), y](const Tensor& gy, GradInputs& in) {
                       const float* yv = y.data();
                       back.run(gy, [yv](float g, int64_t i) { return yv[i] > 0.f ? g : 0.f; }, in);
                     });
}

}  // namespace lowbit
