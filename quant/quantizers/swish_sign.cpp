// SwishSign (Darabi et al., "BNN+", arXiv:1812.11800; larq's SwishSign): sign in the forward
// pass, the derivative of a swish-shaped surrogate in the backward pass.
//
// This file is the worked example of docs/quantizers.md ("Add your own quantizer"): the
// function, the class with its options and factory, all in one file; registration is the one
// line LB_BUILTIN_QUANTIZER(swish_sign) in quant/registry.cpp; tests in
// tests/quant/swish_sign_test.cpp.
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "quant/functions.h"
#include "quant/internal/loops.h"
#include "quant/quantizer.h"

namespace lowbit {

// (a) The function: forward and pseudo-gradient together.
Var swish_sign(const Var& x, float beta) {
  LB_CHECK(beta > 0 && std::isfinite(beta), "swish_sign: beta must be > 0, got ", beta);
  Tensor q = detail::map(x.data(), [](float v) { return v >= 0.f ? 1.f : -1.f; });
  const Tensor xd = x.data();
  return make_result(std::move(q), {x}, "swish_sign", [xd, beta](const Tensor& g, GradInputs& in) {
    // dL/dx = g·β(2 − βx·tanh(βx/2)) / (1 + cosh(βx))
    in.add(0, detail::zip(g, xd, [beta](float gi, float xi) {
             const float bx = beta * xi;
             return gi * beta * (2.f - bx * std::tanh(0.5f * bx)) / (1.f + std::cosh(bx));
           }));
  });
}

// (b) The class: options with defaults, validated once; config() for the round trip.
namespace {

/// "swish_sign": {"beta": 5.0}.
class SwishSign final : public Quantizer {
 public:
  struct Options {
    float beta = 5.f;
  };
  explicit SwishSign(Options o) : o_(o) {}
  Var operator()(const Var& x) const override { return swish_sign(x, o_.beta); }
  std::string_view name() const override { return "swish_sign"; }
  bool is_elementwise() const override { return true; }
  std::vector<float> fixed_levels() const override { return {-1.f, 1.f}; }
  int precision() const override { return 1; }
  nlohmann::json config() const override { return {{"beta", float_to_json(o_.beta)}}; }

  static QuantizerPtr from_json(const nlohmann::json& spec, const std::string& path) {
    JsonArgs a(spec, path);  // errors name the JSON path of the option
    a.allow({"name"});
    Options o;
    o.beta = static_cast<float>(a.positive("beta", o.beta));
    a.finish();  // rejects unknown options ("betta" -> did you mean "beta"?)
    return std::make_shared<SwishSign>(o);
  }

 private:
  Options o_;
};

}  // namespace

// (c) The factory the registry line refers to: <registry name>_from_json.
QuantizerPtr swish_sign_from_json(const nlohmann::json& spec, const std::string& path) {
  return SwishSign::from_json(spec, path);
}

}  // namespace lowbit
