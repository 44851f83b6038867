// Built-in layers: shapes, initialisers, gradients (input and parameters), train/eval.
#include "layers/layers.h"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "core/check.h"
#include "tests/layers/param_gradcheck.h"
#include "tests/support/gradcheck.h"

using namespace lowbit;
using lowbit::testing::check_grad;
using lowbit::testing::check_param_grads;
using lowbit::testing::GradCheckOptions;

namespace {
float min_of(const Tensor& t) { return *std::min_element(t.data(), t.data() + t.numel()); }
float max_of(const Tensor& t) { return *std::max_element(t.data(), t.data() + t.numel()); }
}  // namespace

TEST_CASE("initialisers: bounds and fans as PyTorch") {
  Rng rng(1);
  CHECK(compute_fans({64, 32, 3, 3}) == std::pair<int64_t, int64_t>{288, 576});
  CHECK(compute_fans({10, 20}) == std::pair<int64_t, int64_t>{20, 10});
  const Tensor k = kaiming_uniform({256, 400}, rng);
  CHECK(max_of(k) <= 1.f / 20.f);
  CHECK(min_of(k) >= -1.f / 20.f);
  CHECK(max_of(k) > 0.95f / 20.f);  // fills the range
  const Tensor g = glorot_uniform({300, 600}, rng);
  const float gb = std::sqrt(6.f / 900.f);
  CHECK(max_of(g) <= gb);
  CHECK(max_of(g) > 0.95f * gb);
  const Tensor u = uniform({1000}, rng, 2.f, 3.f);
  CHECK(min_of(u) >= 2.f);
  CHECK(max_of(u) < 3.f);
  CHECK(glorot_lr_scale(784, 2048) == doctest::Approx(1.0 / std::sqrt(1.5 / 2832.0)));
  CHECK_THROWS_AS(uniform({2}, rng, 1.f, 0.f), Error);
}

TEST_CASE("Linear: shapes, init, gradients") {
  Rng rng(2);
  Linear fc({.in_features = 6, .out_features = 4}, rng);
  CHECK(fc.weight().shape() == Shape{4, 6});
  CHECK(fc.bias().shape() == Shape{4});
  CHECK(max_of(fc.weight().data()) <= 1.f / std::sqrt(6.f));
  const Tensor x = Tensor::normal({3, 6}, rng);
  CHECK(fc(Var(x)).shape() == Shape{3, 4});
  CHECK(check_grad([&](const std::vector<Var>& v) { return fc(v[0]); }, {x}) > 0);
  CHECK(check_param_grads(fc, x) == 28);

  Linear g({.in_features = 6, .out_features = 4, .bias = false, .weight_init = "glorot_uniform"},
           rng);
  CHECK_FALSE(g.bias().defined());
  CHECK(g.named_parameters().size() == 1);
  CHECK_THROWS_WITH_AS(fc(Var(Tensor::zeros({3, 2, 3}))),
                       doctest::Contains("expected input (N, 6), got (3, 2, 3); add a flatten"),
                       Error);
  CHECK_THROWS_AS(Linear({.in_features = 0, .out_features = 4}, rng), Error);
}

TEST_CASE("Conv2d: shapes, gradients, stride and padding") {
  Rng rng(3);
  Conv2d conv({.in_channels = 2, .out_channels = 3, .kernel_size = 3, .stride = 2, .padding = 1},
              rng);
  CHECK(conv.weight().shape() == Shape{3, 2, 3, 3});
  CHECK(max_of(conv.weight().data()) <= 1.f / std::sqrt(18.f));
  const Tensor x = Tensor::normal({2, 2, 5, 5}, rng);
  CHECK(conv(Var(x)).shape() == Shape{2, 3, 3, 3});
  CHECK(check_grad([&](const std::vector<Var>& v) { return conv(v[0]); }, {x}) > 0);
  CHECK(check_param_grads(conv, x) == 54 + 3);
  CHECK_THROWS_WITH_AS(conv(Var(Tensor::zeros({2, 3, 5, 5}))),
                       doctest::Contains("expected input (N, 2, H, W), got (2, 3, 5, 5)"), Error);
}

