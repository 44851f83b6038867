// Exact forward values and exact pseudo-gradients of every quantizer function on hand-made
// inputs: zeros, the ±1 boundaries of the straight-through masks and the thresholds.
#include "quant/functions.h"

#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "core/check.h"
#include "core/collective.h"
#include "core/ops.h"
#include "core/random.h"
#include "tests/support/gradcheck.h"

using namespace lowbit;

namespace {

struct Probe {
  std::vector<float> q;
  std::vector<float> grad;
};

/// q = f(x) for a 1-D x, and dL/dx for the seed gradient g (ones when empty).
Probe run(const std::function<Var(const Var&)>& f, const std::vector<float>& x,
          const std::vector<float>& g = {}, const Shape& shape = {}) {
  Var v(Tensor::from_vector(shape.empty() ? Shape{int64_t(x.size())} : shape, x), true);
  Var y = f(v);
  REQUIRE(y.shape() == v.shape());
  y.backward(g.empty() ? Tensor::ones(y.shape()) : Tensor::from_vector(y.shape(), g));
  return {y.data().to_vector(), v.grad().to_vector()};
}

void check_close(const std::vector<float>& got, const std::vector<float>& want, float tol = 1e-6f) {
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": got " << got[i] << ", want " << want[i]);
    CHECK(std::fabs(got[i] - want[i]) <= tol * (1.f + std::fabs(want[i])));
  }
}

}  // namespace

TEST_CASE("ste_sign: +1 at 0, clipped STE passes |x| <= clip inclusive") {
  const std::vector<float> x = {-2.f, -1.f, -0.5f, 0.f, 0.5f, 1.f, 2.f};
  Probe p = run([](const Var& v) { return ste_sign(v); }, x);
  check_close(p.q, {-1, -1, -1, 1, 1, 1, 1});
  check_close(p.grad, {0, 1, 1, 1, 1, 1, 0});
  // The upstream gradient is passed through, not replaced by 1.
  p = run([](const Var& v) { return ste_sign(v); }, x, {7, 6, 5, 4, 3, 2, 1});
  check_close(p.grad, {0, 6, 5, 4, 3, 2, 0});
  p = run([](const Var& v) { return ste_sign(v, 0.5f); }, x);
  check_close(p.grad, {0, 0, 1, 1, 1, 0, 0});
  p = run([](const Var& v) { return ste_sign(v, kNoClip); }, x);  // plain STE (weights)
  check_close(p.grad, {1, 1, 1, 1, 1, 1, 1});
  p = run([](const Var& v) { return ste_sign(v, kNoClip); }, x, {7, 6, 5, 4, 3, 2, 1});
  check_close(p.grad, {7, 6, 5, 4, 3, 2, 1});  // handed on whole, beyond |x| = 1 too
  CHECK_THROWS_AS(ste_sign(Var(Tensor::zeros({2})), 0.f), Error);
}

TEST_CASE("stochastic_sign: P(+1) = clip((x+1)/2, 0, 1), drawn from the given Rng") {
  const std::vector<float> x = {-3.f, -1.f, -0.5f, 0.f, 0.25f, 1.f, 3.f};
  Rng rng(7), replay(7);
  Probe p = run([&](const Var& v) { return stochastic_sign(v, rng); }, x);
  for (size_t i = 0; i < x.size(); ++i) {
    const float prob = std::fmin(std::fmax((x[i] + 1.f) / 2.f, 0.f), 1.f);
    CHECK(p.q[i] == (replay.uniform() < prob ? 1.f : -1.f));
  }
  CHECK(p.q[0] == -1.f);  // probability 0
  CHECK(p.q[1] == -1.f);
  CHECK(p.q[5] == 1.f);  // probability 1
  CHECK(p.q[6] == 1.f);
  check_close(p.grad, {0, 1, 1, 1, 1, 1, 0});

  // Frequencies follow the hard sigmoid.
  Rng r2(11);
  Var big(Tensor::full({20000}, -0.5f));  // P(+1) = 0.25
  const std::vector<float> q = stochastic_sign(big, r2).data().to_vector();
  int plus = 0;
  for (float v : q) plus += v > 0;
  CHECK(std::fabs(plus / 20000.0 - 0.25) < 0.015);
}

