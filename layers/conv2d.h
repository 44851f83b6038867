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
#include <string_view>

#include "core/check.h"
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

namespace detail {

// The geometry checks of Conv2d, shared with QuantConv2d (quant/quant_conv2d.h), whose
// options have the same five fields; templates because the two options structs are
// otherwise unrelated (QuantConv2dOptions derives from QuantLayerOptions).

/// Positive in_channels, out_channels, kernel_size and stride, padding >= 0; the message
/// starts with `layer` ("Conv2d").
template <class Options>
void check_conv2d_options(std::string_view layer, const Options& o) {
  LB_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.kernel_size > 0 && o.stride > 0 &&
               o.padding >= 0,
           layer,
           ": expected positive in_channels, out_channels, kernel_size, stride and "
           "padding >= 0, got ",
           o.in_channels, ", ", o.out_channels, ", ", o.kernel_size, ", ", o.stride, ", ",
           o.padding);
}

/// x is (N, in_channels, H, W) and the padded input is at least the kernel; messages start
/// with `type` ("conv2d(in_channels=3): ...").
template <class Options>
void check_conv2d_input(std::string_view type, const Var& x, const Options& o) {
  LB_CHECK(x.dim() == 4 && x.size(1) == o.in_channels, type, "(in_channels=", o.in_channels,
           "): expected input (N, ", o.in_channels, ", H, W), got ", x.shape());
  LB_CHECK(x.size(2) + 2 * o.padding >= o.kernel_size && x.size(3) + 2 * o.padding >= o.kernel_size,
           type, "(kernel_size=", o.kernel_size, ", padding=", o.padding, "): input ", x.shape(),
           " is smaller than the kernel");
}

}  // namespace detail

}  // namespace lowbit
