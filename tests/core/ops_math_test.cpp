// Math ops (elementwise, activations, reductions, shape): gradients by finite differences
// through tests/support/gradcheck.h, closed-form forward values, and error messages.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/core.h"
#include "tests/support/gradcheck.h"

using namespace lowbit;
using lowbit::testing::check_grad;
using lowbit::testing::GradCheckOptions;

namespace {

Tensor randn(const Shape& s, uint64_t seed = 1) {
  Rng rng(seed);
  return Tensor::normal(s, rng);
}
Tensor urand(const Shape& s, float lo, float hi, uint64_t seed = 2) {
  Rng rng(seed);
  return Tensor::uniform(s, rng, lo, hi);
}
/// Values in ±[0.2, 1.5]: at least 0.2 away from the kink at 0 of relu/abs.
Tensor away_from_zero(const Shape& s, uint64_t seed = 3) {
  Tensor t = urand(s, 0.2f, 1.5f, seed);
  Rng rng(seed + 100);
  for (int64_t i = 0; i < t.numel(); ++i)
    if (rng.uniform(0.f, 1.f) < 0.5f) t.data()[i] = -t.data()[i];
  return t;
}
Tensor vec(std::vector<float> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_vector({n}, v);
}
/// Throws lowbit::Error whose message contains every string in `parts`.
template <class Fn>
void check_error(Fn fn, const std::vector<std::string>& parts) {
  std::string msg;
  try {
    fn();
  } catch (const Error& e) {
    msg = e.what();
  }
  REQUIRE_MESSAGE(!msg.empty(), "expected lowbit::Error");
  for (const std::string& p : parts) CHECK_MESSAGE(msg.find(p) != std::string::npos, msg);
}

/// A shuffled ramp 0.1·(0, 1, ..., n−1) − offset: distinct values 0.1 apart, so perturbations
/// of ±2·eps never change which element is the maximum.
Tensor spaced(const Shape& s, uint64_t seed = 4) {
  Tensor t = Tensor::empty(s);
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i)
    t.data()[i] = 0.1f * static_cast<float>(i) - 0.05f * static_cast<float>(n);
  Rng rng(seed);
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(t.data()[i], t.data()[static_cast<int64_t>(rng.below(static_cast<uint64_t>(i + 1)))]);
  return t;
}

/// Reference broadcast binary op through explicit index arithmetic (numpy rules).
Tensor ref_binary(const Tensor& a, const Tensor& b, float (*f)(float, float)) {
  const Shape out = broadcast_shapes(a.shape(), b.shape(), "ref");
  Tensor y = Tensor::empty(out);
  const size_t n = out.size();
  std::vector<int64_t> idx(n, 0);
  auto offset = [&](const Shape& s) {
    int64_t off = 0;
    for (size_t k = 0; k < s.size(); ++k) {
      const size_t d = n - s.size() + k;
      off = off * s[k] + (s[k] == 1 ? 0 : idx[d]);
    }
    return off;
  };
  for (int64_t i = 0; i < y.numel(); ++i) {
    int64_t rem = i;
    for (size_t d = n; d-- > 0;) {
      idx[d] = rem % out[d];
      rem /= out[d];
    }
    y.data()[i] = f(a.data()[offset(a.shape())], b.data()[offset(b.shape())]);
  }
  return y;
}

/// seed ⊙ other through the reference broadcast (no lowbit kernels involved).
Tensor kernels_free_mul(const Tensor& seed, const Tensor& other) {
  return ref_binary(seed, other, [](float x, float z) { return x * z; });
}

}  // namespace

// ---- binary elementwise

