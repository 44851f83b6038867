#pragma once
/// Adam (Kingma & Ba, arXiv:1412.6980) with PyTorch's update rule: torch.optim.Adam with L2
/// weight decay added to the gradient, or torch.optim.AdamW with decoupled weight decay.
///
///   Adam opt(model->parameters(), model->param_lr_scales(), {.lr = 1e-3});
///
/// JSON: {"name": "adam", "lr": 0.001, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8,
///        "weight_decay": 0}
///       {"name": "adamw", ...same keys, weight_decay defaults to 0.01}
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "optim/optimizer.h"

namespace lowbit {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;    ///< in [0, 1)
  double beta2 = 0.999;  ///< in [0, 1)
  double eps = 1e-8;     ///< > 0
  double weight_decay = 0.0;
  /// false: L2 penalty added to the gradient (torch.optim.Adam);
  /// true: θ ← θ(1 − γλ) before the Adam step (torch.optim.AdamW).
  bool decoupled_weight_decay = false;

  /// Keys lr, beta1, beta2, eps, weight_decay; "name" is allowed. decoupled_weight_decay
  /// comes from the registry name ("adamw"), not from a key; with it, weight_decay
  /// defaults to 0.01 (PyTorch's AdamW default).
  static AdamOptions from_json(const nlohmann::json& spec, const std::string& path,
                               bool decoupled_weight_decay = false);
  nlohmann::json to_json() const;
};

/// Per-parameter state: "exp_avg" (m), "exp_avg_sq" (v).
class Adam : public Optimizer {
 public:
  Adam(std::vector<Var> params, std::vector<float> lr_scales, AdamOptions options);
  void step() override;
  std::string_view name() const override {
    return options_.decoupled_weight_decay ? "adamw" : "adam";
  }
  nlohmann::json config() const override;
  const AdamOptions& options() const { return options_; }

 private:
  AdamOptions options_;
  std::vector<Tensor> exp_avg_, exp_avg_sq_;
};

}  // namespace lowbit
