#pragma once
/// AP2: the power-of-two approximation of BinaryNet's shift-based batch norm and AdaMax
/// (Courbariaux et al., arXiv:1602.02830, Alg. 3 and 4) and of QNN's log quantization:
///
///   AP2(x) = sign(x) · 2^round(log2 |x|),   AP2(0) = 0,
///
/// so that multiplying by AP2(x) is a bit shift. round() rounds half away from zero, as
/// std::round, which makes AP2 odd (AP2(−x) = −AP2(x)) and reciprocal-symmetric
/// (AP2(1/x) = 1/AP2(x)) for normal floats.
///
///   float s = ap2(0.3f);   // 0.25f
///   float t = ap2(0.4f);   // 0.5f  (log2 0.4 = −1.32 rounds to −1)
///
/// Header-only and dependent on nothing but <cmath>, so that layers/shift_batch_norm and
/// optim/shift_adamax (libraries below lowbit_quant) use the same definition without a
/// link dependency on lowbit_quant.
#include <bit>
#include <cmath>
#include <cstdint>

#include "core/tensor.h"

namespace lowbit {

/// AP2 of one float. Exact: for a normal x = m·2^e (1 ≤ m < 2), log2|x| = e + log2 m rounds
/// up iff m ≥ √2, decided on the mantissa bits (the float just above √2 has mantissa
/// 0x3504F4), so no log/exp is evaluated. Subnormals are scaled by 2^64 into the normal
/// range first (exact both ways, the result being a power of two ≥ 2^-149). Zero and ±inf
/// map to themselves, NaN to NaN; a result beyond the float range is ±inf.
/// Branch-free (selects only), so loops over tensors vectorize: shift-based AdaMax calls it
/// once per weight per step.
inline float ap2(float x) {
  const uint32_t raw = std::bit_cast<uint32_t>(x);
  const bool subnormal = (raw & 0x7F800000u) == 0 && (raw & 0x7FFFFFu) != 0;
  const uint32_t bits = std::bit_cast<uint32_t>(subnormal ? x * 0x1p64f : x);
  const uint32_t exponent = (bits >> 23) & 0xFFu;
  const uint32_t up = (bits & 0x7FFFFFu) >= 0x3504F4u ? 1u : 0u;
  // exponent 0xFE rounding up gives 0xFF with a zero mantissa: ±inf, as wanted.
  const uint32_t e = exponent == 0xFFu ? exponent : exponent + up;
  const float r = std::bit_cast<float>((bits & 0x80000000u) | (e << 23));
  const float scaled = subnormal ? r * 0x1p-64f : r;
  return exponent == 0xFFu && (bits & 0x7FFFFFu) != 0 ? x : scaled;  // NaN stays NaN
}

/// Elementwise AP2 into a new tensor (a plain loop: a few bit operations per element, and
/// this header stays free of the private kernel headers).
inline Tensor ap2(const Tensor& x) {
  Tensor y = Tensor::empty(x.shape());
  const float* src = x.data();
  float* dst = y.data();
  for (int64_t i = 0, n = x.numel(); i < n; ++i) dst[i] = ap2(src[i]);
  return y;
}

}  // namespace lowbit