TEST_CASE("add: forward, broadcasting and gradient") {
  auto f = [](const std::vector<Var>& v) { return add(v[0], v[1]); };
  CHECK(add(Var(vec({1, 2})), Var(vec({10, 20}))).data().to_vector() == std::vector<float>{11, 22});
  SUBCASE("same shape") { CHECK(check_grad(f, {randn({2, 3}), randn({2, 3}, 5)}) > 0); }
  SUBCASE("(2,3)+(3)") { CHECK(check_grad(f, {randn({2, 3}), randn({3}, 5)}) > 0); }
  SUBCASE("(2,1,4)+(3,1)") { CHECK(check_grad(f, {randn({2, 1, 4}), randn({3, 1}, 5)}) > 0); }
  SUBCASE("scalar") { CHECK(check_grad(f, {randn({}), randn({2, 3}, 5)}) > 0); }
  SUBCASE("(N,C,H,W)+(1,C,1,1)") {
    CHECK(check_grad(f, {randn({2, 3, 2, 2}), randn({1, 3, 1, 1}, 5)}) > 0);
  }
  SUBCASE("large tensors match the reference (parallel path)") {
    for (const auto& [sa, sb] :
         std::vector<std::pair<Shape, Shape>>{{{64, 3, 32, 32}, {1, 3, 1, 1}},
                                              {{512, 200}, {200}},
                                              {{300, 1, 200}, {7, 1}},
                                              {{1}, {70000}},
                                              {{70000}, {70000}},
                                              {{5, 1, 7, 1}, {1, 6, 1, 8}}}) {
      const Tensor a = randn(sa, 7), b = randn(sb, 8);
      const Tensor y = add(Var(a), Var(b)).data();
      CHECK(allclose(y, ref_binary(a, b, [](float x, float z) { return x + z; })));
    }
  }
  SUBCASE("shape mismatch names the op and both shapes") {
    check_error(
        [] {
          add(Var(Tensor::zeros({2, 3})), Var(Tensor::zeros({4})));
        },
        {"add", "(2, 3)", "(4,)"});
  }
}

TEST_CASE("sub: forward, broadcasting and gradient") {
  auto f = [](const std::vector<Var>& v) { return sub(v[0], v[1]); };
  CHECK(sub(Var(vec({1, 2})), Var(vec({10, 20}))).data().to_vector() ==
        std::vector<float>{-9, -18});
  CHECK((Var(vec({3})) - Var(vec({1}))).data().item() == 2.f);
  SUBCASE("same shape") { CHECK(check_grad(f, {randn({2, 3}), randn({2, 3}, 5)}) > 0); }
  SUBCASE("(2,3)-(3)") { CHECK(check_grad(f, {randn({2, 3}), randn({3}, 5)}) > 0); }
  SUBCASE("(3,1)-(2,1,4)") { CHECK(check_grad(f, {randn({3, 1}), randn({2, 1, 4}, 5)}) > 0); }
  SUBCASE("scalar") { CHECK(check_grad(f, {randn({2, 3}), randn({}, 5)}) > 0); }
  SUBCASE("error") {
    check_error([] { sub(Var(Tensor::zeros({2})), Var(Tensor::zeros({3}))); },
                {"sub", "(2,)", "(3,)"});
  }
}

TEST_CASE("mul: forward, broadcasting and gradient") {
  auto f = [](const std::vector<Var>& v) { return mul(v[0], v[1]); };
  CHECK(mul(Var(vec({2, 3})), Var(vec({4, 5}))).data().to_vector() == std::vector<float>{8, 15});
  SUBCASE("same shape") { CHECK(check_grad(f, {randn({2, 3}), randn({2, 3}, 5)}) > 0); }
  SUBCASE("(2,3)*(3)") { CHECK(check_grad(f, {randn({2, 3}), randn({3}, 5)}) > 0); }
  SUBCASE("(2,1,4)*(3,1)") { CHECK(check_grad(f, {randn({2, 1, 4}), randn({3, 1}, 5)}) > 0); }
  SUBCASE("scalar") { CHECK(check_grad(f, {randn({}), randn({2, 3}, 5)}) > 0); }
  SUBCASE("(N,C,H,W)*(1,C,1,1)") {
    CHECK(check_grad(f, {randn({2, 3, 2, 2}), randn({1, 3, 1, 1}, 5)}) > 0);
  }
  SUBCASE("same input twice") {
    CHECK(check_grad([](const std::vector<Var>& v) { return mul(v[0], v[0]); }, {randn({5})}) > 0);
  }
  SUBCASE("large outer product matches the reference") {
    const Tensor a = randn({300, 1}, 7), b = randn({1, 250}, 8);
    CHECK(allclose(mul(Var(a), Var(b)).data(),
                   ref_binary(a, b, [](float x, float z) { return x * z; })));
  }
  SUBCASE("error") {
    check_error(
        [] {
          mul(Var(Tensor::zeros({2, 1, 4})), Var(Tensor::zeros({3, 2})));
        },
        {"mul", "(2, 1, 4)", "(3, 2)"});
  }
}

