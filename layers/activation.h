#pragma once
/// Activation layers: ReLU, Hardtanh, Tanh (elementwise, any shape).
///
///   JSON: {"type": "relu"}  {"type": "hardtanh", "min_val": -1, "max_val": 1}  {"type": "tanh"}
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "layers/module.h"

namespace lowbit {

/// y = max(x, 0).  d/dx = g·1{x > 0}.
class ReLU : public Module {
 public:
  ReLU() = default;
  Var forward(const Var& x) override;
  std::string_view type() const override { return "relu"; }
  InferenceTraits inference_traits() const override {
    return {.role = InferenceTraits::Role::Monotone};
  }
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);
};

struct HardtanhOptions {
  float min_val = -1.f;
  float max_val = 1.f;  ///< > min_val

  static HardtanhOptions from_json(const nlohmann::json& spec, const std::string& path);
  nlohmann::json to_json() const;
};

/// y = clamp(x, min_val, max_val).  d/dx = g·1{min_val ≤ x ≤ max_val}.
/// BinaryNet's activation before sign (its straight-through window).
class Hardtanh : public Module {
 public:
  explicit Hardtanh(HardtanhOptions options = {});
  Var forward(const Var& x) override;
  std::string_view type() const override { return "hardtanh"; }
  InferenceTraits inference_traits() const override {
    return {.role = InferenceTraits::Role::Monotone};
  }
  nlohmann::json config() const override;
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);
  const HardtanhOptions& options() const { return options_; }

 private:
  HardtanhOptions options_;
};

/// y = tanh x.  d/dx = g·(1 − y²).
class Tanh : public Module {
 public:
  Tanh() = default;
  Var forward(const Var& x) override;
  std::string_view type() const override { return "tanh"; }
  InferenceTraits inference_traits() const override {
    return {.role = InferenceTraits::Role::Monotone};
  }
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);
};

}  // namespace lowbit