TEST_CASE("bwn: alpha = mean|W| per output filter, XNOR gradient 1/n + alpha*1{|W|<=1}") {
  const std::vector<float> w = {1.f, -2.f, 0.5f, -0.25f, 0.f, 0.75f};
  const float a0 = 3.5f / 3.f, a1 = 1.f / 3.f, n = 1.f / 3.f;
  Probe p = run([](const Var& v) { return bwn(v); }, w, {}, {2, 3});
  check_close(p.q, {a0, -a0, a0, -a1, a1, a1});  // sign(0) = +1
  check_close(p.grad, {n + a0, n, n + a0, n + a1, n + a1, n + a1});
  p = run([](const Var& v) { return bwn(v, /*per_filter=*/false); }, w, {}, {2, 3});
  check_close(p.q, {0.75f, -0.75f, 0.75f, -0.75f, 0.75f, 0.75f});
  p = run([](const Var& v) { return bwn(v, true, /*xnor_grad=*/false); }, w, {2, 2, 2, 2, 2, 2},
          {2, 3});
  check_close(p.grad, {2, 2, 2, 2, 2, 2});
}

TEST_CASE("xnor_input_scale: K = box filter of the channel mean of |x|") {
  // linear: mean over features.
  Var x(Tensor::from_vector({2, 3}, {1, -2, 3, 0, 0, -6}));
  check_close(xnor_input_scale(x, InputWindow{}).data().to_vector(), {2, 2});
  // conv: x (1, 2, 2, 3), A = mean_c |x| (1, 1, 2, 3), 2x2 window, stride 1, no padding.
  Var xc(Tensor::from_vector({1, 2, 2, 3}, {1, -1, 2, 0, 4, -2,  //
                                            -3, 1, 0, 2, 0, 6}));
  // A = [[2, 1, 1], [1, 2, 4]]; K = [[(2+1+1+2)/4, (1+1+2+4)/4]] = [[1.5, 2]]
  Var k = xnor_input_scale(xc, InputWindow{.kernel_h = 2, .kernel_w = 2, .conv = {}});
  CHECK(k.shape() == Shape{1, 1, 1, 2});
  check_close(k.data().to_vector(), {1.5f, 2.f});
  // With padding 1 the zero border counts in the average (box filter over zero padding).
  Var kp = xnor_input_scale(
      xc, InputWindow{.kernel_h = 2, .kernel_w = 2, .conv = {.stride = 1, .padding = 1}});
  CHECK(kp.shape() == Shape{1, 1, 3, 4});
  CHECK(kp.data().to_vector()[0] == doctest::Approx(0.5));  // only A[0,0] = 2 in the window
}

TEST_CASE("qnn_linear, paper grid: Clip(round(x/s)·s, −1, 1 − s), s = 2^(1−b), ties to even") {
  // 2 bits: s = ½, levels {−1, −½, 0, ½}; x/s = −1.5, −0.5, 0.5 and 1.5 are ties.
  const std::vector<float> x = {-1.5f, -1.f, -0.75f, -0.5f, -0.25f, 0.f,
                                0.25f, 0.4f,  0.5f,   0.75f, 1.f,    1.2f};
  Probe p = run([](const Var& v) { return qnn_linear(v, 2); }, x);
  check_close(p.q, {-1, -1, -1, -0.5f, 0, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f});
  // round(−0.5) = −0 is stored as +0, like every 0 level.
  CHECK(std::signbit(p.q[4]) == false);
  // STE cancelled outside the clip range [minV, maxV] = [−1, ½].
  check_close(p.grad, {0, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0});
  // 3 bits: s = ¼, eight levels −1 .. ¾; 0.125 and 0.375 are ties (to 0 and ½).
  p = run([](const Var& v) { return qnn_linear(v, 3); }, {0.125f, 0.375f, 0.6f, 0.9f, -2.f});
  check_close(p.q, {0, 0.5f, 0.5f, 0.75f, -1});
  CHECK(qnn_linear_levels(2, -1.f, 1.f, QnnGrid::Paper) ==
        std::vector<float>{-1.f, -0.5f, 0.f, 0.5f});
  // A range [0, 1] in 2 bits: s = ¼, levels {0, ¼, ½, ¾}.
  CHECK(qnn_linear_levels(2, 0.f, 1.f, QnnGrid::Paper) ==
        std::vector<float>{0.f, 0.25f, 0.5f, 0.75f});
  // 1 bit is BNN's sign, and min must be a multiple of the step.
  CHECK_THROWS_AS(qnn_linear(Var(Tensor::zeros({1})), 1), Error);
  CHECK_THROWS_AS(qnn_linear(Var(Tensor::zeros({1})), 2, -1.f, 0.5f), Error);
}

