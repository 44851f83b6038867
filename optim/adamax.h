#pragma once
/// AdaMax (Kingma & Ba, arXiv:1412.6980 §7.1), Adam with the infinity norm, with PyTorch's
/// update rule (torch.optim.Adamax). BinaryNet trains with it.
///
///   AdaMax opt(model->parameters(), model->param_lr_scales(), {.lr = 2e-3});
///
/// JSON: {"name": "adamax", "lr": 0.002, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
///        "weight_decay": 0}
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "optim/optimizer.h"

namespace lowbit {

struct AdaMaxOptions {
  double lr = 2e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  ///< L2 penalty added to the gradient

  static AdaMaxOptions from_json(const nlohmann::json& spec, const std::string& path);
  nlohmann::json to_json() const;
};

/// Per-parameter state: "exp_avg" (m), "exp_inf" (u).
class AdaMax : public Optimizer {
 public:
  AdaMax(std::vector<Var> params, std::vector<float> lr_scales, AdaMaxOptions options);
  void step() override;
  std::string_view name() const override { return "adamax"; }
  nlohmann::json config() const override;
  const AdaMaxOptions& options() const { return options_; }

 private:
  AdaMaxOptions options_;
  std::vector<Tensor> exp_avg_, exp_inf_;
};

}  // namespace lowbit
