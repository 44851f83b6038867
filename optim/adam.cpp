#include "optim/adam.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/parallel.h"
#include "optim/adam_family.h"

namespace lowbit {

AdamOptions AdamOptions::from_json(const nlohmann::json& spec, const std::string& path,
                                   bool decoupled_weight_decay) {
  AdamOptions defaults;
  if (decoupled_weight_decay) {
    defaults.decoupled_weight_decay = true;
    defaults.weight_decay = 1e-2;
  }
  return detail::adam_family_options_from_json(spec, path, defaults);
}

nlohmann::json AdamOptions::to_json() const { return detail::adam_family_options_to_json(*this); }

Adam::Adam(std::vector<Var> params, std::vector<float> lr_scales, AdamOptions options)
    : Optimizer(std::move(params), std::move(lr_scales), options.lr), options_(options) {
  detail::check_adam_family_options(name(), options_);
  exp_avg_ = add_state_for_each_param("exp_avg");
  exp_avg_sq_ = add_state_for_each_param("exp_avg_sq");
}

void Adam::step() {
  const auto& o = options_;
  const float b1 = static_cast<float>(o.beta1), one_minus_b1 = static_cast<float>(1 - o.beta1);
  const float b2 = static_cast<float>(o.beta2), one_minus_b2 = static_cast<float>(1 - o.beta2);
  const float eps = static_cast<float>(o.eps);
  const float l2 = o.decoupled_weight_decay ? 0.f : static_cast<float>(o.weight_decay);
  for_each_param_with_grad([&](size_t i, const Tensor& g, int64_t t) {
    const double lr_i = lr() * lr_scale(i);
    const double bias_correction1 = 1 - std::pow(o.beta1, double(t));
    const double bias_correction2 = 1 - std::pow(o.beta2, double(t));
    const float neg_step_size = static_cast<float>(-(lr_i / bias_correction1));
    const float bc2_sqrt = static_cast<float>(std::sqrt(bias_correction2));
    // AdamW: θ ← θ(1 − γλ); exactly 1 (no-op) for Adam.
    const float decay =
        o.decoupled_weight_decay ? static_cast<float>(1 - lr_i * o.weight_decay) : 1.f;
    float* __restrict w = params()[i].data().data();
    const float* __restrict gp = g.data();
    float* __restrict m = exp_avg_[i].data();
    float* __restrict v = exp_avg_sq_[i].data();
    // PyTorch Adam (https://pytorch.org/docs/stable/generated/torch.optim.Adam.html):
    //   g ← g + λθ                                   (Adam; AdamW instead θ ← θ − γλθ)
    //   m ← β₁m + (1 − β₁)g
    //   v ← β₂v + (1 − β₂)g²
    //   θ ← θ − (γ/(1 − β₁ᵗ)) · m / (√v/√(1 − β₂ᵗ) + ε)
    // in the operation order of torch/optim/adam.py `_single_tensor_adam`.
    kernels::parallel_for(
        g.numel(),
        [=](int64_t begin, int64_t end) {
          for (int64_t j = begin; j < end; ++j) {
            const float wj = w[j] * decay;
            const float gj = gp[j] + l2 * wj;
            const float mj = m[j] * b1 + one_minus_b1 * gj;
            const float vj = v[j] * b2 + one_minus_b2 * gj * gj;
            m[j] = mj;
            v[j] = vj;
            const float denom = std::sqrt(vj) / bc2_sqrt + eps;
            w[j] = wj + neg_step_size * mj / denom;
          }
        },
        8);
  });
}

nlohmann::json Adam::config() const { return options_.to_json(); }

}  // namespace lowbit
