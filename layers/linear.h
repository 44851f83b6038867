#pragma once
/// Linear (fully connected) layer: y = x·Wᵀ + b, PyTorch's layout.
///
///   Linear fc({.in_features = 784, .out_features = 256}, rng);
///   Var y = fc(x);   // x: (N, 784) -> y: (N, 256)
///
/// JSON: {"type": "linear", "in_features": 784, "out_features": 256, "bias": true,
///        "weight_init": "kaiming_uniform"}
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "layers/module.h"

namespace lowbit {

struct LinearOptions {
  int64_t in_features = 0;
  int64_t out_features = 0;
  bool bias = true;
  /// "kaiming_uniform" (PyTorch's default: W ~ U(±1/√in), b ~ U(±1/√in)) or
  /// "glorot_uniform" (W ~ U(±√(6/(in+out))), b = 0; BinaryNet's choice).
  std::string weight_init = "kaiming_uniform";

  /// Reads {"in_features", "out_features", "bias", "weight_init"}; "type" is allowed.
  static LinearOptions from_json(const nlohmann::json& spec, const std::string& path);
  nlohmann::json to_json() const;
};

/// Parameters: "weight" (out_features, in_features), "bias" (out_features) when bias.
/// x: (N, in_features) -> (N, out_features).
/// d/dx = g·W, d/dW = gᵀ·x, d/db = Σ_N g.
class Linear : public Module {
 public:
  Linear(LinearOptions options, Rng& rng);
  Var forward(const Var& x) override;
  std::string_view type() const override { return "linear"; }
  nlohmann::json config() const override;
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);

  const LinearOptions& options() const { return options_; }
  const Var& weight() const { return weight_; }
  /// Undefined when options().bias is false.
  const Var& bias() const { return bias_; }

 private:
  LinearOptions options_;
  Var weight_, bias_;
};

}  // namespace lowbit
