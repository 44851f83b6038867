// Tests of the "add your own quantizer" example (docs/quantizers.md): quant/quantizers/
// swish_sign.cpp. The registry sweep in registry_test.cpp covers its serialization.
#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "quant/functions.h"
#include "quant/registry.h"

using namespace lowbit;

TEST_CASE("swish_sign: sign forward, swish-sign derivative backward") {
  const float beta = 5.f;
  Var x(Tensor::from_vector({5}, {-1.f, -0.2f, 0.f, 0.2f, 1.f}), true);
  Var q = swish_sign(x, beta);
  CHECK(q.data().to_vector() == std::vector<float>{-1, -1, 1, 1, 1});
  q.backward(Tensor::from_vector({5}, {1, 1, 2, 1, 1}));
  const std::vector<float> g = x.grad().to_vector();
  CHECK(g[2] == doctest::Approx(2 * beta));  // β·g at 0
  CHECK(g[1] == doctest::Approx(g[3]));      // even in x
  // Equals the derivative of the surrogate 2σ(βx)(1 + βx(1 − σ(βx))) − 1.
  auto surrogate = [&](double v) {
    const double s = 1 / (1 + std::exp(-beta * v));
    return 2 * s * (1 + beta * v * (1 - s)) - 1;
  };
  for (int i : {0, 1, 3, 4}) {
    const double xi = x.data().to_vector()[i];
    CHECK(g[i] ==
          doctest::Approx((surrogate(xi + 1e-6) - surrogate(xi - 1e-6)) / 2e-6).epsilon(1e-4));
  }
}

TEST_CASE("swish_sign from JSON") {
  QuantizerPtr q = make_quantizer(nlohmann::json{{"name", "swish_sign"}, {"beta", 2.5}});
  CHECK(q->precision() == 1);
  CHECK(quantizer_to_json(*q) == nlohmann::json{{"name", "swish_sign"}, {"beta", 2.5}});
  CHECK_THROWS_WITH_AS(make_quantizer(nlohmann::json{{"name", "swish_sign"}, {"betta", 2}}),
                       doctest::Contains("did you mean \"beta\""), Error);
}
