#pragma once
/// QuantLinear: a fully connected layer on quantized inputs and quantized weights, keeping
/// float32 latent weights that the optimizer updates (larq's QuantDense).
///
///   QuantLinearOptions o{.in_features = 784, .out_features = 256};
///   o.input_quantizer = make_quantizer("ste_sign");
///   o.weight_quantizer = make_quantizer("binary_connect");
///   o.clip_latent = 1.f;
///   QuantLinear fc(o, rng);
///   Var y = fc(x);   // x: (N, 784) -> (N, 256); y = iq(x)·wq(W)ᵀ + b
///
/// JSON (the first and last layers of a network stay full precision unless the config uses
/// quant_linear there too):
///   {"type": "quant_linear", "in_features": 784, "out_features": 256, "bias": true,
///    "weight_init": "uniform", "input_quantizer": "ste_sign",
///    "weight_quantizer": "binary_connect", "clip_latent": 1.0, "glorot_lr_scale": true}
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "layers/module.h"
#include "quant/quant_layer.h"
#include "quant/quantizer.h"

namespace lowbit {

/// The shape; quantizers, init, clipping and lr scale come from QuantLayerOptions.
struct QuantLinearOptions : QuantLayerOptions {
  int64_t in_features = 0;
  int64_t out_features = 0;

  /// Reads in_features, out_features and the QuantLayerOptions keys ("type" allowed).
  static QuantLinearOptions from_json(const nlohmann::json& spec, const std::string& path);
  nlohmann::json to_json() const;
};

/// Parameters: "weight" (out, in) latent float weights, "bias" (out) when bias, and the
/// quantizers' own (TTQ: "weight_quantizer.wp", "weight_quantizer.wn"). Generators of
/// stochastic quantizers: "input_quantizer.rng", "weight_quantizer.rng".
/// x: (N, in) -> (N, out). y = iq(x)·wq(W)ᵀ (⊙ K when the input quantizer has an output
/// scale, XNOR-Net) + b. Gradients: the quantizers' pseudo-gradients chained with linear's.
class QuantLinear final : public LatentQuantLayer {
 public:
  QuantLinear(QuantLinearOptions options, Rng& rng);
  Var forward(const Var& x) override;
  std::string_view type() const override { return "quant_linear"; }
  nlohmann::json config() const override;
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);

  const QuantLinearOptions& options() const { return options_; }

 private:
  const QuantLayerOptions& quant_options() const override { return options_; }

  QuantLinearOptions options_;
};

}  // namespace lowbit