TEST_CASE("Sequential fuses batch norm + relu into one op with the same values and gradients") {
  Rng rng(5);
  auto make = [] {
    auto net = std::make_shared<Sequential>();
    net->push_back(std::make_shared<BatchNorm2d>(BatchNormOptions{.num_features = 3}));
    net->push_back(std::make_shared<ReLU>());
    net->push_back(std::make_shared<ReLU>());  // a ReLU after a ReLU: not fused, still applied
    return net;
  };
  auto fused_net = make(), plain_net = make();
  const Tensor x0 = Tensor::normal({4, 3, 5, 5}, rng, 0.f, 1.f);
  Var xf(x0, true), xp(x0, true);
  Var yf = (*fused_net)(xf);
  Var h = xp;  // the layers one by one, as without fusion
  for (const ModulePtr& l : plain_net->layers()) h = l->forward(h);
  // The graph holds one batch_norm_relu op instead of batch_norm then relu (looked at before
  // backward, which frees the graph).
  CHECK(std::string(yf.node()->inputs[0]->op) == "batch_norm_relu");
  const Tensor seed = Tensor::normal(yf.shape(), rng, 0.f, 1.f);
  yf.backward(seed);
  h.backward(seed);
  CHECK(allclose(yf.data(), h.data(), 0.f, 0.f));
  CHECK(allclose(xf.grad(), xp.grad(), 0.f, 0.f));
  const auto pf = fused_net->parameters(), pp = plain_net->parameters();
  REQUIRE(pf.size() == 2);
  for (size_t i = 0; i < pf.size(); ++i) CHECK(allclose(pf[i].grad(), pp[i].grad(), 0.f, 0.f));
  const NamedTensors bf = fused_net->named_buffers(), bp = plain_net->named_buffers();
  REQUIRE(bf.size() == 2);
  for (size_t i = 0; i < bf.size(); ++i) CHECK(allclose(bf[i].second, bp[i].second, 0.f, 0.f));
}

TEST_CASE("BatchNorm1d/2d: gradients in training mode; running statistics; eval") {
  Rng rng(4);
  SUBCASE("1d") {
    BatchNorm1d bn({.num_features = 3});
    Tensor(bn.weight().data()).copy_(Tensor::from_vector({3}, {0.5f, 1.5f, -1.f}));
    Tensor(bn.bias().data()).copy_(Tensor::from_vector({3}, {0.1f, 0.f, -0.2f}));
    const Tensor x = Tensor::normal({6, 3}, rng, 1.f, 2.f);
    CHECK(check_grad([&](const std::vector<Var>& v) { return bn(v[0]); }, {x}) > 0);
    CHECK(check_param_grads(bn, x) == 6);
  }
  SUBCASE("2d") {
    BatchNorm2d bn({.num_features = 2});
    Tensor(bn.weight().data()).copy_(Tensor::from_vector({2}, {0.7f, 1.3f}));
    const Tensor x = Tensor::normal({3, 2, 3, 3}, rng, -1.f, 1.5f);
    CHECK(check_grad([&](const std::vector<Var>& v) { return bn(v[0]); }, {x}) > 0);
    CHECK(check_param_grads(bn, x) == 4);
  }
  SUBCASE("running statistics and eval mode") {
    BatchNorm1d bn({.num_features = 2, .momentum = 0.5f});
    const Tensor x = Tensor::from_vector({4, 2}, {1, 10, 3, 10, 5, 20, 7, 20});
    Var y = bn(Var(x));
    // Training: per-channel batch mean 0, biased variance 1 (up to eps).
    for (int64_t c = 0; c < 2; ++c) {
      double m = 0, v = 0;
      for (int64_t n = 0; n < 4; ++n) m += y.data().at({n, c});
      for (int64_t n = 0; n < 4; ++n) v += std::pow(y.data().at({n, c}) - m / 4, 2);
      CHECK(m / 4 == doctest::Approx(0).epsilon(1e-5));
      CHECK(v / 4 == doctest::Approx(1).epsilon(1e-3));
    }
    // running = 0.5·old + 0.5·batch; unbiased variance for running_var.
    CHECK(bn.running_mean().to_vector() == std::vector<float>{2.f, 7.5f});
    CHECK(bn.running_var().data()[0] == doctest::Approx(0.5 + 0.5 * 20.0 / 3.0));
    CHECK(bn.running_var().data()[1] == doctest::Approx(0.5 + 0.5 * 100.0 / 3.0));
    bn.eval();
    const Tensor before = bn.running_mean().clone();
    Var z = bn(Var(x));
    CHECK(allclose(bn.running_mean(), before, 0.f, 0.f));  // eval does not update
    const float expect = (1.f - 2.f) / std::sqrt(bn.running_var().data()[0] + 1e-5f);
    CHECK(z.data().at({0, 0}) == doctest::Approx(expect).epsilon(1e-5));
    CHECK(std::fabs(z.data().at({0, 0}) - y.data().at({0, 0})) > 0.1f);  // differs from training
  }
  SUBCASE("errors") {
    BatchNorm1d bn({.num_features = 4});
    CHECK_THROWS_WITH_AS(bn(Var(Tensor::zeros({2, 4, 3, 3}))),
                         doctest::Contains("use batch_norm2d after a convolution"), Error);
    CHECK_THROWS_WITH_AS(bn(Var(Tensor::zeros({1, 4}))),
                         doctest::Contains("more than one value per channel"), Error);
    bn.eval();
    CHECK(bn(Var(Tensor::zeros({1, 4}))).shape() == Shape{1, 4});
    BatchNorm2d bn2({.num_features = 4, .affine = false});
    CHECK(bn2.named_parameters().empty());
    CHECK(bn2.named_buffers().size() == 2);
  }
}