TEST_CASE("div: forward, broadcasting and gradient") {
  auto f = [](const std::vector<Var>& v) { return div(v[0], v[1]); };
  CHECK(div(Var(vec({1, 3})), Var(vec({4, 2}))).data().to_vector() ==
        std::vector<float>{0.25f, 1.5f});
  SUBCASE("same shape") { CHECK(check_grad(f, {randn({2, 3}), urand({2, 3}, 0.5f, 2.f)}) > 0); }
  SUBCASE("(2,3)/(3)") { CHECK(check_grad(f, {randn({2, 3}), urand({3}, 0.5f, 2.f)}) > 0); }
  SUBCASE("(2,1,4)/(3,1)") {
    CHECK(check_grad(f, {randn({2, 1, 4}), urand({3, 1}, -2.f, -0.5f)}) > 0);
  }
  SUBCASE("scalar / tensor") { CHECK(check_grad(f, {randn({}), urand({2, 3}, 0.5f, 2.f)}) > 0); }
  SUBCASE("error") {
    check_error(
        [] {
          div(Var(Tensor::zeros({4, 3})), Var(Tensor::ones({4})));
        },
        {"div", "(4, 3)", "(4,)"});
  }
}

TEST_CASE("broadcast gradients are reduced like sum_to") {
  // The ops un-broadcast with their own parallel kernel; compare it with the engine's sum_to.
  Rng rng(21);
  for (const auto& [sa, sb] : std::vector<std::pair<Shape, Shape>>{{{64, 16, 9, 9}, {1, 16, 1, 1}},
                                                                   {{300, 200}, {200}},
                                                                   {{300, 200}, {300, 1}},
                                                                   {{40, 1, 30}, {7, 1}},
                                                                   {{5, 6, 7, 8}, {}},
                                                                   {{1, 6, 1, 8}, {5, 1, 7, 1}}}) {
    Var a(Tensor::normal(sa, rng), true), b(Tensor::normal(sb, rng), true);
    Var y = mul(a, b);
    const Tensor seed = Tensor::normal(y.shape(), rng);
    y.backward(seed);
    const Tensor ga = lowbit::sum_to(kernels_free_mul(seed, b.data()), sa);
    const Tensor gb = lowbit::sum_to(kernels_free_mul(seed, a.data()), sb);
    CHECK(allclose(a.grad(), ga, 1e-4f, 1e-4f));
    CHECK(allclose(b.grad(), gb, 1e-4f, 1e-4f));
  }
}

TEST_CASE("scalar add/mul and operators") {
  CHECK(add(Var(vec({1, 2})), 0.5f).data().to_vector() == std::vector<float>{1.5f, 2.5f});
  CHECK(mul(Var(vec({1, 2})), -2.f).data().to_vector() == std::vector<float>{-2, -4});
  CHECK(check_grad([](const std::vector<Var>& v) { return add(v[0], 3.f); }, {randn({2, 3})}) > 0);
  CHECK(check_grad([](const std::vector<Var>& v) { return mul(v[0], -1.5f); }, {randn({2, 3})}) >
        0);
  const Var a(vec({6, 8})), b(vec({2, 4}));
  CHECK((a + b).data().to_vector() == std::vector<float>{8, 12});
  CHECK((a * b).data().to_vector() == std::vector<float>{12, 32});
  CHECK((a / b).data().to_vector() == std::vector<float>{3, 2});
  CHECK((-a).data().to_vector() == std::vector<float>{-6, -8});
}

