#pragma once
/// 2-D max and average pooling over square windows (NCHW).
///
///   MaxPool2d pool({.kernel_size = 2});   // stride defaults to kernel_size
///   Var y = pool(x);                      // (N, C, 28, 28) -> (N, C, 14, 14)
///
/// JSON: {"type": "max_pool2d", "kernel_size": 2, "stride": 2, "padding": 0}
///       {"type": "avg_pool2d", "kernel_size": 2}
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "layers/module.h"

namespace lowbit {

struct Pool2dOptions {
  int64_t kernel_size = 0;
  /// 0 means stride = kernel_size (PyTorch's default); from_json and the layer resolve it.
  int64_t stride = 0;
  /// Implicit padding on each side, at most kernel_size / 2 (as PyTorch).
  int64_t padding = 0;

  static Pool2dOptions from_json(const nlohmann::json& spec, const std::string& path);
  nlohmann::json to_json() const;
};

/// y[n,c,i,j] = max over the window; padded cells never win. Gradient to the first maximum.
/// x: (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2·padding − kernel)/stride + 1.
class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(Pool2dOptions options);
  MaxPool2d(Pool2dOptions options, Rng&) : MaxPool2d(std::move(options)) {}
  Var forward(const Var& x) override;
  std::string_view type() const override { return "max_pool2d"; }
  nlohmann::json config() const override;
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);
  const Pool2dOptions& options() const { return options_; }

 private:
  Pool2dOptions options_;
};

/// y = mean over the window, padded cells counting as zeros (count_include_pad = true).
/// Gradient g/kernel² to every cell of the window.
class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(Pool2dOptions options);
  AvgPool2d(Pool2dOptions options, Rng&) : AvgPool2d(std::move(options)) {}
  Var forward(const Var& x) override;
  std::string_view type() const override { return "avg_pool2d"; }
  nlohmann::json config() const override;
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);
  const Pool2dOptions& options() const { return options_; }

 private:
  Pool2dOptions options_;
};

}  // namespace lowbit
