// BNN / BinaryConnect binarization (Courbariaux et al., arXiv:1511.00363 and
// arXiv:1602.02830): "ste_sign" (activations, saturated STE), "binary_connect" (weights,
// plain STE), "stochastic_sign" (hard-sigmoid probability).
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

Var ste_sign(const Var& x, float clip_value) {
  LB_CHECK(clip_value > 0, "ste_sign: clip_value must be > 0 (kNoClip for none), got ", clip_value);
  Tensor q = detail::map(x.data(), [](float v) { return v >= 0.f ? 1.f : -1.f; });
  return make_result(std::move(q), {x}, "ste_sign", detail::clipped_ste(x.data(), clip_value));
}

Var stochastic_sign(const Var& x, Rng& rng, float clip_value) {
  LB_CHECK(clip_value > 0, "stochastic_sign: clip_value must be > 0 (kNoClip for none), got ",
           clip_value);
  const Tensor xd = x.data();
  Tensor q = Tensor::empty(xd.shape());
  const float* src = xd.data();
  float* dst = q.data();
  // Serial on purpose: one generator drawn in element order keeps runs reproducible for any
  // thread count; on activations keyed by the global sample, so the draws do not depend on
  // the number of processes (core/collective.h).
  draw_uniforms_for_batch(rng, xd.dim() > 0 ? xd.size(0) : 0, xd.numel(), dst);
  for (int64_t i = 0, n = xd.numel(); i < n; ++i) {
    const float p = std::fmin(std::fmax((src[i] + 1.f) * 0.5f, 0.f), 1.f);
    dst[i] = dst[i] < p ? 1.f : -1.f;
  }
  return make_result(std::move(q), {x}, "stochastic_sign", detail::clipped_ste(xd, clip_value));
}

// ---- classes

namespace {

/// "ste_sign": {"clip_value": 1.0} (null: plain STE).
class SteSign final : public Quantizer {
 public:
  struct Options {
    float clip_value = 1.f;
  };
  explicit SteSign(Options o) : o_(o) {}
  Var operator()(const Var& x) const override { return ste_sign(x, o_.clip_value); }
  std::string_view name() const override { return "ste_sign"; }
  bool is_elementwise() const override { return true; }
  std::vector<float> fixed_levels() const override { return {-1.f, 1.f}; }
  int precision() const override { return 1; }
  nlohmann::json config() const override {
    return {{"clip_value", detail::clip_to_json(o_.clip_value)}};
  }
  static QuantizerPtr from_json(const nlohmann::json& spec, const std::string& path) {
    JsonArgs a(spec, path);
    a.allow({"name"});
    Options o;
    o.clip_value = detail::read_clip(a, "clip_value", o.clip_value);
    a.finish();
    return std::make_shared<SteSign>(o);
  }

 private:
  Options o_;
};

/// "binary_connect": sign with the plain STE (no options). With "clip_latent": 1 on the
/// layer this is BinaryConnect's / BNN's deterministic weight binarization.
class BinaryConnect final : public Quantizer {
 public:
  Var operator()(const Var& x) const override { return ste_sign(x, kNoClip); }
  std::string_view name() const override { return "binary_connect"; }
  bool is_elementwise() const override { return true; }
  std::vector<float> fixed_levels() const override { return {-1.f, 1.f}; }
  int precision() const override { return 1; }
  nlohmann::json config() const override { return nlohmann::json::object(); }
  static QuantizerPtr from_json(const nlohmann::json& spec, const std::string& path) {
    JsonArgs a(spec, path);
    a.allow({"name"});
    a.finish();
    return std::make_shared<BinaryConnect>();
  }
};

/// "stochastic_sign": {"clip_value": 1.0}. Training: stochastic; evaluation: ste_sign.
class StochasticSign final : public Quantizer {
 public:
  struct Options {
    float clip_value = 1.f;
  };
  explicit StochasticSign(Options o) : o_(o) {}
  Var operator()(const Var& x) const override {
    return training_ ? stochastic_sign(x, rng_, o_.clip_value) : ste_sign(x, o_.clip_value);
  }
  std::string_view name() const override { return "stochastic_sign"; }
  bool is_elementwise() const override { return true; }
  std::vector<float> fixed_levels() const override { return {-1.f, 1.f}; }
  int precision() const override { return 1; }
  nlohmann::json config() const override {
    return {{"clip_value", detail::clip_to_json(o_.clip_value)}};
  }
  Rng* rng() override { return &rng_; }
  static QuantizerPtr from_json(const nlohmann::json& spec, const std::string& path) {
    JsonArgs a(spec, path);
    a.allow({"name"});
    Options o;
    o.clip_value = detail::read_clip(a, "clip_value", o.clip_value);
    a.finish();
    return std::make_shared<StochasticSign>(o);
  }

 private:
  Options o_;
  mutable Rng rng_{0};  // reseeded by the owning layer
};

}  // namespace

QuantizerPtr ste_sign_from_json(const nlohmann::json& spec, const std::string& path) {
  return SteSign::from_json(spec, path);
}
QuantizerPtr binary_connect_from_json(const nlohmann::json& spec, const std::string& path) {
  return BinaryConnect::from_json(spec, path);
}
QuantizerPtr stochastic_sign_from_json(const nlohmann::json& spec, const std::string& path) {
  return StochasticSign::from_json(spec, path);
}

}  // namespace lowbit
