#pragma once
/// Stochastic gradient descent with momentum, Nesterov momentum and L2 weight decay, with
/// PyTorch's update rule (torch.optim.SGD, dampening 0).
///
///   SGD opt(model->parameters(), model->param_lr_scales(), {.lr = 0.1, .momentum = 0.9});
///
/// JSON: {"name": "sgd", "lr": 0.1, "momentum": 0.9, "nesterov": false, "weight_decay": 5e-4}
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "optim/optimizer.h"

namespace lowbit {

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0.0;      ///< >= 0
  bool nesterov = false;      ///< requires momentum > 0
  double weight_decay = 0.0;  ///< L2 penalty added to the gradient

  /// "lr" is required; "name" is allowed.
  static SGDOptions from_json(const nlohmann::json& spec, const std::string& path);
  nlohmann::json to_json() const;
};

class SGD : public Optimizer {
 public:
  SGD(std::vector<Var> params, std::vector<float> lr_scales, SGDOptions options);
  void step() override;
  std::string_view name() const override { return "sgd"; }
  nlohmann::json config() const override;
  const SGDOptions& options() const { return options_; }

 private:
  SGDOptions options_;
  std::vector<Tensor> momentum_;  // per parameter, "momentum_buffer" (only when momentum > 0)
};

}  // namespace lowbit