TEST_CASE("qnn_linear, min_max grid: 2^k levels from lo to hi inclusive, ties to even") {
  const std::vector<float> x = {-1.5f, -1.f, -0.5f, -0.2f, 0.f, 0.2f, 0.6f, 1.f, 1.2f};
  const float t = 1.f / 3.f;
  auto q2 = [](const Var& v) { return qnn_linear(v, 2, -1.f, 1.f, QnnGrid::MinMax); };
  Probe p = run(q2, x);
  check_close(p.q, {-1, -1, -t, -t, t, t, t, 1, 1});
  check_close(p.grad, {0, 1, 1, 1, 1, 1, 1, 1, 0});
  // 1 bit: {−1, +1}; 0 is the tie (x + 1)/2 = ½, rounded to the even level 0, i.e. −1
  // (ste_sign's BNN convention maps 0 to +1).
  p = run([](const Var& v) { return qnn_linear(v, 1, -1.f, 1.f, QnnGrid::MinMax); },
          {-0.1f, 0.f, 0.1f});
  check_close(p.q, {-1, -1, 1});
  // [0, 3] in 2 bits is the integers 0..3; 0.5, 1.5, 2.5 are ties (to 0, 2, 2).
  p = run([](const Var& v) { return qnn_linear(v, 2, 0.f, 3.f, QnnGrid::MinMax); },
          {-1.f, 0.4f, 0.5f, 0.6f, 1.5f, 2.5f, 3.f, 4.f});
  check_close(p.q, {0, 0, 0, 1, 2, 2, 3, 3});
  check_close(p.grad, {0, 1, 1, 1, 1, 1, 1, 0});
  CHECK(qnn_linear_levels(2, -1.f, 1.f, QnnGrid::MinMax) ==
        std::vector<float>{-1.f, -1.f + 2.f / 3.f, -1.f + 2.f / 3.f * 2.f, 1.f});
}

TEST_CASE("qnn_log: powers of two with underflow to 0 and clipping at max") {
  // bits 3, max 1: levels 0, ±1, ±1/2, ±1/4.
  const std::vector<float> x = {0.f, 0.1f, 0.15f, 0.2f, 0.3f, 0.7f, 0.75f, 1.5f, -0.3f, -3.f};
  Probe p = run([](const Var& v) { return qnn_log(v, 3); }, x);
  check_close(p.q, {0, 0, 0, 0.25f, 0.25f, 0.5f, 1, 1, -0.25f, -1});
  check_close(p.grad, {1, 1, 1, 1, 1, 1, 1, 0, 1, 0});
  p = run([](const Var& v) { return qnn_log(v, 2, 4.f); }, {3.f, 1.f, -5.f, 0.5f});
  check_close(p.q, {4, 0, -4, 0});  // 2 bits: {0, ±max}
  CHECK_THROWS_AS(qnn_log(Var(Tensor::zeros({1})), 1), Error);
}

TEST_CASE("ap2 with STE: forward powers of two, gradient passes") {
  Probe p = run([](const Var& v) { return ap2(v); }, {0.f, 0.3f, -3.f, 1.f}, {1, 2, 3, 4});
  check_close(p.q, {0, 0.25f, -4, 1});
  check_close(p.grad, {1, 2, 3, 4});
}

TEST_CASE("dorefa_activation: quantize_k(clip(x, 0, 1)), STE inside [0, 1]") {
  const std::vector<float> x = {-0.5f, 0.f, 0.1f, 0.2f, 0.5f, 0.7f, 1.f, 1.5f};
  const float t = 1.f / 3.f;
  Probe p = run([](const Var& v) { return dorefa_activation(v, 2); }, x);
  check_close(p.q, {0, 0, 0, t, 2 * t, 2 * t, 1, 1});
  check_close(p.grad, {0, 1, 1, 1, 1, 1, 1, 0});
  // Ties round half to even (tf.round in the reference code): 1 bit, 0.5 -> 0; 2 bits,
  // 3·0.5 = 1.5 -> 2 and 3·float(1/6) = 0.5 exactly in float -> 0.
  p = run([](const Var& v) { return dorefa_activation(v, 1); }, {0.49f, 0.5f, 0.51f, 2.f});
  check_close(p.q, {0, 0, 1, 1});
  REQUIRE(1.f / 6.f * 3.f == 0.5f);
  p = run([](const Var& v) { return dorefa_activation(v, 2); }, {1.f / 6.f, 0.5f});
  check_close(p.q, {0, 2 * t});
}

