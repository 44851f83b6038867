#include "layers/init.h"

#include <cmath>

#include "core/check.h"

namespace lowbit {

std::pair<int64_t, int64_t> compute_fans(const Shape& shape) {
  LB_CHECK(!shape.empty(), "compute_fans: expected a weight shape with dim >= 1, got ",
           shape_str(shape));
  if (shape.size() == 1) return {shape[0], shape[0]};
  int64_t receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
  return {shape[1] * receptive, shape[0] * receptive};
}

Tensor uniform(const Shape& shape, Rng& rng, float lo, float hi) {
  LB_CHECK(lo <= hi, "uniform: expected lo <= hi, got ", lo, " > ", hi);
  return Tensor::uniform(shape, rng, lo, hi);
}

Tensor kaiming_uniform(const Shape& shape, Rng& rng, float a) {
  const auto [fan_in, fan_out] = compute_fans(shape);
  LB_CHECK(fan_in > 0, "kaiming_uniform: fan_in is 0 for shape ", shape_str(shape));
  const double gain = std::sqrt(2.0 / (1.0 + double(a) * a));
  const float bound = static_cast<float>(gain * std::sqrt(3.0 / double(fan_in)));
  return Tensor::uniform(shape, rng, -bound, bound);
}

Tensor glorot_uniform(const Shape& shape, Rng& rng, float gain) {
  const auto [fan_in, fan_out] = compute_fans(shape);
  LB_CHECK(fan_in + fan_out > 0, "glorot_uniform: fans are 0 for shape ", shape_str(shape));
  const float bound = static_cast<float>(gain * std::sqrt(6.0 / double(fan_in + fan_out)));
  return Tensor::uniform(shape, rng, -bound, bound);
}

Tensor fan_in_uniform(const Shape& shape, int64_t fan_in, Rng& rng) {
  LB_CHECK(fan_in > 0, "fan_in_uniform: fan_in must be > 0, got ", fan_in);
  const float bound = static_cast<float>(1.0 / std::sqrt(double(fan_in)));
  return Tensor::uniform(shape, rng, -bound, bound);
}

float glorot_lr_scale(int64_t fan_in, int64_t fan_out) {
  LB_CHECK(fan_in + fan_out > 0, "glorot_lr_scale: fans must be positive, got ", fan_in, ", ",
           fan_out);
  return static_cast<float>(1.0 / std::sqrt(1.5 / double(fan_in + fan_out)));
}

}  // namespace lowbit
