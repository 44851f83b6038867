// Threshold folding: sign(BN(y)) and ternary quantizers after batch norm become per-channel
// comparisons that agree with the float layers for every tested float y — at the
// thresholds, their neighbouring floats, ±0, huge values — with γ > 0, γ < 0 and γ = 0
// (β positive, negative, zero), shift batch norm, activations in between, and a quantizer
// that cannot be folded.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "packed/thresholds.h"
#include "core/random.h"
#include "layers/activation.h"
#include "layers/batch_norm.h"
#include "layers/dropout.h"
#include "layers/flatten.h"
#include "layers/linear.h"
#include "layers/shift_batch_norm.h"
#include "quant/registry.h"

using namespace lowbit;
using namespace lowbit::packed;

namespace {

/// Sets BN parameters and running statistics from vectors (C channels).
void set_bn(BatchNorm& bn, const std::vector<float>& gamma, const std::vector<float>& beta,
            const std::vector<float>& mean, const std::vector<float>& var) {
  std::copy(gamma.begin(), gamma.end(), bn.weight().data().data());
  std::copy(beta.begin(), beta.end(), bn.bias().data().data());
  std::copy(mean.begin(), mean.end(), bn.running_mean().data());
  std::copy(var.begin(), var.end(), bn.running_var().data());
}

/// Test values for channel thresholds: random, around each threshold, special values.
std::vector<float> probe_values(const ChannelThresholds& th, Rng& rng) {
  std::vector<float> v = {0.f, -0.f, 1.f, -1.f, 1e-30f, -1e-30f, 1e20f, -1e20f,
                          std::numeric_limits<float>::denorm_min(),
                          -std::numeric_limits<float>::denorm_min()};
  for (int i = 0; i < 200; ++i) v.push_back(3.f * rng.normal());
  for (const auto* t : {&th.t0, &th.t1})
    for (float x : *t) {
      if (!std::isfinite(x)) continue;
      float lo = x, hi = x;
      for (int s = 0; s < 4; ++s) {
        v.push_back(lo);
        v.push_back(hi);
        lo = std::nextafter(lo, -INFINITY);
        hi = std::nextafter(hi, INFINITY);
      }
    }
  return v;
}

/// For every probe value y (in every channel at once) the threshold rule equals q(chain(y)).
void check_agrees(const std::vector<Module*>& chain, Quantizer& q, const ChannelThresholds& th,
                  int64_t C, bool four_d) {
  Rng rng(3);
  int64_t compared = 0;
  for (float y : probe_values(th, rng)) {
    NoGradGuard ng;
    Tensor t = four_d ? Tensor::full({2, C, 1, 1}, y) : Tensor::full({2, C}, y);
    Var v(t);
    for (Module* m : chain) v = m->forward(v);
    const Tensor want = q(v).data();
    const Tensor got = th.apply(t);
    for (int64_t i = 0; i < t.numel(); ++i) {
      CAPTURE(y);
      CAPTURE(i);
      REQUIRE(got.data()[i] == want.data()[i]);
      ++compared;
    }
  }
  CHECK(compared > 400);
}

}  // namespace

TEST_CASE("fold: sign(BN(y)) with gamma > 0, < 0 and = 0 agrees exactly") {
  register_quant_modules();
  const int64_t C = 7;
  BatchNorm1d bn({.num_features = C});
  bn.eval();
  // γ: positive, negative, zero with β > 0, β < 0, β = 0, β = -0, tiny γ.
  set_bn(bn, {1.5f, -0.75f, 0.f, 0.f, 0.f, 0.f, 1e-20f},
         {0.3f, 0.2f, 0.5f, -0.5f, 0.f, -0.f, -1e-3f},
         {0.1f, -2.f, 3.f, 3.f, 3.f, 3.f, 0.f}, {2.f, 0.5f, 1.f, 1.f, 1.f, 1.f, 1e-4f});
  QuantizerPtr q = make_quantizer("ste_sign");
  std::string why;
  const auto th = fold_thresholds({&bn}, *q, C, false, &why);
  REQUIRE_MESSAGE(th.has_value(), why);
  CHECK_FALSE(th->ternary);
  CHECK(th->dir[0] == 1);
  CHECK(th->dir[1] == -1);  // γ < 0 flips
  CHECK(th->dir[2] == 0);   // γ = 0: constant sign(β)
  CHECK(th->t0[2] == 1.f);
  CHECK(th->t0[3] == -1.f);
  CHECK(th->t0[4] == 1.f);  // sign(0) = +1
  CHECK(th->t0[5] == 1.f);  // -0 ≥ 0
  // τ = μ − β·σ/γ for channel 0, up to rounding.
  const float tau = 0.1f - 0.3f * std::sqrt(2.f + 1e-5f) / 1.5f;
  CHECK(th->t0[0] == doctest::Approx(tau).epsilon(1e-5));
  check_agrees({&bn}, *q, *th, C, false);
}

