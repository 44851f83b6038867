// QNN k-bit quantization (Hubara et al., arXiv:1609.07061): "qnn_linear" (uniform levels)
// and "qnn_log" (powers of two, LogQuant = Clip(AP2(x), −max, max)).
#include <algorithm>
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

namespace {

/// The grid of qnn_linear: q = (base + level)·step with level in [0, top_level]; the clip
/// range [lo, clip_hi] is where the STE passes gradients.
struct LinearGrid {
  float base;  // Paper: lo/s (an integer); MinMax: 0 (q = lo + Δ·level)
  float step;  // s or Δ
  float top_level;
  float lo, clip_hi;
  bool paper;

  LinearGrid(int bits, float lo_, float hi_, QnnGrid grid) : lo(lo_), paper(grid == QnnGrid::Paper) {
    LB_CHECK(bits >= (paper ? 2 : 1) && bits <= 16, "qnn_linear: bits must be in [",
             paper ? 2 : 1, ", 16], got ", bits,
             paper ? " (1-bit QNN is BNN's sign: ste_sign / binary_connect)" : "");
    LB_CHECK(lo_ < hi_ && std::isfinite(lo_) && std::isfinite(hi_),
             "qnn_linear: expected finite lo < hi, got [", lo_, ", ", hi_, "]");
    const float n = static_cast<float>(1 << bits);
    top_level = n - 1.f;
    if (paper) {
      step = (hi_ - lo_) / n;
      base = lo_ / step;
      LB_CHECK(std::nearbyint(base) == base, "qnn_linear: the paper grid needs min to be a "
               "multiple of the step (max − min)/2^bits = ", step, ", got min ", lo_);
      clip_hi = (base + top_level) * step;
    } else {
      step = (hi_ - lo_) / top_level;
      base = 0.f;
      clip_hi = hi_;
    }
  }
  float level_value(float level) const {
    // + 0.f turns a −0 (round(−0.4)) into +0 so that equal levels are equal bits.
    return paper ? (base + level) * step + 0.f : lo + step * level;
  }
  float operator()(float v) const {
    if (paper) {
      const float k = std::nearbyint(v / step) - base;
      return level_value(k < 0.f ? 0.f : (k > top_level ? top_level : k));
    }
    const float c = v < lo ? lo : (v > clip_hi ? clip_hi : v);
    return level_value(std::fmin(std::nearbyint((c - lo) / step), top_level));
  }
};

}  // namespace

Var qnn_linear(const Var& x, int bits, float lo, float hi, QnnGrid grid) {
  const LinearGrid g(bits, lo, hi, grid);
  Tensor q = detail::map(x.data(), [g](float v) { return g(v); });
  const Tensor xd = x.data();
  const float top = g.clip_hi;
  return make_result(std::move(q), {x}, "qnn_linear",
                     [xd, lo, top](const Tensor& gr, GradInputs& in) {
                       in.add(0, detail::zip(gr, xd, [lo, top](float gi, float xi) {
                                return xi >= lo && xi <= top ? gi : 0.f;
                              }));
                     });
}

std::vector<float> qnn_linear_levels(int bits, float lo, float hi, QnnGrid grid) {
  const LinearGrid g(bits, lo, hi, grid);
  std::vector<float> v;
  for (float level = 0.f; level <= g.top_level; level += 1.f) v.push_back(g.level_value(level));
  return v;
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
    return v < 0.f && m > 0.f ? -m : m;  // +0 below the smallest exponent, never −0
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

/// "qnn_linear": {"bits": 2, "min": -1.0, "max": 1.0, "grid": "paper" | "min_max"}.
class QnnLinear final : public Quantizer {
 public:
  struct Options {
    int bits = 2;
    float min = -1.f;
    float max = 1.f;
    QnnGrid grid = QnnGrid::Paper;
  };
  explicit QnnLinear(Options o) : o_(o) {}
  Var operator()(const Var& x) const override {
    return qnn_linear(x, o_.bits, o_.min, o_.max, o_.grid);
  }
  std::string_view name() const override { return "qnn_linear"; }
  int precision() const override { return o_.bits; }
  bool is_elementwise() const override { return true; }
  std::vector<float> fixed_levels() const override {
    return qnn_linear_levels(o_.bits, o_.min, o_.max, o_.grid);
  }
  std::string label() const override { return "qnn_linear(grid=" + grid_name() + ")"; }
  nlohmann::json config() const override {
    return {{"bits", o_.bits},
            {"min", float_to_json(o_.min)},
            {"max", float_to_json(o_.max)},
            {"grid", grid_name()}};
  }
  static QuantizerPtr from_json(const nlohmann::json& spec, const std::string& path) {
    JsonArgs a(spec, path);
    a.allow({"name"});
    Options o;
    o.grid = a.choice("grid", {"paper", "min_max"}, "paper") == "paper" ? QnnGrid::Paper
                                                                       : QnnGrid::MinMax;
    o.bits = detail::read_bits(a, o.grid == QnnGrid::Paper ? 2 : 1, 16, o.bits);
    o.min = static_cast<float>(a.number("min", o.min));
    o.max = static_cast<float>(a.number("max", o.max));
    a.finish();
    try {
      (void)qnn_linear_levels(o.bits, o.min, o.max, o.grid);  // min < max, paper grid's step
    } catch (const Error& e) {
      json_fail(path, e.what());
    }
    return std::make_shared<QnnLinear>(o);
  }

 private:
  std::string grid_name() const { return o_.grid == QnnGrid::Paper ? "paper" : "min_max"; }
  Options o_;
};

/// "qnn_log": {"bits": 4, "max": 1.0}.
class QnnLog final : public Quantizer {
 public:
  struct Options {
    int bits = 4;
    float max = 1.f;
  };
  explicit QnnLog(Options o) : o_(o) {}
  Var operator()(const Var& x) const override { return qnn_log(x, o_.bits, o_.max); }
  std::string_view name() const override { return "qnn_log"; }
  int precision() const override { return o_.bits; }
  int64_t levels() const override { return (int64_t{1} << o_.bits) - 1; }
  bool is_elementwise() const override { return true; }
  /// 0 and ±2^e for the 2^(bits−1) − 1 exponents below AP2(max), as qnn_log computes them.
  std::vector<float> fixed_levels() const override {
    const float top = ap2(o_.max);
    const int n_exponents = (1 << (o_.bits - 1)) - 1;
    std::vector<float> v = {0.f};
    for (int i = 0; i < n_exponents; ++i) {
      v.push_back(std::ldexp(top, -i));
      v.push_back(-std::ldexp(top, -i));
    }
    std::sort(v.begin(), v.end());
    return v;
  }
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
