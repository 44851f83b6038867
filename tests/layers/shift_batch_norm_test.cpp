// Shift-based batch norm against values worked out by hand.
#include "layers/shift_batch_norm.h"

#include <doctest/doctest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/ops.h"
#include "core/random.h"
#include "layers/registry.h"

using namespace lowbit;
using nlohmann::json;

namespace {
void check_close(const std::vector<float>& got, const std::vector<float>& want) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == doctest::Approx(want[i]).epsilon(1e-5));
  }
}
}  // namespace

TEST_CASE("shift_batch_norm (N, C): training forward, backward, running stats, eval") {
  ShiftBatchNorm bn({.num_features = 1});
  bn.weight().data().data()[0] = 3.f;  // AP2(3) = 4
  bn.bias().data().data()[0] = 0.5f;
  Var x(Tensor::from_vector({4, 1}, {1, 2, 3, 6}), true);
  // μ = 3, c = (−2, −1, 0, 3), AP2(c) = (−2, −1, 0, 4), σ² = (4 + 1 + 0 + 12)/4 = 4.25,
  // 1/√4.25 = 0.485 -> s = 0.5, x̂ = (−1, −0.5, 0, 1.5), y = 4·x̂ + 0.5.
  Var y = bn(x);
  check_close(y.data().to_vector(), {-3.5f, -1.5f, 0.5f, 6.5f});
  // g = (1, 2, 3, 4): mean g = 2.5, mean(AP2(c)·g) = 3, s² = 0.25,
  // dx = 4·0.5·(g − 2.5 − 0.75·AP2(c)) = (0, 0.5, 1, −3); dγ = Σ g·x̂ = 4; dβ = Σ g = 10.
  y.backward(Tensor::from_vector({4, 1}, {1, 2, 3, 4}));
  check_close(x.grad().to_vector(), {0.f, 0.5f, 1.f, -3.f});
  check_close(bn.weight().grad().to_vector(), {4.f});
  check_close(bn.bias().grad().to_vector(), {10.f});
  // running_mean = 0.1·3; running_var = 0.9 + 0.1·4.25·4/3.
  check_close(bn.running_mean().to_vector(), {0.3f});
  check_close(bn.running_var().to_vector(), {0.9f + 0.1f * 4.25f * 4.f / 3.f});
  // Eval: s = AP2(1/√1.46667) = AP2(0.8257) = 1, y = 4·(x − 0.3) + 0.5.
  bn.eval();
  Var xe(Tensor::from_vector({4, 1}, {1, 2, 3, 6}), true);
  Var ye = bn(xe);
  check_close(ye.data().to_vector(), {3.3f, 7.3f, 11.3f, 23.3f});
  ye.backward(Tensor::ones({4, 1}));
  check_close(xe.grad().to_vector(), {4, 4, 4, 4});
}

TEST_CASE("shift_batch_norm (N, C, H, W): statistics per channel over N, H, W") {
  ShiftBatchNorm bn({.num_features = 2, .affine = false});
  // x[n][c][0][w]: channel 0 holds 1, 2 | 3, 6; channel 1 holds 0, 0 | 0, 4.
  Var x(Tensor::from_vector({2, 2, 1, 2}, {1, 2, 0, 0, 3, 6, 0, 4}));
  // Channel 1: μ = 1, c = (−1, −1, −1, 3), σ² = (1 + 1 + 1 + 12)/4 = 3.75, s = AP2(0.516) = 0.5.
  Var y = bn(x);
  check_close(y.data().to_vector(), {-1, -0.5f, -0.5f, -0.5f, 0, 1.5f, -0.5f, 1.5f});
  CHECK(bn.named_parameters().empty());
  CHECK(bn.named_buffers().size() == 2);
}

TEST_CASE("shift_batch_norm from JSON and its errors") {
  Rng rng(1);
  ModulePtr m = make_module(
      json{{"type", "shift_batch_norm"}, {"num_features", 3}, {"momentum", 0.2}}, rng, "model");
  CHECK(m->type() == "shift_batch_norm");
  CHECK(module_to_json(*m)["momentum"] == 0.2);
  CHECK(module_to_json(*make_module(module_to_json(*m), rng)) == module_to_json(*m));
  CHECK_THROWS_AS((*m)(Var(Tensor::zeros({4, 2}))), Error);     // wrong channel count
  CHECK_THROWS_AS((*m)(Var(Tensor::zeros({1, 3}))), Error);     // one value per channel
  CHECK_THROWS_AS((*m)(Var(Tensor::zeros({2, 3, 4}))), Error);  // 3-D input
  CHECK_THROWS_AS(make_module(json{{"type", "shift_batch_norm"}, {"num_features", 3}, {"epss", 1}},
                              rng, "model"),
                  Error);
}
