#include <doctest/doctest.h>

#include <cmath>

#include "core/core.h"

using namespace lowbit;

namespace {
Tensor vec(std::vector<float> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_vector({n}, v);
}
}  // namespace

TEST_CASE("autograd: diamond graph accumulates both paths") {
  Var x(vec({1, 2, 3}), true);
  Var a = mul(x, x);      // x²
  Var b = mul(x, 3.f);    // 3x
  Var y = sum(add(a, b)); // Σ x² + 3x
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<float>{5, 7, 9});  // 2x + 3
}

TEST_CASE("autograd: reused input and accumulation across backward calls") {
  Var x(vec({2}), true);
  Var y = sum(mul(mul(x, x), x));  // x³
  y.backward();
  CHECK(x.grad().item() == doctest::Approx(12.f));
  Var z = sum(mul(x, 2.f));
  z.backward();
  CHECK(x.grad().item() == doctest::Approx(14.f));
  x.zero_grad();
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("autograd: no-grad mode creates no nodes") {
  Var x(vec({1, 2}), true);
  {
    NoGradGuard guard;
    Var y = mul(x, x);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.node() == nullptr);
  }
  CHECK(mul(x, x).requires_grad());
}

TEST_CASE("autograd: unused inputs get no gradient; constants need none") {
  Var x(vec({1, 2}), true), unused(vec({5}), true);
  Var c(vec({3, 4}));
  Var y = sum(mul(x, c));
  y.backward();
  CHECK(x.grad().to_vector() == std::vector<float>{3, 4});
  CHECK_FALSE(unused.grad().defined());
  CHECK_FALSE(c.requires_grad());
}

TEST_CASE("autograd: graph is released after backward unless retained") {
  Var x(vec({1, 2, 3}), true);
  Tensor h;
  Var y;
  {
    Var e = exp(x);  // exp's backward captures its output
    h = e.data();
    y = sum(e);
  }
  const long captured = h.storage_use_count();
  CHECK(captured >= 2);  // our handle + the lambda's capture
  y.backward(/*retain_graph=*/true);
  CHECK(h.storage_use_count() == captured);
  y.backward();  // second pass allowed because the first retained the graph
  CHECK(h.storage_use_count() < captured);
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("retain_graph"), Error);
  CHECK(x.grad().data()[0] == doctest::Approx(2 * std::exp(1.f)));
}

TEST_CASE("autograd: a backward that returns a wrongly shaped gradient names the op") {
  Var x(vec({1, 2, 3}), true);
  Var y = make_result(x.data().clone(), {x}, "bad_op",
                      [](const Tensor&, GradInputs& in) { in.add(0, Tensor::ones({2})); });
  CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("bad_op"), Error);
}

TEST_CASE("autograd: sum_to reduces broadcast dimensions") {
  Tensor g = Tensor::ones({2, 3, 4});
  CHECK(sum_to(g, {3, 1}).to_vector() == std::vector<float>{8, 8, 8});
  CHECK(sum_to(g, {4}).to_vector() == std::vector<float>{6, 6, 6, 6});
  CHECK(sum_to(g, {}).item() == 24.f);
  CHECK_THROWS_AS(sum_to(g, {5}), Error);
}
