#pragma once
/// QuantConv2d: a 2-D convolution (NCHW, square kernel) on quantized inputs and quantized
/// weights, keeping float32 latent weights that the optimizer updates (larq's QuantConv2D).
///
///   QuantConv2d conv({.in_channels = 32, .out_channels = 64, .kernel_size = 3, .padding = 1,
///                     .input_quantizer = make_quantizer("xnor_sign"),
///                     .weight_quantizer = make_quantizer("bwn")}, rng);
///   Var y = conv(x);   // x: (N, 32, H, W) -> (N, 64, H, W)
///
/// XNOR-Net's block order BN → binary activation → binary conv → pool is, in JSON:
///   {"type": "batch_norm2d", "num_features": 32, "affine": false},
///   {"type": "quant_conv2d", "in_channels": 32, "out_channels": 64, "kernel_size": 3,
///    "padding": 1, "input_quantizer": {"name": "xnor_sign", "k_scaling": true},
///    "weight_quantizer": "bwn", "clip_latent": 1.0},
///   {"type": "max_pool2d", "kernel_size": 2}
/// Zero padding is applied after the input quantizer (padded cells are 0, as in the
/// reference implementations).
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "layers/module.h"
#include "quant/quant_layer.h"
#include "quant/quantizer.h"

namespace lowbit {

struct QuantConv2dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel_size = 0;
  int64_t stride = 1;
  int64_t padding = 0;
  bool bias = true;
  /// "kaiming_uniform", "glorot_uniform" or "uniform" (U(−1, 1)), as QuantLinearOptions.
  std::string weight_init = "kaiming_uniform";
  QuantizerPtr input_quantizer;
  QuantizerPtr weight_quantizer;
  /// > 0: clip latent weights to [−clip_latent, clip_latent] after every step; 0: none.
  float clip_latent = 0.f;
  /// Weight lr × 1/√(1.5/(fan_in + fan_out)), fan_in = C·K², fan_out = OC·K² (BinaryNet).
  bool glorot_lr_scale = false;

  static QuantConv2dOptions from_json(const nlohmann::json& spec, const std::string& path);
  nlohmann::json to_json() const;
};

/// Parameters: "weight" (OC, C, K, K), "bias" (OC) when bias, plus the quantizers' own.
/// x: (N, C, H, W) -> (N, OC, OH, OW), OH = (H + 2·padding − K)/stride + 1.
/// y = conv2d(iq(x), wq(W)) (⊙ K (N, 1, OH, OW) for XNOR-Net's scaled input) + b.
class QuantConv2d final : public Module, public QuantizedLayer {
 public:
  QuantConv2d(QuantConv2dOptions options, Rng& rng);
  Var forward(const Var& x) override;
  std::string_view type() const override { return "quant_conv2d"; }
  nlohmann::json config() const override;
  void pretty_print(std::ostream& os) const override;
  void after_step() override;
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);

  const QuantConv2dOptions& options() const { return options_; }
  const Var& weight() const { return weight_; }
  const Var& bias() const { return bias_; }
  const Quantizer* input_quantizer() const override { return options_.input_quantizer.get(); }
  const Quantizer* weight_quantizer() const override { return options_.weight_quantizer.get(); }

 private:
  QuantConv2dOptions options_;
  Var weight_, bias_;
};

}  // namespace lowbit
