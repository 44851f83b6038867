#include "optim/adam.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/kernels/parallel.h"

namespace lowbit {

AdamOptions AdamOptions::from_json(const nlohmann::json& spec, const std::string& path,
                                   bool decoupled_weight_decay) {
  JsonArgs a(spec, path);
  a.allow({"name"});
  AdamOptions o;
  if (decoupled_weight_decay) {
    o.decoupled_weight_decay = true;
    o.weight_decay = 1e-2;
  }
  o.lr = a.non_negative("lr", o.lr);
  o.beta1 = a.number_in("beta1", 0.0, std::nextafter(1.0, 0.0), o.beta1);
  o.beta2 = a.number_in("beta2", 0.0, std::nextafter(1.0, 0.0), o.beta2);
  o.eps = a.positive("eps", o.eps);
  o.weight_decay = a.non_negative("weight_decay", o.weight_decay);
  a.finish();
  return o;
}

nlohmann::json AdamOptions::to_json() const {
  return {
      {"lr", lr}, {"beta1", beta1}, {"beta2", beta2}, {"eps", eps}, {"weight_decay", weight_decay}};
}

Adam::Adam(std::vector<Var> params, std::vector<float> lr_scales, AdamOptions options)
    : Optimizer(std::move(params), std::move(lr_scales), options.lr), options_(options) {
  const auto& o = options_;
  LB_CHECK(o.beta1 >= 0 && o.beta1 < 1, name(), ": beta1 must be in [0, 1), got ", o.beta1);
  LB_CHECK(o.beta2 >= 0 && o.beta2 < 1, name(), ": beta2 must be in [0, 1), got ", o.beta2);
  LB_CHECK(o.eps > 0, name(), ": eps must be > 0, got ", o.eps);
  LB_CHECK(std::isfinite(o.weight_decay) && o.weight_decay >= 0, name(),
           ": weight_decay must be >= 0, got ", o.weight_decay);
  for (size_t i = 0; i < this->params().size(); ++i) {
    exp_avg_.push_back(add_state(i, "exp_avg"));
    exp_avg_sq_.push_back(add_state(i, "exp_avg_sq"));
  }
}

void Adam::step() {
  count_step();
  const auto& o = options_;
  const float b1 = static_cast<float>(o.beta1), one_minus_b1 = static_cast<float>(1 - o.beta1);
  const float b2 = static_cast<float>(o.beta2), one_minus_b2 = static_cast<float>(1 - o.beta2);
  const float eps = static_cast<float>(o.eps);
  const float l2 = o.decoupled_weight_decay ? 0.f : static_cast<float>(o.weight_decay);
  for (size_t i = 0; i < params().size(); ++i) {
    const Tensor g = params()[i].grad();
    if (!g.defined()) continue;
    const int64_t t = next_param_step(i);
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
  }
}

nlohmann::json Adam::config() const { return options_.to_json(); }

}  // namespace lowbit