// ---- unary elementwise

TEST_CASE("neg") {
  CHECK(neg(Var(vec({1, -2}))).data().to_vector() == std::vector<float>{-1, 2});
  CHECK(check_grad([](const std::vector<Var>& v) { return neg(v[0]); }, {randn({3, 4})}) > 0);
}

TEST_CASE("exp: accuracy over the float range and gradient") {
  // The vectorised polynomial is within a few ulp of libm, overflows to inf, underflows to 0.
  std::vector<float> xs;
  for (float x = -100.f; x <= 88.5f; x += 0.173f) xs.push_back(x);
  const Tensor y = exp(Var(vec(xs))).data();
  for (size_t i = 0; i < xs.size(); ++i) {
    const float ref = std::exp(xs[i]);
    CHECK(std::fabs(y.data()[i] - ref) <= 4e-7f * ref + 1e-38f);
  }
  const Tensor e =
      exp(Var(vec({0.f, 1.f, 100.f, -200.f, std::numeric_limits<float>::quiet_NaN()}))).data();
  CHECK(e.data()[0] == 1.f);
  CHECK(e.data()[1] == doctest::Approx(std::exp(1.f)).epsilon(1e-6));
  CHECK(std::isinf(e.data()[2]));
  CHECK(e.data()[3] == 0.f);
  CHECK(std::isnan(e.data()[4]));
  CHECK(check_grad([](const std::vector<Var>& v) { return exp(v[0]); }, {randn({3, 4})}) > 0);
}

TEST_CASE("log") {
  CHECK(log(Var(vec({1.f, std::exp(2.f)}))).data().to_vector()[1] == doctest::Approx(2.f));
  CHECK(check_grad([](const std::vector<Var>& v) { return log(v[0]); },
                   {urand({3, 4}, 0.5f, 3.f)}) > 0);
}

TEST_CASE("sqrt") {
  CHECK(sqrt(Var(vec({4, 9}))).data().to_vector() == std::vector<float>{2, 3});
  CHECK(check_grad([](const std::vector<Var>& v) { return sqrt(v[0]); },
                   {urand({3, 4}, 0.5f, 3.f)}) > 0);
}

TEST_CASE("pow") {
  CHECK(pow(Var(vec({2, 3})), 3.f).data().to_vector()[1] == doctest::Approx(27.f));
  for (float p : {3.f, 2.f, 0.5f, -1.5f, 1.f}) {
    CAPTURE(p);
    CHECK(check_grad([p](const std::vector<Var>& v) { return pow(v[0], p); },
                     {urand({3, 4}, 0.5f, 2.f)}) > 0);
  }
}

TEST_CASE("square") {
  CHECK(square(Var(vec({-3, 2}))).data().to_vector() == std::vector<float>{9, 4});
  CHECK(check_grad([](const std::vector<Var>& v) { return square(v[0]); }, {randn({3, 4})}) > 0);
}

TEST_CASE("abs (inputs away from the kink at 0)") {
  CHECK(abs(Var(vec({-3, 2, 0}))).data().to_vector() == std::vector<float>{3, 2, 0});
  CHECK(check_grad([](const std::vector<Var>& v) { return abs(v[0]); }, {away_from_zero({3, 4})}) >
        0);
}

TEST_CASE("clamp (kinks avoided)") {
  CHECK(clamp(Var(vec({-3, 0.5f, 2})), -1.f, 1.f).data().to_vector() ==
        std::vector<float>{-1, 0.5f, 1});
  GradCheckOptions o;
  o.avoid_kinks = true;
  o.four_point = false;  // the kink detector looks at ±eps only; four-point samples ±2eps
  CHECK(check_grad([](const std::vector<Var>& v) { return clamp(v[0], -0.5f, 0.7f); },
                   {randn({4, 5})}, o) > 0);
  check_error([] { clamp(Var(vec({1})), 1.f, 0.f); }, {"clamp", "lo"});
}

