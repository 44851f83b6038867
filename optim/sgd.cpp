#include "optim/sgd.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/parallel.h"

namespace lowbit {

SGDOptions SGDOptions::from_json(const nlohmann::json& spec, const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"name"});
  SGDOptions o;
  o.lr = a.non_negative("lr");
  o.momentum = a.non_negative("momentum", o.momentum);
  o.nesterov = a.boolean("nesterov", o.nesterov);
  o.weight_decay = a.non_negative("weight_decay", o.weight_decay);
  if (o.nesterov && o.momentum <= 0)
    json_fail(a.path_of("nesterov"), "Nesterov momentum requires \"momentum\" > 0");
  a.finish();
  return o;
}

nlohmann::json SGDOptions::to_json() const {
  return {
      {"lr", lr}, {"momentum", momentum}, {"nesterov", nesterov}, {"weight_decay", weight_decay}};
}

SGD::SGD(std::vector<Var> params, std::vector<float> lr_scales, SGDOptions options)
    : Optimizer(std::move(params), std::move(lr_scales), options.lr), options_(options) {
  const auto& o = options_;
  LB_CHECK(std::isfinite(o.momentum) && o.momentum >= 0, "SGD: momentum must be >= 0, got ",
           o.momentum);
  LB_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0,
           "SGD: weight_decay must be >= 0, got ", o.weight_decay);
  LB_CHECK(!o.nesterov || o.momentum > 0, "SGD: Nesterov momentum requires momentum > 0");
  if (o.momentum > 0) momentum_ = add_state_for_each_param("momentum_buffer");
}

void SGD::step() {
  const float wd = static_cast<float>(options_.weight_decay);
  const float mu = static_cast<float>(options_.momentum);
  const bool nesterov = options_.nesterov;
  for_each_param_with_grad([&](size_t i, const Tensor& g, int64_t) {
    const float neg_lr = static_cast<float>(-(lr() * lr_scale(i)));
    float* __restrict w = params()[i].data().data();
    const float* __restrict gp = g.data();
    float* __restrict buf = momentum_.empty() ? nullptr : momentum_[i].data();
    // PyTorch SGD (https://pytorch.org/docs/stable/generated/torch.optim.SGD.html), τ = 0:
    //   g ← g + λθ
    //   b ← μb + g                 (b₀ = 0, so b₁ = g as PyTorch's clone(g))
    //   g ← g + μb  (nesterov)  or  g ← b
    //   θ ← θ − γg
    kernels::parallel_for(
        g.numel(),
        [=](int64_t begin, int64_t end) {
          if (!buf) {
            for (int64_t j = begin; j < end; ++j) w[j] += neg_lr * (gp[j] + wd * w[j]);
          } else if (!nesterov) {
            for (int64_t j = begin; j < end; ++j) {
              const float d = gp[j] + wd * w[j];
              buf[j] = buf[j] * mu + d;
              w[j] += neg_lr * buf[j];
            }
          } else {
            for (int64_t j = begin; j < end; ++j) {
              const float d = gp[j] + wd * w[j];
              buf[j] = buf[j] * mu + d;
              w[j] += neg_lr * (d + mu * buf[j]);
            }
          }
        },
        4);
  });
}

nlohmann::json SGD::config() const { return options_.to_json(); }

}  // namespace lowbit
