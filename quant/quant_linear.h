#pragma once
/// QuantLinear: a fully connected layer on quantized inputs and quantized weights, keeping
/// float32 latent weights that the optimizer updates (larq's QuantDense).
///
///   QuantLinear fc({.in_features = 784, .out_features = 256,
///                   .input_quantizer = make_quantizer("ste_sign"),
///                   .weight_quantizer = make_quantizer("binary_connect"),
///                   .clip_latent = 1.f}, rng);
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

struct QuantLinearOptions {
  int64_t in_features = 0;
  int64_t out_features = 0;
  bool bias = true;
  /// "kaiming_uniform" (PyTorch's Linear default), "glorot_uniform" (bias 0) or "uniform"
  /// (W ~ U(−1, 1), bias 0: BinaryNet's binary layers, H = 1).
  std::string weight_init = "kaiming_uniform";
  /// Null: full precision.
  QuantizerPtr input_quantizer;
  QuantizerPtr weight_quantizer;
  /// > 0: after every optimizer step the latent weights are clipped to [−clip_latent,
  /// clip_latent] (BinaryNet, XNOR-Net, TNN: 1). 0: no clipping (JSON null).
  float clip_latent = 0.f;
  /// Multiply the weight's learning rate by BinaryNet's Glorot factor
  /// 1/√(1.5/(fan_in + fan_out)) (layers/init.h glorot_lr_scale).
  bool glorot_lr_scale = false;

  /// Reads the keys above ("type" allowed); quantizers via make_quantizer with the path
  /// "<path>.input_quantizer".
  static QuantLinearOptions from_json(const nlohmann::json& spec, const std::string& path);
  nlohmann::json to_json() const;
};

/// Parameters: "weight" (out, in) latent float weights, "bias" (out) when bias, and the
/// quantizers' own (TTQ: "weight_quantizer.wp", "weight_quantizer.wn"). Generators of
/// stochastic quantizers: "input_quantizer.rng", "weight_quantizer.rng".
/// x: (N, in) -> (N, out). y = iq(x)·wq(W)ᵀ (⊙ K when the input quantizer has an output
/// scale, XNOR-Net) + b. Gradients: the quantizers' pseudo-gradients chained with linear's.
class QuantLinear final : public Module, public QuantizedLayer {
 public:
  QuantLinear(QuantLinearOptions options, Rng& rng);
  Var forward(const Var& x) override;
  std::string_view type() const override { return "quant_linear"; }
  nlohmann::json config() const override;
  /// One line, like a leaf layer (the quantizer-state children are not layers).
  void pretty_print(std::ostream& os) const override;
  /// Clips the latent weights when clip_latent > 0.
  void after_step() override;
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);

  const QuantLinearOptions& options() const { return options_; }
  const Var& weight() const { return weight_; }
  const Var& bias() const { return bias_; }
  const Quantizer* input_quantizer() const override { return options_.input_quantizer.get(); }
  const Quantizer* weight_quantizer() const override { return options_.weight_quantizer.get(); }

 private:
  QuantLinearOptions options_;
  Var weight_, bias_;
};

}  // namespace lowbit
