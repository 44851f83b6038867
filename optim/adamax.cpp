#include "optim/adamax.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/parallel.h"
#include "optim/adam_family.h"

namespace lowbit {

AdaMaxOptions AdaMaxOptions::from_json(const nlohmann::json& spec, const std::string& path) {
  return detail::adam_family_options_from_json(spec, path, AdaMaxOptions{});
}

nlohmann::json AdaMaxOptions::to_json() const { return detail::adam_family_options_to_json(*this); }

AdaMax::AdaMax(std::vector<Var> params, std::vector<float> lr_scales, AdaMaxOptions options)
    : Optimizer(std::move(params), std::move(lr_scales), options.lr), options_(options) {
  detail::check_adam_family_options("AdaMax", options_);
  exp_avg_ = add_state_for_each_param("exp_avg");
  exp_inf_ = add_state_for_each_param("exp_inf");
}

void AdaMax::step() {
  const auto& o = options_;
  const float b1 = static_cast<float>(o.beta1), one_minus_b1 = static_cast<float>(1 - o.beta1);
  const float b2 = static_cast<float>(o.beta2);
  const float eps = static_cast<float>(o.eps);
  const float wd = static_cast<float>(o.weight_decay);
  for_each_param_with_grad([&](size_t i, const Tensor& g, int64_t t) {
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
  });
}

nlohmann::json AdaMax::config() const { return options_.to_json(); }

}  // namespace lowbit
