// AP2(x) = sign(x)·2^round(log2|x|): exact values, ties, symmetry, and the properties the
// shift-based layers rely on.
#include "core/ap2.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "core/check.h"
#include "core/random.h"

using namespace lowbit;

TEST_CASE("ap2: hand-made values") {
  CHECK(ap2(0.f) == 0.f);
  CHECK(std::signbit(ap2(-0.f)));
  CHECK(ap2(1.f) == 1.f);
  CHECK(ap2(0.3f) == 0.25f);  // log2 0.3 = −1.74
  CHECK(ap2(0.4f) == 0.5f);   // log2 0.4 = −1.32
  CHECK(ap2(-3.f) == -4.f);   // log2 3 = 1.58
  CHECK(ap2(5.f) == 4.f);     // log2 5 = 2.32
  CHECK(ap2(0.02f) == 0.015625f);
  CHECK(ap2(1024.f) == 1024.f);
  // The rounding point is √2·2^e: the float just below √2 rounds down, the next one up.
  const float below = 1.41421354f, above = std::nextafter(below, 2.f);
  CHECK(below < std::sqrt(2.0));
  CHECK(above > std::sqrt(2.0));
  CHECK(ap2(below) == 1.f);
  CHECK(ap2(above) == 2.f);
  CHECK(ap2(below * 8) == 8.f);
  CHECK(ap2(above / 8) == 0.25f);
  CHECK(std::isinf(ap2(std::numeric_limits<float>::infinity())));
  CHECK(std::isnan(ap2(std::numeric_limits<float>::quiet_NaN())));
  CHECK(std::isinf(ap2(std::numeric_limits<float>::max())));        // 2^128 is beyond float
  const float tiny = std::numeric_limits<float>::denorm_min() * 3;  // subnormal 3·2^-149
  CHECK(ap2(tiny) == std::numeric_limits<float>::denorm_min() * 4);
}

TEST_CASE("ap2: properties on random inputs") {
  Rng rng(123);
  for (int i = 0; i < 20000; ++i) {
    const float x = std::ldexp(rng.uniform(-1.f, 1.f), int(rng.below(60)) - 30);
    if (x == 0.f) continue;
    const float a = ap2(x);
    CAPTURE(x);
    // A signed power of two ...
    int e = 0;
    CHECK(std::frexp(std::fabs(a), &e) == 0.5f);
    CHECK(std::signbit(a) == std::signbit(x));
    // ... within a factor √2 of x, idempotent, odd and reciprocal-symmetric.
    const double r = std::fabs(double(a) / double(x));
    CHECK(r >= 1.0 / std::sqrt(2.0));
    CHECK(r <= std::sqrt(2.0));
    CHECK(ap2(a) == a);
    CHECK(ap2(-x) == -a);
    const float inv = 1.f / x;
    if (std::fabs(std::log2(std::fabs(double(inv))) -
                  std::round(std::log2(std::fabs(double(inv))))) < 0.49)
      CHECK(ap2(inv) == 1.f / a);
    // Matches the textbook formula away from the ties.
    const double l = std::log2(std::fabs(double(x)));
    if (std::fabs(l - std::floor(l) - 0.5) > 1e-6)
      CHECK(a == static_cast<float>(std::copysign(std::exp2(std::round(l)), x)));
  }
  // Tensor version.
  Tensor t = Tensor::from_vector({4}, {0.3f, -3.f, 0.f, 1.f});
  CHECK(ap2(t).to_vector() == std::vector<float>{0.25f, -4.f, 0.f, 1.f});
}