// ---- activations

TEST_CASE("relu (inputs away from the kink)") {
  CHECK(relu(Var(vec({-1, 0, 2}))).data().to_vector() == std::vector<float>{0, 0, 2});
  CHECK(check_grad([](const std::vector<Var>& v) { return relu(v[0]); }, {away_from_zero({3, 4})}) >
        0);
  GradCheckOptions o;
  o.avoid_kinks = true;
  o.four_point = false;  // the kink detector looks at ±eps only; four-point samples ±2eps
  CHECK(check_grad([](const std::vector<Var>& v) { return relu(v[0]); }, {randn({200, 300})}, o) >
        0);
}

TEST_CASE("hardtanh (kinks avoided)") {
  CHECK(hardtanh(Var(vec({-3, 0.5f, 2}))).data().to_vector() == std::vector<float>{-1, 0.5f, 1});
  GradCheckOptions o;
  o.avoid_kinks = true;
  o.four_point = false;  // the kink detector looks at ±eps only; four-point samples ±2eps
  CHECK(check_grad([](const std::vector<Var>& v) { return hardtanh(v[0]); },
                   {urand({4, 5}, -2.f, 2.f)}, o) > 0);
  CHECK(check_grad([](const std::vector<Var>& v) { return hardtanh(v[0], -0.5f, 2.f); },
                   {urand({4, 5}, -2.f, 3.f)}, o) > 0);
}

TEST_CASE("tanh: accuracy and gradient") {
  std::vector<float> xs;
  for (float x = -12.f; x <= 12.f; x += 0.0371f) xs.push_back(x);
  xs.push_back(1e-6f);
  xs.push_back(-3e-4f);
  const Tensor y = tanh(Var(vec(xs))).data();
  for (size_t i = 0; i < xs.size(); ++i)
    CHECK(std::fabs(y.data()[i] - std::tanh(xs[i])) <= 2e-6f * std::fabs(std::tanh(xs[i])) + 1e-7f);
  CHECK(check_grad([](const std::vector<Var>& v) { return tanh(v[0]); }, {randn({3, 4})}) > 0);
}

TEST_CASE("sigmoid: closed form and gradient") {
  const Tensor y = sigmoid(Var(vec({0.f, 2.f, -100.f, 100.f}))).data();
  CHECK(y.data()[0] == doctest::Approx(0.5f));
  CHECK(y.data()[1] == doctest::Approx(1.f / (1.f + std::exp(-2.f))).epsilon(1e-6));
  CHECK(y.data()[2] == doctest::Approx(0.f));
  CHECK(y.data()[3] == 1.f);
  CHECK(check_grad([](const std::vector<Var>& v) { return sigmoid(v[0]); }, {randn({3, 4})}) > 0);
}

TEST_CASE("softmax: rows sum to 1, any axis, gradient") {
  const Tensor x = randn({4, 5, 3});
  for (int64_t axis : {0, 1, 2, -1}) {
    CAPTURE(axis);
    const Tensor y = softmax(Var(x), axis).data();
    const Tensor s = sum(Var(y), axis).data();
    for (float v : s.to_vector()) CHECK(v == doctest::Approx(1.f).epsilon(1e-5));
    CHECK(check_grad([axis](const std::vector<Var>& v) { return softmax(v[0], axis); }, {x}) > 0);
  }
  // Shift invariance and stability: large inputs do not overflow.
  const Tensor big = softmax(Var(vec({1000.f, 1001.f, 1002.f}))).data();
  const Tensor small = softmax(Var(vec({0.f, 1.f, 2.f}))).data();
  CHECK(allclose(big, small, 1e-5f, 1e-6f));
  CHECK(small.data()[2] == doctest::Approx(std::exp(2.f) / (1 + std::exp(1.f) + std::exp(2.f))));
  // Large parallel case matches the per-row definition.
  const Tensor xl = randn({300, 200}, 9);
  const Tensor yl = softmax(Var(xl), 1).data();
  const Tensor yt = softmax(Var(xl), 0).data();
  for (int64_t r : {0, 123, 299}) {
    double z = 0;
    for (int64_t c = 0; c < 200; ++c) z += std::exp(double(xl.at({r, c})));
    CHECK(yl.at({r, 7}) == doctest::Approx(std::exp(double(xl.at({r, 7}))) / z).epsilon(1e-5));
  }
  double zc = 0;
  for (int64_t r = 0; r < 300; ++r) zc += std::exp(double(xl.at({r, 11})));
  CHECK(yt.at({42, 11}) == doctest::Approx(std::exp(double(xl.at({42, 11}))) / zc).epsilon(1e-5));
  check_error([] { softmax(Var(Tensor::zeros({2, 3})), 2); }, {"softmax", "axis 2", "(2, 3)"});
}

