// TNN — Ternary Neural Networks (Alemdar et al., arXiv:1609.00222; reference: slide-lig/
// tnn-train StochasticFire.lua, TernaryConnectLinear.lua): "tnn", ternary activations or
// weights, deterministic threshold or stochastic firing.
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/collective.h"
#include "core/json_args.h"
#include "core/random.h"
#include "quant/functions.h"
#include "quant/internal/loops.h"
#include "quant/internal/options.h"
#include "quant/quantizer.h"

namespace lowbit {

Var ternary_threshold(const Var& x, float threshold, float clip_value) {
  LB_CHECK(threshold >= 0, "ternary_threshold: threshold must be >= 0, got ", threshold);
  LB_CHECK(clip_value > 0, "ternary_threshold: clip_value must be > 0 (kNoClip for none), got ",
           clip_value);
  Tensor q = detail::map(x.data(), [threshold](float v) {
    return v > threshold ? 1.f : (v < -threshold ? -1.f : 0.f);
  });
  return make_result(std::move(q), {x}, "ternary_threshold",
                     detail::clipped_ste(x.data(), clip_value));
}

Var stochastic_ternary(const Var& x, Rng& rng, float clip_value) {
  LB_CHECK(clip_value > 0, "stochastic_ternary: clip_value must be > 0 (kNoClip for none), got ",
           clip_value);
  const Tensor xd = x.data();
  Tensor q = Tensor::empty(xd.shape());
  const float* src = xd.data();
  float* dst = q.data();
  // Serial: one generator in element order, reproducible for any thread count; on
  // activations keyed by the global sample, so the draws do not depend on the number of
  // processes (core/collective.h).
  draw_uniforms_for_batch(rng, xd.dim() > 0 ? xd.size(0) : 0, xd.numel(), dst);
  for (int64_t i = 0, n = xd.numel(); i < n; ++i) {
    const float c = std::fmin(std::fmax(src[i], -1.f), 1.f);
    // c + u < 1 for u < 1, so the floor never reaches 2; clamp guards float rounding.
    dst[i] = std::fmin(std::floor(c + dst[i]), 1.f);
  }
  return make_result(std::move(q), {x}, "stochastic_ternary", detail::clipped_ste(xd, clip_value));
}

namespace {

/// "tnn": {"threshold": 0.5, "stochastic": false, "clip_value": 1.0}. Stochastic firing
/// samples only in training; evaluation uses the threshold (0.5 = TNN's round(x)).
class Tnn final : public Quantizer {
 public:
  struct Options {
    float threshold = 0.5f;
    bool stochastic = false;
    float clip_value = 1.f;
  };
  explicit Tnn(Options o) : o_(o) {}
  Var operator()(const Var& x) const override {
    if (o_.stochastic && training_) return stochastic_ternary(x, rng_, o_.clip_value);
    return ternary_threshold(x, o_.threshold, o_.clip_value);
  }
  std::string_view name() const override { return "tnn"; }
  bool is_elementwise() const override { return true; }
  std::vector<float> fixed_levels() const override { return {-1.f, 0.f, 1.f}; }
  int precision() const override { return 2; }
  int64_t levels() const override { return 3; }
  nlohmann::json config() const override {
    return {{"threshold", float_to_json(o_.threshold)},
            {"stochastic", o_.stochastic},
            {"clip_value", detail::clip_to_json(o_.clip_value)}};
  }
  Rng* rng() override { return o_.stochastic ? &rng_ : nullptr; }
  static QuantizerPtr from_json(const nlohmann::json& spec, const std::string& path) {
    JsonArgs a(spec, path);
    a.allow({"name"});
    Options o;
    o.threshold = static_cast<float>(a.non_negative("threshold", o.threshold));
    o.stochastic = a.boolean("stochastic", o.stochastic);
    o.clip_value = detail::read_clip(a, "clip_value", o.clip_value);
    a.finish();
    return std::make_shared<Tnn>(o);
  }

 private:
  Options o_;
  mutable Rng rng_{0};  // reseeded by the owning layer
};

}  // namespace

QuantizerPtr tnn_from_json(const nlohmann::json& spec, const std::string& path) {
  return Tnn::from_json(spec, path);
}

}  // namespace lowbit
