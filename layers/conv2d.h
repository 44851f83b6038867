#pragma once
/// 2-D convolution over NCHW inputs with a square kernel (cross-correlation, as PyTorch).
///
///   Conv2d conv({.in_channels = 1, .out_channels = 32, .kernel_size = 3, .padding = 1}, rng);
///   Var y = conv(x);   // x: (N, 1, 28, 28) -> y: (N, 32, 28, 28)
///
/// JSON: {"type": "conv2d", "in_channels": 1, "out_channels": 32, "kernel_size": 3,
///        "stride": 1, "padding": 1, "bias": true, "weight_init": "kaiming_uniform"}
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "layers/module.h"

namespace lowbit {

struct Conv2dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel_size = 0;
  int64_t stride = 1;
  int64_t padding = 0;  ///< zero padding on each side
  bool bias = true;
  /// "kaiming_uniform" (PyTorch's default, bias U(±1/√fan_in)) or "glorot_uniform" (bias 0).
  std::string weight_init = "kaiming_uniform";

  static Conv2dOptions from_json(const nlohmann::json& spec, const std::string& path);
  nlohmann::json to_json() const;
};

/// Parameters: "weight" (OC, C, K, K), "bias" (OC) when bias.
/// x: (N, C, H, W) -> (N, OC, OH, OW), OH = (H + 2·padding − K)/stride + 1 (same for W).
/// y[n,o] = b[o] + Σ_c W[o,c] ⋆ x[n,c]; gradients by conv2d's backward (im2col + sgemm).
class Conv2d : public Module {
 public:
  Conv2d(Conv2dOptions options, Rng& rng);
  Var forward(const Var& x) override;
  std::string_view type() const override { return "conv2d"; }
  nlohmann::json config() const override;
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);

  const Conv2dOptions& options() const { return options_; }
  const Var& weight() const { return weight_; }
  const Var& bias() const { return bias_; }

 private:
  Conv2dOptions options_;
  Var weight_, bias_;
};

}  // namespace lowbit