TEST_CASE("fold: batch_norm2d + hardtanh + ste_sign, shift batch norm, ftprop's sign(0) = -1") {
  register_quant_modules();
  const int64_t C = 4;
  BatchNorm2d bn({.num_features = C});
  bn.eval();
  set_bn(bn, {2.f, -1.f, 0.5f, 0.f}, {-0.1f, 0.f, 0.7f, -0.2f}, {1.f, 0.f, -1.f, 0.f},
         {1.f, 4.f, 0.25f, 1.f});
  Hardtanh ht;
  QuantizerPtr q = make_quantizer("ste_sign");
  std::string why;
  auto th = fold_thresholds({&bn, &ht}, *q, C, true, &why);
  REQUIRE_MESSAGE(th.has_value(), why);
  check_agrees({&bn, &ht}, *q, *th, C, true);

  ShiftBatchNorm sbn({.num_features = C});
  sbn.eval();
  const std::vector<float> g = {1.3f, -0.6f, 0.f, 3.f}, b = {0.2f, -0.4f, 0.1f, 0.f};
  std::copy(g.begin(), g.end(), sbn.weight().data().data());
  std::copy(b.begin(), b.end(), sbn.bias().data().data());
  std::fill_n(sbn.running_mean().data(), C, 0.25f);
  std::fill_n(sbn.running_var().data(), C, 3.f);
  QuantizerPtr ft = make_quantizer("ftprop");
  th = fold_thresholds({&sbn}, *ft, C, false, &why);
  REQUIRE_MESSAGE(th.has_value(), why);
  check_agrees({&sbn}, *ft, *th, C, false);
  // Without a per-channel layer: one rule; ftprop's 0 -> -1 puts the step just above 0.
  th = fold_thresholds({}, *ft, 1, false, &why);
  REQUIRE(th.has_value());
  CHECK(th->channels == 1);
  CHECK(th->value(0, 0.f) == -1.f);
  CHECK(th->value(0, std::numeric_limits<float>::denorm_min()) == 1.f);
}

TEST_CASE("fold: ternary quantizer (tnn) after batch norm and relu") {
  register_quant_modules();
  const int64_t C = 5;
  BatchNorm1d bn({.num_features = C});
  bn.eval();
  set_bn(bn, {1.f, -2.f, 0.f, 0.f, 0.3f}, {0.f, 0.1f, 0.f, 0.7f, -0.4f}, {0.f, 1.f, 0.f, 0.f, 2.f},
         {1.f, 1.f, 1.f, 1.f, 9.f});
  QuantizerPtr tnn = make_quantizer({{"name", "tnn"}, {"threshold", 0.4}});
  std::string why;
  auto th = fold_thresholds({&bn}, *tnn, C, false, &why);
  REQUIRE_MESSAGE(th.has_value(), why);
  CHECK(th->ternary);
  check_agrees({&bn}, *tnn, *th, C, false);
  ReLU relu;  // outputs {0, +1} only
  th = fold_thresholds({&bn, &relu}, *tnn, C, false, &why);
  REQUIRE_MESSAGE(th.has_value(), why);
  check_agrees({&bn, &relu}, *tnn, *th, C, false);
}

TEST_CASE("fold: a k-bit quantizer is refused with a reason") {
  register_quant_modules();
  BatchNorm1d bn({.num_features = 3});
  bn.eval();
  QuantizerPtr q = make_quantizer({{"name", "qnn_linear"}, {"bits", 2}});
  std::string why;
  CHECK_FALSE(fold_thresholds({&bn}, *q, 3, false, &why).has_value());
  CHECK(why.find("qnn_linear") != std::string::npos);
  QuantizerPtr d = make_quantizer({{"name", "dorefa"}, {"bits", 1}});  // {0, 1}: fine as ternary
  auto th = fold_thresholds({&bn}, *d, 3, false, &why);
  REQUIRE_MESSAGE(th.has_value(), why);
  check_agrees({&bn}, *d, *th, 3, false);
}

TEST_CASE("the converter asks the objects: threshold quantizers and inference traits") {
  // Quantizers: elementwise with values in {−1, 0, +1}, whatever their name.
  CHECK(is_threshold_quantizer(*make_quantizer("ste_sign")));
  CHECK(is_threshold_quantizer(*make_quantizer("tnn")));
  CHECK(is_threshold_quantizer(*make_quantizer("ftprop")));
  CHECK(is_threshold_quantizer(
      *make_quantizer({{"name", "qnn_linear"}, {"bits", 1}, {"grid", "min_max"}})));
  CHECK_FALSE(is_threshold_quantizer(*make_quantizer("qnn_linear")));  // {−1, −½, 0, ½}
  CHECK_FALSE(is_threshold_quantizer(*make_quantizer("twn")));         // not elementwise
  CHECK_FALSE(is_threshold_quantizer(*make_quantizer("bwn")));

  // Layers: what export does with each.
  using Role = InferenceTraits::Role;
  Rng rng(1);
  const InferenceTraits bn1 = BatchNorm1d({.num_features = 5}).inference_traits();
  CHECK(bn1.role == Role::Monotone);
  CHECK(bn1.channels == 5);
  CHECK(bn1.probe_rank == 2);
  const InferenceTraits bn2 = BatchNorm2d({.num_features = 7}).inference_traits();
  CHECK(bn2.role == Role::Monotone);
  CHECK(bn2.channels == 7);
  CHECK(bn2.probe_rank == 4);
  const InferenceTraits sbn = ShiftBatchNorm({.num_features = 3}).inference_traits();
  CHECK(sbn.role == Role::Monotone);
  CHECK(sbn.channels == 3);
  CHECK(ReLU().inference_traits().role == Role::Monotone);
  CHECK(ReLU().inference_traits().channels == 0);
  CHECK(Hardtanh().inference_traits().role == Role::Monotone);
  CHECK(Tanh().inference_traits().role == Role::Monotone);
  CHECK(Dropout({.p = 0.5f}, rng).inference_traits().role == Role::Identity);
  CHECK(Flatten().inference_traits().role == Role::Reshape);
  CHECK(Linear({.in_features = 2, .out_features = 2}, rng).inference_traits().role == Role::Compute);
}