TEST_CASE(
    "dorefa_weight: 1 bit sign*E|w|; k bits tanh-normalised with the exact surrogate gradient") {
  Probe p =
      run([](const Var& v) { return dorefa_weight(v, 1); }, {1.f, -2.f, 0.5f, 0.f}, {1, 2, 3, 4});
  check_close(p.q, {0.875f, -0.875f, 0.875f, 0.875f});
  check_close(p.grad, {1, 2, 3, 4});

  const std::vector<float> w = {0.5f, -1.f, 0.2f, 2.f};
  const std::vector<float> g = {1.f, 2.f, 3.f, 4.f};
  p = run([](const Var& v) { return dorefa_weight(v, 2); }, w, g);
  const float t = 1.f / 3.f;
  check_close(p.q, {t, -1, t, 1});
  // Worked out offline: g(1 − tanh²w)/M, plus the max term at w = 2 (M = tanh 2).
  check_close(p.grad, {0.8157938f, 0.8712911f, 2.9907121f, 0.0356501f}, 1e-5f);
  // ... and it is the derivative of Σ g·tanh(w)/max|tanh(w)| (central differences in double).
  auto surrogate = [&](std::vector<double> v) {
    double m = 0;
    for (double& e : v) m = std::max(m, std::fabs(std::tanh(e)));
    double s = 0;
    for (size_t i = 0; i < v.size(); ++i) s += g[i] * std::tanh(v[i]) / m;
    return s;
  };
  for (size_t i = 0; i < w.size(); ++i) {
    std::vector<double> hi(w.begin(), w.end()), lo(w.begin(), w.end());
    hi[i] += 1e-6;
    lo[i] -= 1e-6;
    CHECK(p.grad[i] == doctest::Approx((surrogate(hi) - surrogate(lo)) / 2e-6).epsilon(1e-4));
  }
}

TEST_CASE("dorefa_weight: exact rounding ties go half to even (std::nearbyint, as tf.round)") {
  // 2 bits: q = 2·nearbyint(3r)/3 − 1 with r = tanh(w)/(2M) + 1/2, M = max|tanh(w)|.
  // |w| = 10 makes M = tanh(10) = 1 exactly in float, so tanh(w)·0.5 is exact and r is the
  // same with or without a fused multiply-add. w = 0 gives 3r = 1.5 exactly; w = 0.804718792
  // (found by walking the floats near atanh(2/3)) gives tanh = 0.666666627, r = 0.833333313
  // and 3r = 2.5 exactly. Half to even: 1.5 -> 2 and 2.5 -> 2 (half up or away from zero
  // would give 3, q = 1, for the second).
  // tanh as dorefa_weight computes it, at run time (the compiler folds a constant tanh
  // correctly rounded; the C library's tanhf may differ from that in the last bit).
  const auto runtime_tanh = [](float x) {
    volatile float v = x;
    return std::tanh(float(v));
  };
  const float w_tie = 0.804718792f;
  REQUIRE(runtime_tanh(10.f) == 1.f);
  REQUIRE((runtime_tanh(w_tie) * 0.5f + 0.5f) * 3.f == 2.5f);
  REQUIRE((runtime_tanh(0.f) * 0.5f + 0.5f) * 3.f == 1.5f);
  const float t = 1.f / 3.f;
  const std::vector<float> g = {1.f, 2.f, 3.f, 4.f};
  // The largest |tanh w| positive and negative.
  for (const float top : {10.f, -10.f}) {
    INFO("largest weight " << top);
    const std::vector<float> w = {top, w_tie, 0.f, -0.5f};
    Probe p = run([](const Var& v) { return dorefa_weight(v, 2); }, w, g);
    // 3r: 3 or 0 | 2.5 -> 2 | 1.5 -> 2 | 0.8 -> 1
    check_close(p.q, {top > 0 ? 1.f : -1.f, t, t, -t});
    // Backward: g(1 − tanh²w)/M, and at the argmax −sign(t_j)(1 − t_j²)·Σ g_i t_i / M²
    // (worked out here in double from the formula; ties do not change it).
    std::vector<double> want(w.size());
    double dot = 0, md = std::fabs(std::tanh(double(top)));
    for (size_t i = 0; i < w.size(); ++i) dot += g[i] * std::tanh(double(w[i]));
    for (size_t i = 0; i < w.size(); ++i) {
      const double ti = std::tanh(double(w[i]));
      want[i] = g[i] * (1 - ti * ti) / md;
    }
    const double t0 = std::tanh(double(top));
    want[0] -= (t0 >= 0 ? 1.0 : -1.0) * (1 - t0 * t0) * dot / (md * md);
    check_close(p.grad, std::vector<float>(want.begin(), want.end()), 1e-5f);
  }
}