TEST_CASE("log_softmax: equals log(softmax), stable for large inputs, gradient") {
  const Tensor x = randn({3, 4, 5});
  for (int64_t axis : {0, 1, -1}) {
    CAPTURE(axis);
    const Tensor ls = log_softmax(Var(x), axis).data();
    const Tensor ref = log(softmax(Var(x), axis)).data();
    CHECK(allclose(ls, ref, 1e-5f, 1e-5f));
    CHECK(check_grad([axis](const std::vector<Var>& v) { return log_softmax(v[0], axis); }, {x}) >
          0);
  }
  const Tensor y = log_softmax(Var(vec({1000.f, 0.f, -1000.f}))).data();
  CHECK(y.data()[0] == doctest::Approx(0.f));
  CHECK(y.data()[1] == doctest::Approx(-1000.f));
  CHECK(y.data()[2] == doctest::Approx(-2000.f));
  for (float v : y.to_vector()) CHECK(std::isfinite(v));
}

// ---- reductions

TEST_CASE("sum: all, axis, keepdim") {
  const Tensor x = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(sum(Var(x)).data().item() == 21.f);
  CHECK(sum(Var(x)).shape() == Shape{});
  CHECK(sum(Var(x), 0).data().to_vector() == std::vector<float>{5, 7, 9});
  CHECK(sum(Var(x), -1).data().to_vector() == std::vector<float>{6, 15});
  CHECK(sum(Var(x), 1, true).shape() == Shape{2, 1});
  CHECK(sum(Var(x), 0).shape() == Shape{3});
  CHECK(sum(Var(Tensor::ones({1000, 777}))).data().item() == 777000.f);
  SUBCASE("gradients") {
    CHECK(check_grad([](const std::vector<Var>& v) { return sum(v[0]); }, {randn({3, 4})}) > 0);
    for (int64_t axis : {0, 1, 2, -1})
      for (bool keep : {false, true}) {
        CAPTURE(axis);
        CAPTURE(keep);
        CHECK(check_grad([=](const std::vector<Var>& v) { return sum(v[0], axis, keep); },
                         {randn({2, 3, 4})}) > 0);
      }
  }
  SUBCASE("large axis sums") {
    const Tensor big = randn({70, 600}, 4);
    const Tensor s0 = sum(Var(big), 0).data(), s1 = sum(Var(big), 1).data();
    double c = 0, r = 0;
    for (int64_t i = 0; i < 70; ++i) c += big.at({i, 5});
    for (int64_t j = 0; j < 600; ++j) r += big.at({9, j});
    CHECK(s0.data()[5] == doctest::Approx(c).epsilon(1e-5));
    CHECK(s1.data()[9] == doctest::Approx(r).epsilon(1e-5));
  }
  check_error([] { sum(Var(Tensor::zeros({2, 3})), 3); }, {"sum", "axis 3", "(2, 3)"});
}

