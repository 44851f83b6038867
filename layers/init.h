#pragma once
/// Weight initialisers. Every draw takes an explicit Rng (no hidden global seed).
///
///   Tensor w = kaiming_uniform({256, 784}, rng);               // PyTorch's Linear default
///   Tensor v = glorot_uniform({256, 784}, rng);                // BinaryNet's choice
///   float s  = glorot_lr_scale(784, 256);                      // BinaryNet's lr scale
#include <cstdint>
#include <utility>

#include "core/random.h"
#include "core/tensor.h"

namespace lowbit {

/// (fan_in, fan_out) as PyTorch's `_calculate_fan_in_and_fan_out`: for a weight of shape
/// (out, in, k...) fan_in = in·Πk, fan_out = out·Πk. Requires dim >= 2 (a 1-D shape gives
/// fan_in = fan_out = its size).
std::pair<int64_t, int64_t> compute_fans(const Shape& shape);

/// U(−b, b), b = gain·√(3/fan_in), gain = √(2/(1 + a²)) (leaky-relu gain).
/// With the default a = √5, b = 1/√fan_in: PyTorch's default init of Linear and Conv2d
/// weights (`kaiming_uniform_(w, a=math.sqrt(5))`).
Tensor kaiming_uniform(const Shape& shape, Rng& rng, float a = 2.2360679774997896f);

/// U(−b, b), b = gain·√(6/(fan_in + fan_out)) (Glorot & Bengio 2010, "xavier_uniform_").
Tensor glorot_uniform(const Shape& shape, Rng& rng, float gain = 1.f);

/// U(lo, hi).
Tensor uniform(const Shape& shape, Rng& rng, float lo, float hi);

/// PyTorch's default bias init for Linear/Conv2d: U(−1/√fan_in, 1/√fan_in).
Tensor fan_in_uniform(const Shape& shape, int64_t fan_in, Rng& rng);

/// BinaryNet's per-layer learning-rate scale ("W_LR_scale" with H = 1):
///   1 / √(1.5 / (fan_in + fan_out)),
/// the inverse of the Glorot uniform bound. Courbariaux et al., arXiv:1602.02830.
float glorot_lr_scale(int64_t fan_in, int64_t fan_out);

}  // namespace lowbit