TEST_CASE("twn: delta = 0.7 E|W|, alpha = mean of the kept |W|, plain STE") {
  const std::vector<float> w = {0.1f, -0.2f, 0.9f, -1.2f, 0.05f, 0.4f};
  const float a = 2.5f / 3.f;  // Δ = 0.7·0.475 = 0.3325 keeps 0.9, −1.2, 0.4
  Probe p = run([](const Var& v) { return twn(v); }, w, {1, 2, 3, 4, 5, 6});
  check_close(p.q, {0, 0, a, -a, 0, a});
  check_close(p.grad, {1, 2, 3, 4, 5, 6});
  // |W| = Δ exactly is zeroed (factor 1: Δ = E|W| = 0.75).
  p = run([](const Var& v) { return twn(v, 1.f); }, {0.75f, -1.5f, 0.75f, 0.f});
  check_close(p.q, {0, -1.5f, 0, 0});
  // Per filter with the v3 factor 0.75: Δ0 = 0.45, Δ1 = 0.1875.
  p = run([](const Var& v) { return twn(v, 0.75f, true); }, {1.f, 0.2f, -0.4f, 0.1f}, {}, {2, 2});
  check_close(p.q, {1, 0, -0.4f, 0});
  // Nothing above Δ (all equal weights with factor > 1): all zeros, α = 0.
  p = run([](const Var& v) { return twn(v, 1.5f); }, {0.5f, -0.5f});
  check_close(p.q, {0, 0});
}

TEST_CASE("ttq: threshold t*max|w|, scaled latent gradients, Wp/Wn sums") {
  Var w(Tensor::from_vector({6}, {0.02f, -0.05f, 0.5f, -1.f, 1.f, 0.049f}), true);
  Var wp(Tensor::full({1}, 2.f), true), wn(Tensor::full({1}, 3.f), true);
  Var q = ttq(w, wp, wn);  // Δ = 0.05·1; |w| = Δ is in the zero region
  check_close(q.data().to_vector(), {0, 0, 2, -3, 2, 0});
  q.backward(Tensor::from_vector({6}, {1, 2, 3, 4, 5, 6}));
  check_close(w.grad().to_vector(), {1, 2, 2 * 3, 3 * 4, 2 * 5, 6});
  check_close(wp.grad().to_vector(), {3 + 5});
  check_close(wn.grad().to_vector(), {-4});
}

TEST_CASE("ttq: Wp and Wn gradients match finite differences of the loss") {
  Rng rng(3);
  testing::GradCheckOptions opt;
  opt.only = {1, 2};
  const int64_t n = testing::check_grad(
      [](const std::vector<Var>& v) { return ttq(v[0], v[1], v[2], 0.05f); },
      {Tensor::uniform({4, 5}, rng, -1, 1), Tensor::full({1}, 0.7f), Tensor::full({1}, 1.3f)}, opt);
  CHECK(n == 2);
}

TEST_CASE("tnn: deterministic threshold and stochastic firing") {
  const std::vector<float> x = {-2.f, -1.f, -0.5f, -0.4f, 0.f, 0.5f, 0.51f, 1.f, 1.5f};
  Probe p = run([](const Var& v) { return ternary_threshold(v); }, x);
  check_close(p.q, {-1, -1, 0, 0, 0, 0, 1, 1, 1});  // |x| = 0.5 stays 0
  check_close(p.grad, {0, 1, 1, 1, 1, 1, 1, 1, 0});
  p = run([](const Var& v) { return ternary_threshold(v, 0.5f, kNoClip); }, x);
  check_close(p.grad, {1, 1, 1, 1, 1, 1, 1, 1, 1});

  Rng rng(5), replay(5);
  p = run([&](const Var& v) { return stochastic_ternary(v, rng); }, x);
  for (size_t i = 0; i < x.size(); ++i) {
    const float c = std::fmin(std::fmax(x[i], -1.f), 1.f);
    CHECK(p.q[i] == std::floor(c + replay.uniform()));
  }
  CHECK(p.q[0] == -1.f);  // |c| = 1 fires deterministically
  CHECK(p.q[4] == 0.f);   // c = 0 never fires
  CHECK(p.q[8] == 1.f);
  check_close(p.grad, {0, 1, 1, 1, 1, 1, 1, 1, 0});
  // P(q = sign c) = |c|.
  Rng r2(9);
  const std::vector<float> q =
      stochastic_ternary(Var(Tensor::full({20000}, -0.3f)), r2).data().to_vector();
  int fired = 0, other = 0;
  for (float v : q) {
    fired += v == -1.f;
    other += v != -1.f && v != 0.f;
  }
  CHECK(other == 0);
  CHECK(std::fabs(fired / 20000.0 - 0.3) < 0.015);
}

