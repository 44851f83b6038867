#pragma once
/// QuantConv2d: a 2-D convolution (NCHW, square kernel) on quantized inputs and quantized
/// weights, keeping float32 latent weights that the optimizer updates (larq's QuantConv2D).
///
///   QuantConv2dOptions o{.in_channels = 32, .out_channels = 64, .kernel_size = 3,
///                        .padding = 1};
///   o.input_quantizer = make_quantizer("xnor_sign");
///   o.weight_quantizer = make_quantizer("bwn");
///   QuantConv2d conv(o, rng);
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

/// The geometry; quantizers, init, clipping and lr scale come from QuantLayerOptions
/// (with conv2d: fan_in = C·K², fan_out = OC·K²).
struct QuantConv2dOptions : QuantLayerOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel_size = 0;
  int64_t stride = 1;
  int64_t padding = 0;

  /// Reads the keys above and the QuantLayerOptions keys ("type" allowed).
  static QuantConv2dOptions from_json(const nlohmann::json& spec, const std::string& path);
  nlohmann::json to_json() const;
};

/// Parameters: "weight" (OC, C, K, K), "bias" (OC) when bias, plus the quantizers' own.
/// x: (N, C, H, W) -> (N, OC, OH, OW), OH = (H + 2·padding − K)/stride + 1.
/// y = conv2d(iq(x), wq(W)) (⊙ K (N, 1, OH, OW) for XNOR-Net's scaled input) + b.
class QuantConv2d final : public LatentQuantLayer {
 public:
  QuantConv2d(QuantConv2dOptions options, Rng& rng);
  Var forward(const Var& x) override;
  std::string_view type() const override { return "quant_conv2d"; }
  nlohmann::json config() const override;
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);

  const QuantConv2dOptions& options() const { return options_; }

 private:
  const QuantLayerOptions& quant_options() const override { return options_; }

  QuantConv2dOptions options_;
};

}  // namespace lowbit
