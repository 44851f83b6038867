#pragma once
/// Batch normalisation (Ioffe & Szegedy 2015) with PyTorch's semantics.
///
///   BatchNorm2d bn({.num_features = 32}, rng);
///   Var y = bn(x);   // x: (N, 32, H, W); training: batch statistics, eval: running ones
///
/// JSON: {"type": "batch_norm2d", "num_features": 32, "eps": 1e-5, "momentum": 0.1,
///        "affine": true}   (batch_norm1d likewise, for (N, C) inputs)
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "core/ops.h"
#include "layers/module.h"

namespace lowbit {

struct BatchNormOptions {
  int64_t num_features = 0;
  float eps = 1e-5f;
  /// running = (1 − momentum)·running + momentum·batch (PyTorch's convention; Keras uses
  /// 1 − this).
  float momentum = 0.1f;
  /// Learnable per-channel scale "weight" (init 1) and shift "bias" (init 0).
  bool affine = true;

  static BatchNormOptions from_json(const nlohmann::json& spec, const std::string& path);
  nlohmann::json to_json() const;
};

/// What every batch-norm layer holds, whatever its arithmetic: the options (checked at
/// construction), the affine parameters "weight", "bias" (C) when affine and the buffers
/// "running_mean" (C, init 0), "running_var" (C, init 1). Subclasses: BatchNorm (PyTorch's
/// op) and ShiftBatchNorm (layers/shift_batch_norm.h, BinaryNet's power-of-two op), which
/// therefore have the same parameter and buffer names in checkpoints.
class BatchNormLayer : public Module {
 public:
  nlohmann::json config() const override;
  /// Monotone per channel in evaluation mode (probe rank 2; BatchNorm2d: 4).
  InferenceTraits inference_traits() const override {
    return {.role = InferenceTraits::Role::Monotone, .channels = options_.num_features};
  }

  const BatchNormOptions& options() const { return options_; }
  const Var& weight() const { return weight_; }
  const Var& bias() const { return bias_; }
  const Tensor& running_mean() const { return running_mean_; }
  const Tensor& running_var() const { return running_var_; }

 protected:
  /// `layer` ("BatchNorm") starts the messages of the option checks.
  BatchNormLayer(BatchNormOptions options, std::string_view layer);
  /// Throws, naming type(), when training on an input with one value per channel (its
  /// batch variance is undefined).
  void check_batch_statistics(const Var& x) const;
  /// The op's arguments in the current train/eval mode.
  BatchNormArgs op_args() const;

 private:
  BatchNormOptions options_;
  Var weight_, bias_;
  Tensor running_mean_, running_var_;
};

/// Shared implementation of BatchNorm1d and BatchNorm2d.
/// y = (x − μ)/√(σ² + eps)·weight + bias per channel (dimension 1). Training: μ, σ² of the
/// batch (biased σ² normalises, unbiased σ² updates running_var) and the running buffers are
/// updated in place; eval: running_mean, running_var.
class BatchNorm : public BatchNormLayer {
 public:
  Var forward(const Var& x) override;
  /// relu(forward(x)) as one op (batch_norm with args.relu).
  Var forward_relu(const Var& x) override;

 protected:
  /// input_dim: 2 for (N, C), 4 for (N, C, H, W).
  BatchNorm(BatchNormOptions options, int64_t input_dim);

 private:
  Var forward_impl(const Var& x, bool relu);
  int64_t input_dim_;
};

/// x: (N, C) -> (N, C), statistics over N.
class BatchNorm1d : public BatchNorm {
 public:
  explicit BatchNorm1d(BatchNormOptions options) : BatchNorm(std::move(options), 2) {}
  BatchNorm1d(BatchNormOptions options, Rng&) : BatchNorm1d(std::move(options)) {}
  std::string_view type() const override { return "batch_norm1d"; }
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);
};

/// x: (N, C, H, W) -> (N, C, H, W), statistics over N, H, W.
class BatchNorm2d : public BatchNorm {
 public:
  explicit BatchNorm2d(BatchNormOptions options) : BatchNorm(std::move(options), 4) {}
  BatchNorm2d(BatchNormOptions options, Rng&) : BatchNorm2d(std::move(options)) {}
  std::string_view type() const override { return "batch_norm2d"; }
  InferenceTraits inference_traits() const override {
    InferenceTraits t = BatchNorm::inference_traits();
    t.probe_rank = 4;
    return t;
  }
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);
};

}  // namespace lowbit