TEST_CASE("ftprop: sign(0) = -1; FTP-SH backward reduces to g*(1 - tanh^2 z)") {
  const std::vector<float> z = {-2.f, -1.f, -0.5f, 0.f, 0.5f, 1.f, 2.f};
  const std::vector<float> g = {1.f, -2.f, 3.f, 4.f, -5.f, 6.f, 0.f};
  Probe p = run([](const Var& v) { return ftprop_sign(v); }, z, g);
  check_close(p.q, {-1, -1, -1, -1, 1, 1, 1});
  std::vector<float> want;
  for (size_t i = 0; i < z.size(); ++i) {
    const float th = std::tanh(z[i]);
    want.push_back(g[i] * (1 - th * th));
  }
  check_close(p.grad, want, 1e-5f);
  // The same number from the definition: the per-unit target loss |g|·(tanh(−z·t) + 1) with
  // target t = sign(−g), differentiated numerically in double.
  for (size_t i = 0; i < z.size(); ++i) {
    const double t = g[i] > 0 ? -1.0 : (g[i] < 0 ? 1.0 : 0.0);
    auto loss = [&](double zz) { return std::fabs(g[i]) * (std::tanh(-zz * t) + 1.0); };
    const double numeric = (loss(z[i] + 1e-6) - loss(z[i] - 1e-6)) / 2e-6;
    CHECK(p.grad[i] == doctest::Approx(numeric).epsilon(1e-4).scale(1));
  }
  // Without the |g| weighting: sign(g)·(1 − tanh² z).
  p = run([](const Var& v) { return ftprop_sign(v, FtpropGrad::SoftHinge, false); }, z, g);
  for (size_t i = 0; i < z.size(); ++i) {
    const float th = std::tanh(z[i]);
    const float s = g[i] > 0 ? 1.f : (g[i] < 0 ? -1.f : 0.f);
    CHECK(p.grad[i] == doctest::Approx(s * (1 - th * th)));
  }
  // Saturated STE.
  p = run([](const Var& v) { return ftprop_sign(v, FtpropGrad::SaturatedSte); }, z, g);
  check_close(p.grad, {0, -2, 3, 4, -5, 6, 0});
}

TEST_CASE("stochastic activation quantizers in a batch shard draw the global batch's numbers") {
  Rng rng(5);
  const Tensor x = Tensor::uniform({8, 6}, rng, -1.2f, 1.2f);
  for (const bool ternary : {false, true}) {
    CAPTURE(ternary);
    auto quantize = [&](const Tensor& in, Rng& r) {
      return (ternary ? stochastic_ternary(Var(in), r) : stochastic_sign(Var(in), r)).data();
    };
    Rng whole(21), part(21);
    const Tensor full = quantize(x, whole);
    Tensor rows;
    {
      BatchShardScope shard({.first_row = 3, .rows = 4, .global_rows = 8});
      rows = quantize(x.rows(3, 7).clone(), part);
    }
    for (int64_t i = 0; i < 24; ++i) CHECK(rows.data()[i] == full.data()[18 + i]);
    CHECK(whole.state() == part.state());
  }
}

TEST_CASE("NotBatchMajorScope hides the batch shard (a layer's weights draw the same everywhere)") {
  BatchShardScope shard({.first_row = 2, .rows = 4, .global_rows = 8});
  CHECK(active_batch_shard(4) != nullptr);
  {
    NotBatchMajorScope weights;
    CHECK(active_batch_shard(4) == nullptr);
    Rng a(3), b(3);
    const Tensor w = Tensor::full({4, 3}, 0.2f);
    const Tensor q = stochastic_sign(Var(w), a).data();
    for (int64_t i = 0; i < 12; ++i) CHECK(q.data()[i] == (b.uniform() < 0.6f ? 1.f : -1.f));
  }
  CHECK(active_batch_shard(4) != nullptr);
}