TEST_CASE("mean: all, axis, keepdim") {
  const Tensor x = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(mean(Var(x)).data().item() == 3.5f);
  CHECK(mean(Var(x), 0).data().to_vector() == std::vector<float>{2.5f, 3.5f, 4.5f});
  CHECK(mean(Var(x), 1, true).data().to_vector() == std::vector<float>{2, 5});
  CHECK(mean(Var(x), 1, true).shape() == Shape{2, 1});
  CHECK(check_grad([](const std::vector<Var>& v) { return mean(v[0]); }, {randn({3, 4})}) > 0);
  for (int64_t axis : {0, 1, -1})
    for (bool keep : {false, true}) {
      CAPTURE(axis);
      CHECK(check_grad([=](const std::vector<Var>& v) { return mean(v[0], axis, keep); },
                       {randn({2, 3, 4})}) > 0);
    }
  check_error([] { mean(Var(Tensor::zeros({2})), -2); }, {"mean", "axis -2", "(2,)"});
}

TEST_CASE("max along an axis: values, first argmax gets the gradient") {
  const Tensor x = Tensor::from_vector({2, 3}, {1, 5, 5, 7, 2, 3});
  CHECK(max(Var(x), 1).data().to_vector() == std::vector<float>{5, 7});
  CHECK(max(Var(x), 0).data().to_vector() == std::vector<float>{7, 5, 5});
  CHECK(max(Var(x), 1, true).shape() == Shape{2, 1});
  Var v(x, true);
  sum(max(v, 1)).backward();
  CHECK(v.grad().to_vector() == std::vector<float>{0, 1, 0, 1, 0, 0});  // ties: first wins
  GradCheckOptions o;
  o.avoid_kinks = true;
  o.four_point = false;  // the kink detector looks at ±eps only; four-point samples ±2eps
  for (int64_t axis : {0, 1, 2})
    for (bool keep : {false, true}) {
      CAPTURE(axis);
      CHECK(check_grad([=](const std::vector<Var>& w) { return max(w[0], axis, keep); },
                       {spaced({3, 4, 5})}, o) > 0);
    }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor withnan = Tensor::from_vector({2, 3}, {1, nan, 3, 4, 6, 5});
  const Tensor mx = max(Var(withnan), 1).data();
  CHECK(std::isnan(mx.data()[0]));
  CHECK(mx.data()[1] == 6.f);
  check_error([] { max(Var(Tensor::zeros({2, 3})), 5); }, {"max", "axis 5", "(2, 3)"});
}

// ---- shape

TEST_CASE("reshape: view and gradient") {
  const Tensor x = randn({2, 6});
  const Var y = reshape(Var(x), {3, -1});
  CHECK(y.shape() == Shape{3, 4});
  CHECK(y.data().shares_storage(x));
  CHECK(check_grad([](const std::vector<Var>& v) { return reshape(v[0], {4, 3}); }, {x}) > 0);
  check_error([&] { reshape(Var(x), {5, 2}); }, {"reshape", "(2, 6)", "(5, 2)"});
}

TEST_CASE("flatten") {
  const Tensor x = randn({2, 3, 4});
  CHECK(flatten(Var(x)).shape() == Shape{2, 12});
  CHECK(flatten(Var(Tensor::zeros({5, 7}))).shape() == Shape{5, 7});
  CHECK(check_grad([](const std::vector<Var>& v) { return flatten(v[0]); }, {x}) > 0);
  check_error([] { flatten(Var(Tensor::scalar(1))); }, {"flatten"});
}

