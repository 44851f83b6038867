#pragma once
/// Flatten: (N, d1, d2, ...) -> (N, d1·d2·...), a view; the gradient is reshaped back.
///
///   JSON: {"type": "flatten"}
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "layers/module.h"

namespace lowbit {

class Flatten : public Module {
 public:
  Flatten() = default;
  Var forward(const Var& x) override;
  std::string_view type() const override { return "flatten"; }
  InferenceTraits inference_traits() const override {
    return {.role = InferenceTraits::Role::Reshape};
  }
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);
};

}  // namespace lowbit