TEST_CASE("pooling layers: shapes, values, gradient") {
  Rng rng(5);
  MaxPool2d mp({.kernel_size = 2});
  AvgPool2d ap({.kernel_size = 2, .stride = 1});
  const Tensor x = Tensor::from_vector({1, 1, 2, 2}, {1, 4, 3, 2});
  CHECK(mp(Var(x)).data().to_vector() == std::vector<float>{4});
  CHECK(ap(Var(x)).data().to_vector() == std::vector<float>{2.5f});
  CHECK(mp.options().stride == 2);
  const Tensor big = Tensor::normal({2, 3, 6, 6}, rng);
  CHECK(mp(Var(big)).shape() == Shape{2, 3, 3, 3});
  CHECK(ap(Var(big)).shape() == Shape{2, 3, 5, 5});
  CHECK(check_grad([&](const std::vector<Var>& v) { return ap(v[0]); }, {big}) > 0);
  GradCheckOptions kinks;
  kinks.avoid_kinks = true;
  CHECK(check_grad([&](const std::vector<Var>& v) { return mp(v[0]); }, {big}, kinks) > 0);
  CHECK_THROWS_AS(MaxPool2d({.kernel_size = 2, .padding = 2}), Error);
  CHECK_THROWS_WITH_AS(mp(Var(Tensor::zeros({2, 6, 6}))),
                       doctest::Contains("expected input (N, C, H, W)"), Error);
}

TEST_CASE("Dropout: training masks and scales, eval is identity, masks follow the rng state") {
  Rng rng(6);
  Dropout drop({.p = 0.5f}, rng);
  const Tensor x = Tensor::ones({1000});
  const Rng::State state = drop.rng().state();
  const Tensor y = drop(Var(x)).data().clone();
  int zeros = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    CHECK((y.data()[i] == 0.f || y.data()[i] == 2.f));
    zeros += y.data()[i] == 0.f;
  }
  CHECK(zeros > 400);
  CHECK(zeros < 600);
  // Restoring the generator's state reproduces the mask (resumable runs).
  drop.rng().set_state(state);
  CHECK(allclose(drop(Var(x)).data(), y, 0.f, 0.f));
  drop.eval();
  CHECK(allclose(drop(Var(x)).data(), x, 0.f, 0.f));
  CHECK_THROWS_AS(Dropout({.p = 1.f}, rng), Error);
  // Gradient: mask/(1−p), through the same mask.
  drop.train();
  Var xv(Tensor::ones({50}), true);
  Var out = drop(xv);
  sum(out).backward();
  CHECK(allclose(xv.grad(), out.data(), 0.f, 0.f));
}

TEST_CASE("activations and flatten") {
  Rng rng(7);
  const Tensor x = Tensor::from_vector({1, 4}, {-2.f, -0.5f, 0.5f, 2.f});
  CHECK(ReLU()(Var(x)).data().to_vector() == std::vector<float>{0, 0, 0.5f, 2});
  CHECK(Hardtanh()(Var(x)).data().to_vector() == std::vector<float>{-1, -0.5f, 0.5f, 1});
  CHECK(Hardtanh({.min_val = 0.f, .max_val = 1.f})(Var(x)).data().to_vector() ==
        std::vector<float>{0, 0, 0.5f, 1});
  CHECK(Tanh()(Var(x)).data().at({0, 3}) == doctest::Approx(std::tanh(2.f)));
  CHECK_THROWS_AS(Hardtanh({.min_val = 1.f, .max_val = 1.f}), Error);
  const Tensor t = Tensor::normal({2, 3, 2, 2}, rng);
  Tanh tanh_layer;
  CHECK(check_grad([&](const std::vector<Var>& v) { return tanh_layer(v[0]); }, {t}) > 0);
  Flatten f;
  CHECK(f(Var(t)).shape() == Shape{2, 12});
  CHECK(check_grad([&](const std::vector<Var>& v) { return f(v[0]); }, {t}) > 0);
}
