// QNN k-bit quantization (Hubara et al., arXiv:1609.07061): "qnn_linear" (uniform levels)
// and "qnn_log" (powers of two, LogQuant = Clip(AP2(x), −max, max)).
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/check.h"
#include "core/json_args.h"
#include "core/ap2.h"
#include "quant/functions.h"
#include "quant/internal/loops.h"
#include "quant/internal/options.h"
#include "quant/quantizer.h"

namespace lowbit {

Var qnn_linear(const Var& x, int bits, float lo, float hi) {
  LB_CHECK(bits >= 1 && bits <= 16, "qnn_linear: bits must be in [1, 16], got ", bits);
  LB_CHECK(lo < hi && std::isfinite(lo) && std::isfinite(hi),
           "qnn_linear: expected finite lo < hi, got [", lo, ", ", hi, "]");
  const float steps = static_cast<float>((1 << bits) - 1);
  const float delta = (hi - lo) / steps;
  const float inv_delta = steps / (hi - lo);
  // q from the integer level index, so equal levels are bit-identical floats.
  Tensor q = detail::map(x.data(), [=](float v) {
    const float c = v < lo ? lo : (v > hi ? hi : v);
    const float level = std::floor((c - lo) * inv_delta + 0.5f);
    return lo + delta * std::fmin(level, steps);
  });
  const Tensor xd = x.data();
  return make_result(std::move(q), {x}, "qnn_linear",
                     [xd, lo, hi](const Tensor& g, GradInputs& in) {
                       in.add(0, detail::zip(g, xd, [lo, hi](float gi, float xi) {
                                return xi >= lo && xi <= hi ? gi : 0.f;
                              }));
                     });
}

Var qnn_log(const Var& x, int bits, float max_value) {
  LB_CHECK(bits >= 2 && bits <= 8, "qnn_log: bits must be in [2, 8], got ", bits,
           " (one bit is the sign; 1-bit log quantization is ste_sign)");
  LB_CHECK(max_value > 0 && std::isfinite(max_value), "qnn_log: max_value must be > 0, got ",
           max_value);
  const float top = ap2(max_value);  // 2^e_max
  const int n_exponents = (1 << (bits - 1)) - 1;
  const float bottom = std::ldexp(top, -(n_exponents - 1));  // 2^e_min
  Tensor q = detail::map(x.data(), [=](float v) {
    const float a = ap2(std::fabs(v));
    const float m = a > top ? top : (a < bottom ? 0.f : a);
    return v < 0.f ? -m : m;
  });
  const Tensor xd = x.data();
  return make_result(std::move(q), {x}, "qnn_log", [xd, top](const Tensor& g, GradInputs& in) {
    in.add(0, detail::zip(g, xd,
                          [top](float gi, float xi) { return std::fabs(xi) <= top ? gi : 0.f; }));
  });
}

Var ap2(const Var& x) {
  return make_result(ap2(x.data()), {x}, "ap2",
                     [](const Tensor& g, GradInputs& in) { in.add(0, g); });
}

// ---- classes

namespace {

/// "qnn_linear": {"bits": 2, "min": -1.0, "max": 1.0}.
class QnnLinear final : public Quantizer {
 public:
  struct Options {
    int bits = 2;
    float min = -1.f;
    float max = 1.f;
  };
  explicit QnnLinear(Options o) : o_(o) {
    LB_CHECK(o_.bits >= 1 && o_.bits <= 16, "qnn_linear: bits must be in [1, 16], got ", o_.bits);
    LB_CHECK(o_.min < o_.max, "qnn_linear: min must be < max, got ", o_.min, " and ", o_.max);
  }
  Var operator()(const Var& x) const override { return qnn_linear(x, o_.bits, o_.min, o_.max); }
  std::string_view name() const override { return "qnn_linear"; }
  int precision() const override { return o_.bits; }
  nlohmann::json config() const override {
    return {{"bits", o_.bits}, {"min", float_to_json(o_.min)}, {"max", float_to_json(o_.max)}};
  }
  static QuantizerPtr from_json(const nlohmann::json& spec, const std::string& path) {
    JsonArgs a(spec, path);
    a.allow({"name"});
    Options o;
    o.bits = detail::read_bits(a, 1, 16, o.bits);
    o.min = static_cast<float>(a.number("min", o.min));
    o.max = static_cast<float>(a.number("max", o.max));
    a.finish();
    if (!(o.min < o.max))
      json_fail(path, "min must be < max, got " + std::to_string(o.min) + " and " +
                          std::to_string(o.max));
    return std::make_shared<QnnLinear>(o);
  }

 private:
  Options o_;
};

/// "qnn_log": {"bits": 4, "max": 1.0}.
class QnnLog final : public Quantizer {
 public:
  struct Options {
    int bits = 4;
    float max = 1.f;
  };
  explicit QnnLog(Options o) : o_(o) {
    LB_CHECK(o_.bits >= 2 && o_.bits <= 8, "qnn_log: bits must be in [2, 8], got ", o_.bits);
    LB_CHECK(o_.max > 0, "qnn_log: max must be > 0, got ", o_.max);
  }
  Var operator()(const Var& x) const override { return qnn_log(x, o_.bits, o_.max); }
  std::string_view name() const override { return "qnn_log"; }
  int precision() const override { return o_.bits; }
  int64_t levels() const override { return (int64_t{1} << o_.bits) - 1; }
  nlohmann::json config() const override {
    return {{"bits", o_.bits}, {"max", float_to_json(o_.max)}};
  }
  static QuantizerPtr from_json(const nlohmann::json& spec, const std::string& path) {
    JsonArgs a(spec, path);
    a.allow({"name"});
    Options o;
    o.bits = detail::read_bits(a, 2, 8, o.bits);
    o.max = static_cast<float>(a.positive("max", o.max));
    a.finish();
    return std::make_shared<QnnLog>(o);
  }

 private:
  Options o_;
};

}  // namespace

QuantizerPtr qnn_linear_from_json(const nlohmann::json& spec, const std::string& path) {
  return QnnLinear::from_json(spec, path);
}
QuantizerPtr qnn_log_from_json(const nlohmann::json& spec, const std::string& path) {
  return QnnLog::from_json(spec, path);
}

}  // namespace lowbit
