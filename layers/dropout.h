#pragma once
/// Inverted dropout with its own generator.
///
///   Dropout drop({.p = 0.5f}, rng);   // its Rng is split from `rng` at construction
///   Var y = drop(x);                  // training: zero w.p. p, scale survivors by 1/(1-p)
///
/// JSON: {"type": "dropout", "p": 0.5}
///
/// The generator is registered as "rng" (Module::named_rngs, e.g. "4.rng"), so a checkpoint
/// can save rng().state() and a resumed run draws the same masks.
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "core/random.h"
#include "layers/module.h"

namespace lowbit {

struct DropoutOptions {
  float p = 0.5f;  ///< drop probability, in [0, 1)

  static DropoutOptions from_json(const nlohmann::json& spec, const std::string& path);
  nlohmann::json to_json() const;
};

/// Training: y = x ⊙ m/(1−p), m ~ Bernoulli(1−p); d/dx = g ⊙ m/(1−p). Eval: y = x.
class Dropout : public Module {
 public:
  /// Seeds the layer's generator with rng.split().
  Dropout(DropoutOptions options, Rng& rng);
  Var forward(const Var& x) override;
  std::string_view type() const override { return "dropout"; }
  InferenceTraits inference_traits() const override {
    return {.role = InferenceTraits::Role::Identity};
  }
  nlohmann::json config() const override;
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);

  const DropoutOptions& options() const { return options_; }
  /// The mask generator (save/restore its state() for resumable runs).
  Rng& rng() { return rng_; }

 private:
  DropoutOptions options_;
  Rng rng_;
};

}  // namespace lowbit
