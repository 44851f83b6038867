#include "optim/adamax.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/kernels/parallel.h"

namespace lowbit {

AdaMaxOptions AdaMaxOptions::from_json(const nlohmann::json& spec, const std::string& path) {
  JsonArgs a(spec, path);
  a.allow({"name"});
  AdaMaxOptions o;
  o.lr = a.non_negative("lr", o.lr);
  o.beta1 = a.number_in("beta1", 0.0, std::nextafter(1.0, 0.0), o.beta1);
  o.beta2 = a.number_in("beta2", 0.0, std::nextafter(1.0, 0.0), o.beta2);
  o.eps = a.positive("eps", o.eps);
  o.weight_decay = a.non_negative("weight_decay", o.weight_decay);
  a.finish();
  return o;
}

nlohmann::json AdaMaxOptions::to_json() const {
  return {
      {"lr", lr}, {"beta1", beta1}, {"beta2", beta2}, {"eps", eps}, {"weight_decay", weight_decay}};
}

AdaMax::AdaMax(std::vector<Var> params, std::vector<float> lr_scales, AdaMaxOptions options)
    : Optimizer(std::move(params), std::move(lr_scales), options.lr), options_(options) {
  const auto& o = options_;
  LB_CHECK(o.beta1 >= 0 && o.beta1 < 1, "AdaMax: beta1 must be in [0, 1), got ", o.beta1);
  LB_CHECK(o.beta2 >= 0 && o.beta2 < 1, "AdaMax: beta2 must be in [0, 1), got ", o.beta2);
  LB_CHECK(o.eps > 0, "AdaMax: eps must be > 0, got ", o.eps);
  LB_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0,
           "AdaMax: weight_decay must be >= 0, got ", o.weight_decay);
  for (size_t i = 0; i < this->params().size(); ++i) {
    exp_avg_.push_back(add_state(i, "exp_avg"));
    exp_inf_.push_back(add_state(i, "exp_inf"));
  }
}

void AdaMax::step() {
  count_step();
  const auto& o = options_;
  const float b1 = static_cast<float>(o.beta1), one_minus_b1 = static_cast<float>(1 - o.beta1);
  const float b2 = static_cast<float>(o.beta2);
  const float eps = static_cast<float>(o.eps);
  const float wd = static_cast<float>(o.weight_decay);
  for (size_t i = 0; i < params().size(); ++i) {
    const Tensor g = params()[i].grad();
    if (!g.defined()) continue;
    const int64_t t = next_param_step(i);
    const double clr = lr() * lr_scale(i) / (1 - std::pow(o.beta1, double(t)));
    const float neg_clr = static_cast<float>(-clr);
    float* __restrict w = params()[i].data().data();
    const float* __restrict gp = g.data();
    float* __restrict m = exp_avg_[i].data();
    float* __restrict u = exp_inf_[i].data();
    // PyTorch Adamax (https://pytorch.org/docs/stable/generated/torch.optim.Adamax.html):
    //   g ← g + λθ
    //   m ← β₁m + (1 − β₁)g
    //   u ← max(β₂u, |g| + ε)
    //   θ ← θ − (γ/(1 − β₁ᵗ)) · m/u
    // in the operation order of torch/optim/adamax.py `_single_tensor_adamax`.
    kernels::parallel_for(
        g.numel(),
        [=](int64_t begin, int64_t end) {
          for (int64_t j = begin; j < end; ++j) {
            const float gj = gp[j] + wd * w[j];
            const float mj = m[j] * b1 + one_minus_b1 * gj;
            const float uj = std::max(u[j] * b2, std::fabs(gj) + eps);
            m[j] = mj;
            u[j] = uj;
            w[j] += neg_clr * mj / uj;
          }
        },
        6);
  }
}

nlohmann::json AdaMax::config() const { return options_.to_json(); }

}  // namespace lowbit