TEST_CASE("transpose") {
  const Tensor x = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  const Tensor t = transpose(Var(x), 0, 1).data();
  CHECK(t.shape() == Shape{3, 2});
  CHECK(t.to_vector() == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(check_grad([](const std::vector<Var>& v) { return transpose(v[0], 1, -1); },
                   {randn({2, 3, 4})}) > 0);
  const Tensor big = randn({130, 270});
  const Tensor bt = transpose(Var(big), 0, 1).data();
  CHECK(bt.at({269, 129}) == big.at({129, 269}));
  CHECK(bt.at({17, 88}) == big.at({88, 17}));
  check_error([&] { transpose(Var(x), 0, 2); }, {"transpose", "axis 2", "(2, 3)"});
}

TEST_CASE("permute") {
  const Tensor x = randn({2, 3, 4});
  const Tensor y = permute(Var(x), {2, 0, 1}).data();
  CHECK(y.shape() == Shape{4, 2, 3});
  CHECK(y.at({3, 1, 2}) == x.at({1, 2, 3}));
  CHECK(y.at({0, 1, 1}) == x.at({1, 1, 0}));
  CHECK(check_grad([](const std::vector<Var>& v) { return permute(v[0], {1, 2, 0}); }, {x}) > 0);
  check_error([&] { permute(Var(x), {0, 0, 1}); }, {"permute", "(2, 3, 4)"});
  check_error([&] { permute(Var(x), {0, 1}); }, {"permute", "(2, 3, 4)"});
}

TEST_CASE("permute: large tiled transposes match the index definition") {
  const Tensor x = randn({3, 70, 45}, 12);
  for (const std::vector<int64_t>& perm :
       std::vector<std::vector<int64_t>>{{0, 2, 1}, {2, 0, 1}, {2, 1, 0}, {1, 0, 2}}) {
    const Tensor y = permute(Var(x), perm).data();
    int64_t mismatches = 0;
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 70; ++j)
        for (int64_t k = 0; k < 45; ++k) {
          const int64_t idx[3] = {i, j, k};
          const float got = y.at({idx[perm[0]], idx[perm[1]], idx[perm[2]]});
          mismatches += got != x.at({i, j, k});
        }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("slice") {
  const Tensor x = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK(slice(Var(x), 1, 1, 3).data().to_vector() == std::vector<float>{2, 3, 5, 6});
  CHECK(slice(Var(x), 0, 1, 2).data().to_vector() == std::vector<float>{4, 5, 6});
  CHECK(slice(Var(x), -1, 0, 0).shape() == Shape{2, 0});
  for (int64_t axis : {0, 1, 2})
    CHECK(check_grad([axis](const std::vector<Var>& v) { return slice(v[0], axis, 1, 3); },
                     {randn({3, 4, 5})}) > 0);
  check_error([&] { slice(Var(x), 1, 2, 4); }, {"slice", "[2, 4)", "(2, 3)"});
}

TEST_CASE("concat") {
  const Tensor a = Tensor::from_vector({2, 1}, {1, 2}),
               b = Tensor::from_vector({2, 2}, {3, 4, 5, 6});
  CHECK(concat({Var(a), Var(b)}, 1).data().to_vector() == std::vector<float>{1, 3, 4, 2, 5, 6});
  CHECK(concat({Var(b), Var(b)}, 0).shape() == Shape{4, 2});
  for (int64_t axis : {0, 1, 2}) {
    Shape s1{2, 3, 4}, s2{2, 3, 4};
    s2[static_cast<size_t>(axis)] = 1;
    CHECK(check_grad(
              [axis](const std::vector<Var>& v) {
                return concat({v[0], v[1], v[0]}, axis);
              },
              {randn(s1), randn(s2, 6)}) > 0);
  }
  check_error([&] { concat({Var(a), Var(b)}, 0); }, {"concat", "(2, 1)", "(2, 2)"});
}

TEST_CASE("composite: mse-like graph with broadcasting matches the closed form") {
  // L = mean((x·w + b − t)²); dL/db = 2·mean(x·w + b − t) summed over the broadcast rows.
  const Tensor x = randn({4, 3}), t = randn({4, 3}, 9);
  Var w(randn({3}, 10), true), b(randn({1}, 11), true);
  Var r = sub(add(mul(Var(x), w), b), Var(t));
  mean(square(r)).backward();
  const float expect_db = 2.f * mean(r.detach()).data().item();
  CHECK(b.grad().item() == doctest::Approx(expect_db).epsilon(1e-5));
  CHECK(w.grad().shape() == Shape{3});
}
