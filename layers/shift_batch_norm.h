#pragma once
/// Shift-based batch normalisation (SBN) of BinaryNet (Courbariaux et al., arXiv:1602.02830,
/// Alg. 3; reference: itayhubara/BinaryNet BatchNormalizationShiftPow2.lua): batch norm whose
/// multiplications are replaced by power-of-two scalings (bit shifts) through
/// AP2(z) = sign(z)·2^round(log2|z|) (core/ap2.h).
///
///   ShiftBatchNorm sbn({.num_features = 2048});
///   Var y = sbn(x);   // x: (N, 2048) or (N, C, H, W) with C = num_features
///
/// JSON: {"type": "shift_batch_norm", "num_features": 2048, "eps": 1e-5, "momentum": 0.1,
///        "affine": true}
///
/// Per channel, over the M = N·H·W values of a batch (training):
///   μ = mean(x),  c = x − μ,
///   σ² = mean(c ⊙ AP2(c))                          (AP2 on the variance's products)
///   s = AP2(1/√(σ² + eps))                          (AP2 on the inverse std)
///   x̂ = c·s,  y = AP2(γ)·x̂ + β                      (AP2 on the scale)
/// running_mean ← (1 − m)·running_mean + m·μ, running_var ← (1 − m)·running_var + m·σ²·M/(M−1)
/// (PyTorch's momentum convention, as BatchNorm). Evaluation: s = AP2(1/√(running_var + eps)),
/// y = AP2(γ)·(x − running_mean)·s + β.
/// Backward (training), the reference code's rule, AP2 passed straight through:
///   dx = AP2(γ)·s·(g − mean(g) − s²·AP2(c)·mean(AP2(c) ⊙ g)),
///   dγ = Σ g·x̂,  dβ = Σ g.
/// Evaluation: dx = AP2(γ)·s·g.
/// Parameters "weight" (γ, init 1) and "bias" (β, init 0) when affine; buffers
/// "running_mean" (0), "running_var" (1): the same names as batch_norm1d/2d.
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "core/ops.h"
#include "layers/batch_norm.h"
#include "layers/module.h"

namespace lowbit {

class ShiftBatchNorm final : public BatchNormLayer {
 public:
  explicit ShiftBatchNorm(BatchNormOptions options);
  Var forward(const Var& x) override;
  std::string_view type() const override { return "shift_batch_norm"; }
  static ModulePtr from_json(const nlohmann::json& spec, Rng& rng, const std::string& path);
};

/// The SBN op itself (used by ShiftBatchNorm::forward). x: (N, C) or (N, C, H, W); gamma,
/// beta: (C) or undefined (no affine); running buffers updated in place when training.
Var shift_batch_norm(const Var& x, const Var& gamma, const Var& beta, Tensor running_mean,
                     Tensor running_var, BatchNormArgs args);

}  // namespace lowbit
